// Thread pool: see pool.h. Each worker has its own go/done words, so the caller wakes exactly the
// workers a call uses and waits for exactly those; a worker never sees another call's job.

#include "pool.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpuRelax() { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpuRelax() { asm volatile("yield"); }
#else
static inline void cpuRelax() {}
#endif

namespace gl {
namespace {

// An idle worker polls for ~1 ms before it sleeps: decoding runs ~25 kernels per token with
// JavaScript in between, and waking a sleeping thread costs tens of µs in a VM, more than a small
// kernel takes. Every 256 pauses (~3 µs) a polling thread yields, so on a machine shared with other
// jobs, or when the OS has put a worker and the caller on one core, the thread it waits for can run.
constexpr auto SPIN_TIME = std::chrono::microseconds(1000);
constexpr unsigned YIELD_EVERY = 256;

struct alignas(64) Worker {
  std::atomic<uint32_t> go{0};
  std::atomic<uint32_t> done{0};
  std::thread thread;
};

struct Job {
  TaskFn fn;
  void* ctx;
  long ntasks;
};

Worker* workers[MAX_THREADS];  // [0] unused: thread 0 is the caller
void* scratch[MAX_THREADS];
int started = 1;
uint32_t generation = 0;
Job job;
alignas(64) std::atomic<long> nextTask{0};
std::atomic<bool> stopping{false};
std::mutex growLock;

void runTasks(int thread) {
  long t;
  while ((t = nextTask.fetch_add(1, std::memory_order_relaxed)) < job.ntasks) job.fn(job.ctx, t, thread);
}

void workerLoop(int id) {
  Worker& w = *workers[id];
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    unsigned spins = 0;
    auto start = std::chrono::steady_clock::now();
    while ((g = w.go.load(std::memory_order_acquire)) == seen) {
      cpuRelax();
      if (++spins % YIELD_EVERY) continue;
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() - start < SPIN_TIME) continue;
      w.go.wait(seen, std::memory_order_acquire);
      start = std::chrono::steady_clock::now();
    }
    seen = g;
    if (stopping.load(std::memory_order_acquire)) return;
    runTasks(id);
    w.done.store(g, std::memory_order_release);
  }
}

void* allocScratch() { return std::aligned_alloc(64, SCRATCH_BYTES); }

}  // namespace

bool poolEnsure(int threads) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  std::lock_guard<std::mutex> lock(growLock);
  if (!scratch[0] && !(scratch[0] = allocScratch())) return false;
  while (started < threads) {
    int id = started;
    if (!(scratch[id] = allocScratch())) return false;
    workers[id] = new (std::nothrow) Worker();
    if (!workers[id]) return false;
    workers[id]->thread = std::thread(workerLoop, id);
    started++;
  }
  return true;
}

void poolRun(int threads, long ntasks, TaskFn fn, void* ctx) {
  if (threads > started) threads = started;
  if (threads > ntasks) threads = (int)ntasks;
  if (threads <= 1) {
    for (long t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  job.fn = fn;
  job.ctx = ctx;
  job.ntasks = ntasks;
  nextTask.store(0, std::memory_order_relaxed);
  uint32_t g = ++generation;
  if (g == 0) g = ++generation;  // 0 is every worker's initial "seen"
  for (int i = 1; i < threads; i++) {
    workers[i]->go.store(g, std::memory_order_release);
    workers[i]->go.notify_one();
  }
  runTasks(0);
  for (int i = 1; i < threads; i++) {
    unsigned spins = 0;
    while (workers[i]->done.load(std::memory_order_acquire) != g) {
      cpuRelax();
      if (++spins % YIELD_EVERY == 0) std::this_thread::yield();
    }
  }
}

void* threadScratch(int thread) { return scratch[thread]; }

int poolSize() { return started; }

void poolShutdown() {
  std::lock_guard<std::mutex> lock(growLock);
  stopping.store(true, std::memory_order_release);
  uint32_t g = ++generation;
  for (int i = 1; i < started; i++) {
    workers[i]->go.store(g, std::memory_order_release);
    workers[i]->go.notify_one();
  }
  for (int i = 1; i < started; i++) {
    workers[i]->thread.join();
    delete workers[i];
    workers[i] = nullptr;
    std::free(scratch[i]);
    scratch[i] = nullptr;
  }
  started = 1;
}

}  // namespace gl
