// The native thread pool: persistent workers woken per call (a short spin, then a futex wait
// through std::atomic::wait), tasks claimed from a shared counter so a worker the OS runs late
// simply takes fewer of them. The calling thread is thread 0 and works too. Each thread owns a
// fixed scratch block allocated once, so kernels never allocate per call.

#pragma once
#include <cstddef>
#include <type_traits>

namespace gl {

typedef void (*TaskFn)(void* ctx, long task, int thread);

/** Bytes of scratch each thread owns (packing panels, attention blocks, partial sums). */
constexpr size_t SCRATCH_BYTES = size_t(6) << 20;

/** Most threads a call may use. */
constexpr int MAX_THREADS = 64;

/** Makes sure `threads` threads (the caller + threads−1 workers) exist with their scratch; false when out of memory. */
bool poolEnsure(int threads);

/** Runs fn(ctx, t, thread) for t in [0, ntasks) on up to `threads` threads; returns when done. */
void poolRun(int threads, long ntasks, TaskFn fn, void* ctx);

/** 64-byte aligned scratch of a thread (valid for threads poolEnsure created). */
void* threadScratch(int thread);

/** Workers started so far + 1. */
int poolSize();

/** Stops and joins the workers (process exit). */
void poolShutdown();

/** Runs f(task, thread) for every task, in parallel when threads > 1 and ntasks > 1. */
template <class F>
inline void parallelFor(int threads, long ntasks, F&& f) {
  if (threads <= 1 || ntasks <= 1) {
    for (long t = 0; t < ntasks; t++) f(t, 0);
    return;
  }
  typedef std::remove_reference_t<F> Fn;
  poolRun(threads, ntasks, [](void* p, long t, int th) { (*static_cast<Fn*>(p))(t, th); }, const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace gl
