// The Node-API surface of the native backend.
//
// A context is one device: a linear memory (a PROT_NONE reservation of up to 4 GiB, committed
// 64 KiB pages at a time, so it never moves and the kernels hold one base pointer), the kernel
// table of the chosen instruction set, a thread count and the matmul precision. JavaScript sees
// the committed part as an external ArrayBuffer; growing hands out a new, longer one over the
// same memory. The memory is unmapped once the context handle and every buffer over it have been
// garbage-collected.
//
// run(id, kernel) executes one kernel with the arguments JavaScript wrote into the context's
// args block (at byte ARGS_OFFSET of the memory).

#include <node_api.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "common.h"
#include "cpu.h"
#include "pool.h"

namespace gl {

namespace {

constexpr size_t PAGE = 65536;
constexpr size_t MAX_BYTES = size_t(1) << 32;  // Node's largest ArrayBuffer
constexpr size_t ARGS_OFFSET = 64;             // bytes; element 0 stays unused (Ptr 0 = none)
constexpr int MAX_CONTEXTS = 4096;
constexpr int MADV_POPULATE_WRITE_ = 23;  // <sys/mman.h> of older libcs lacks the name

enum Isa : int { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AMX = 3 };
const char* const kIsaNames[] = {"portable", "avx2", "avx512", "amx"};

struct Slot {
  Ctx ctx;
  const KernelTable* table;
  char* mem;
  size_t reserved;
  size_t committed;
  int refs;  // the handle object + every ArrayBuffer handed out
  int isa;
  bool used;
};

Slot slots[MAX_CONTEXTS];
// Kernel calls from different JavaScript threads (worker_threads) share the pool and thread 0's
// scratch, so they take turns.
std::mutex callLock;

napi_value throwError(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

napi_value throwRange(napi_env env, const char* msg) {
  napi_throw_range_error(env, nullptr, msg);
  return nullptr;
}

void unref(int id) {
  Slot& s = slots[id];
  if (--s.refs > 0) return;
  munmap(s.mem, s.reserved);
  s = Slot();
}

void finalizeBuffer(napi_env, void*, void* hint) { unref((int)(intptr_t)hint); }
void finalizeHandle(napi_env, void*, void* hint) { unref((int)(intptr_t)hint); }

bool isaSupported(int isa) {
  const CpuFeatures& f = cpuFeatures();
  switch (isa) {
    case ISA_PORTABLE: return true;
    case ISA_AVX2: return f.avx2;
    case ISA_AVX512: return f.avx512;
    case ISA_AMX: return f.amxGranted;
    default: return false;
  }
}

bool bf16Supported(int kind, int isa) {
  const CpuFeatures& f = cpuFeatures();
  switch (kind) {
    case BF16_NONE:
    case BF16_EMULATED: return true;
#if defined(__x86_64__)
    case BF16_AVX512: return f.avx512bf16 && isa >= ISA_AVX512;
    case BF16_AMX: return f.amxGranted && isa == ISA_AMX;
    case BF16_AMX_EMULATED: return true;
#endif
    default: return false;
  }
}

const KernelTable* tableFor(int isa) {
#if defined(__x86_64__)
  if (isa >= ISA_AVX512) return isa_avx512::table();
  if (isa == ISA_AVX2) return isa_avx2::table();
#endif
  (void)isa;
  return isa_portable::table();
}

napi_value makeBuffer(napi_env env, int id) {
  Slot& s = slots[id];
  napi_value ab;
  if (napi_create_external_arraybuffer(env, s.mem, s.committed, finalizeBuffer, (void*)(intptr_t)id, &ab) != napi_ok) return nullptr;
  s.refs++;
  return ab;
}

bool getArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_type_error(env, nullptr, "genlab native: missing arguments");
    return false;
  }
  return true;
}

double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

Slot* slotOf(napi_env env, napi_value v) {
  int32_t id = -1;
  napi_get_value_int32(env, v, &id);
  if (id < 0 || id >= MAX_CONTEXTS || !slots[id].used) {
    napi_throw_error(env, nullptr, "genlab native: unknown or released context");
    return nullptr;
  }
  return &slots[id];
}

void setNamed(napi_env env, napi_value obj, const char* name, napi_value v) { napi_set_named_property(env, obj, name, v); }
napi_value boolean(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}
napi_value number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}
napi_value string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

/** features() → { avx2, avx512, avx512bf16, amxHardware, amx, amxStatus, isas, cores } */
napi_value Features(napi_env env, napi_callback_info) {
  const CpuFeatures& f = cpuFeatures();
  napi_value o, isas;
  napi_create_object(env, &o);
  setNamed(env, o, "avx2", boolean(env, f.avx2));
  setNamed(env, o, "avx512", boolean(env, f.avx512));
  setNamed(env, o, "avx512bf16", boolean(env, f.avx512bf16));
  setNamed(env, o, "avx512bf16Speedup", number(env, f.avx512bf16Speedup));
  setNamed(env, o, "amxHardware", boolean(env, f.amxHardware));
  setNamed(env, o, "amx", boolean(env, f.amxGranted));
  setNamed(env, o, "amxStatus", string(env, f.amxStatus));
  napi_create_array(env, &isas);
  uint32_t n = 0;
  for (int i = 0; i <= ISA_AMX; i++)
    if (isaSupported(i)) napi_set_element(env, isas, n++, string(env, kIsaNames[i]));
  setNamed(env, o, "isas", isas);
  setNamed(env, o, "cores", number(env, (double)std::thread::hardware_concurrency()));
  return o;
}

/** specHash() → KERNEL_SPEC_HASH of the spec this addon was built from. */
napi_value SpecHash(napi_env env, napi_callback_info) { return number(env, (double)KERNEL_SPEC_HASH); }

napi_value KernelNames(napi_env env, napi_callback_info) {
  napi_value arr;
  napi_create_array(env, &arr);
  for (uint32_t i = 0; i < K_COUNT; i++) napi_set_element(env, arr, i, string(env, kKernelNames[i]));
  return arr;
}

/** create(isa, threads, bf16Kind, splitAll, initialBytes) → { id, handle, buffer, argsOffset } */
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!getArgs(env, info, 5, argv)) return nullptr;
  const int isa = (int)num(env, argv[0]);
  const int threads = (int)num(env, argv[1]);
  const int bf16 = (int)num(env, argv[2]);
  bool splitAll = false;
  napi_get_value_bool(env, argv[3], &splitAll);
  const double initial = num(env, argv[4]);
  if (!isaSupported(isa)) return throwError(env, "genlab native: this CPU (or OS) does not support the requested instruction set");
  if (!bf16Supported(bf16, isa)) return throwError(env, "genlab native: this CPU does not support the requested bf16 kernel");
  if (threads < 1 || threads > MAX_THREADS) return throwRange(env, "genlab native: threads must be in [1, 64]");
  if (!(initial >= 0) || initial > (double)MAX_BYTES) return throwRange(env, "genlab native: initial memory must be within 4 GiB");
  if (!poolEnsure(threads)) return throwError(env, "genlab native: out of memory for thread scratch");
  int id = -1;
  for (int i = 0; i < MAX_CONTEXTS; i++)
    if (!slots[i].used) {
      id = i;
      break;
    }
  if (id < 0) return throwError(env, "genlab native: too many devices alive at once; close or drop some");
  void* mem = mmap(nullptr, MAX_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return throwError(env, "genlab native: cannot reserve 4 GiB of address space for the device memory");
  size_t committed = ((size_t)initial + PAGE - 1) / PAGE * PAGE;
  if (committed < PAGE) committed = PAGE;
  if (mprotect(mem, committed, PROT_READ | PROT_WRITE) != 0) {
    munmap(mem, MAX_BYTES);
    return throwError(env, "genlab native: cannot commit the initial device memory");
  }
  Slot& s = slots[id];
  s = Slot();
  s.used = true;
  s.mem = static_cast<char*>(mem);
  s.reserved = MAX_BYTES;
  s.committed = committed;
  s.isa = isa;
  s.table = tableFor(isa);
  s.refs = 1;  // the handle
  s.ctx.base = reinterpret_cast<float*>(mem);
  s.ctx.args = reinterpret_cast<double*>(s.mem + ARGS_OFFSET);
  s.ctx.threads = threads;
  s.ctx.bf16 = bf16;
  s.ctx.splitAll = splitAll;
  napi_value handle, result, buffer;
  napi_create_object(env, &handle);
  napi_wrap(env, handle, nullptr, finalizeHandle, (void*)(intptr_t)id, nullptr);
  buffer = makeBuffer(env, id);
  if (!buffer) return throwError(env, "genlab native: cannot create the memory's ArrayBuffer");
  napi_create_object(env, &result);
  setNamed(env, result, "id", number(env, id));
  setNamed(env, result, "handle", handle);
  setNamed(env, result, "buffer", buffer);
  setNamed(env, result, "argsOffset", number(env, (double)ARGS_OFFSET));
  return result;
}

/** grow(id, deltaPages) → a new ArrayBuffer over the whole (longer) memory. */
napi_value Grow(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!getArgs(env, info, 2, argv)) return nullptr;
  Slot* s = slotOf(env, argv[0]);
  if (!s) return nullptr;
  const double delta = num(env, argv[1]);
  if (!(delta >= 0)) return throwRange(env, "genlab native: grow() takes a non-negative page count");
  const double want = (double)s->committed + delta * PAGE;
  if (want > (double)s->reserved) return throwRange(env, "genlab native: device memory cannot grow beyond 4 GiB");
  const size_t bytes = (size_t)want;
  if (bytes > s->committed) {
    if (mprotect(s->mem + s->committed, bytes - s->committed, PROT_READ | PROT_WRITE) != 0) {
      return throwRange(env, "genlab native: the OS refused more device memory");
    }
    // The allocator grows the memory only when it is about to use it: fault the new pages in with
    // one call (Linux 5.14+) instead of one page fault per 4 KiB later. Advisory.
    madvise(s->mem + s->committed, bytes - s->committed, MADV_POPULATE_WRITE_);
    s->committed = bytes;
  }
  return makeBuffer(env, (int)(s - slots));
}

napi_value Run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t id = -1, k = -1;
  napi_get_value_int32(env, argv[0], &id);
  napi_get_value_int32(env, argv[1], &k);
  if (id < 0 || id >= MAX_CONTEXTS || !slots[id].used || k < 0 || k >= K_COUNT || !slots[id].table->fns[k]) {
    return throwError(env, "genlab native: run() got an unknown context or kernel id");
  }
  Slot& s = slots[id];
  double r;
  {
    std::lock_guard<std::mutex> lock(callLock);
    r = s.table->fns[k](&s.ctx, s.ctx.args);
  }
  return number(env, r);
}

/** configure(id, threads, bf16Kind) */
napi_value Configure(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!getArgs(env, info, 3, argv)) return nullptr;
  Slot* s = slotOf(env, argv[0]);
  if (!s) return nullptr;
  const int threads = (int)num(env, argv[1]);
  const int bf16 = (int)num(env, argv[2]);
  if (threads < 1 || threads > MAX_THREADS) return throwRange(env, "genlab native: threads must be in [1, 64]");
  if (!bf16Supported(bf16, s->isa)) return throwError(env, "genlab native: this CPU does not support the requested bf16 kernel");
  if (!poolEnsure(threads)) return throwError(env, "genlab native: out of memory for thread scratch");
  std::lock_guard<std::mutex> lock(callLock);
  s->ctx.threads = threads;
  s->ctx.bf16 = bf16;
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {{"features", Features}, {"kernelNames", KernelNames}, {"specHash", SpecHash}, {"create", Create},
             {"grow", Grow},         {"run", Run},                 {"configure", Configure}};
  for (const auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}

}  // namespace
}  // namespace gl

NAPI_MODULE(NODE_GYP_MODULE_NAME, gl::Init)
