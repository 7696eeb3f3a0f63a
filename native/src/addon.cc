// The Node-API surface of the native backend.
//
// A context is one device: a linear memory, the kernel table of the chosen instruction set, a
// thread count and the matmul precision. The memory is an ArrayBuffer JavaScript allocates at its
// full reserved size (16 GiB by default): its pages are untouched zero pages until used, it never
// moves, so the kernels hold one base pointer, and it lives as long as the context handle (which
// holds it as a property). Element 0 (the base) is the buffer's first page boundary, so the
// allocator's 64-byte blocks are cache-line aligned; pointers are element indices from the base,
// offset in size_t.
//
// Why JavaScript allocates it: in Node 20 an external ArrayBuffer (napi_create_external_arraybuffer)
// is made as a Buffer, which stops at 4 GiB, while `new ArrayBuffer(n)` goes to 16 GiB and more
// (v8::ArrayBuffer::New from C++ would end the process on failure instead of throwing). create()
// then maps the buffer's whole pages afresh with MAP_NORESERVE: the allocator's mapping counts in
// full against the overcommit heuristic, so a process holding two such buffers (adjacent mappings
// merge) could no longer fork, e.g. to spawn a child process. The new pages are zero, as the
// untouched ones were; the buffer's owner unmaps them with the rest when it frees the buffer.
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

constexpr size_t OS_PAGE = 4096;
constexpr size_t ARGS_OFFSET = 64;  // bytes; element 0 stays unused (Ptr 0 = none)
constexpr int MAX_CONTEXTS = 4096;
constexpr int MADV_POPULATE_WRITE_ = 23;  // <sys/mman.h> of older libcs lacks the name

enum Isa : int { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AMX = 3 };
const char* const kIsaNames[] = {"portable", "avx2", "avx512", "amx"};

struct Slot {
  Ctx ctx;
  const KernelTable* table;
  char* mem;
  size_t bytes;
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

// The handle and the memory it holds become garbage together; no kernel runs on the slot after.
void finalizeHandle(napi_env, void*, void* hint) { slots[(intptr_t)hint] = Slot(); }

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

/** create(isa, threads, bf16Kind, splitAll, memory: ArrayBuffer) → { id, handle, baseOffset, argsOffset } */
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!getArgs(env, info, 5, argv)) return nullptr;
  const int isa = (int)num(env, argv[0]);
  const int threads = (int)num(env, argv[1]);
  const int bf16 = (int)num(env, argv[2]);
  bool splitAll = false;
  napi_get_value_bool(env, argv[3], &splitAll);
  bool isBuffer = false;
  napi_is_arraybuffer(env, argv[4], &isBuffer);
  void* mem = nullptr;
  size_t bytes = 0;
  if (!isBuffer || napi_get_arraybuffer_info(env, argv[4], &mem, &bytes) != napi_ok) {
    return throwError(env, "genlab native: create() takes the device memory as an ArrayBuffer");
  }
  const size_t pad = (OS_PAGE - (uintptr_t)mem % OS_PAGE) % OS_PAGE;
  if (bytes < pad + OS_PAGE) return throwError(env, "genlab native: the device memory's ArrayBuffer is too small (it needs two pages or more)");
  const size_t usable = (bytes - pad) / OS_PAGE * OS_PAGE;
  if (!isaSupported(isa)) return throwError(env, "genlab native: this CPU (or OS) does not support the requested instruction set");
  if (!bf16Supported(bf16, isa)) return throwError(env, "genlab native: this CPU does not support the requested bf16 kernel");
  if (threads < 1 || threads > MAX_THREADS) return throwRange(env, "genlab native: threads must be in [1, 64]");
  if (!poolEnsure(threads)) return throwError(env, "genlab native: out of memory for thread scratch");
  int id = -1;
  for (int i = 0; i < MAX_CONTEXTS; i++)
    if (!slots[i].used) {
      id = i;
      break;
    }
  if (id < 0) return throwError(env, "genlab native: too many devices alive at once; close or drop some");
  char* base = static_cast<char*>(mem) + pad;
  if (mmap(base, usable, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "genlab native: cannot map the device memory's %.2f GiB (%s); pass a smaller maxMemoryBytes", usable / 1073741824.0,
                  std::strerror(errno));
    return throwError(env, msg);
  }
  Slot& s = slots[id];
  s = Slot();
  s.used = true;
  s.mem = base;
  s.bytes = usable;
  s.isa = isa;
  s.table = tableFor(isa);
  s.ctx.base = reinterpret_cast<float*>(s.mem);
  s.ctx.args = reinterpret_cast<double*>(s.mem + ARGS_OFFSET);
  s.ctx.threads = threads;
  s.ctx.bf16 = bf16;
  s.ctx.splitAll = splitAll;
  napi_value handle, result;
  napi_create_object(env, &handle);
  // The memory lives as long as the handle (which every kernel wrapper keeps).
  setNamed(env, handle, "memory", argv[4]);
  napi_wrap(env, handle, nullptr, finalizeHandle, (void*)(intptr_t)id, nullptr);
  napi_create_object(env, &result);
  setNamed(env, result, "id", number(env, id));
  setNamed(env, result, "handle", handle);
  setNamed(env, result, "baseOffset", number(env, (double)pad));
  setNamed(env, result, "argsOffset", number(env, (double)ARGS_OFFSET));
  return result;
}

/**
 * prefault(id, fromByte, toByte): faults in the pages of bytes [from, to) after the base with one
 * call (Linux 5.14+) instead of one page fault per page later; the allocator calls it for memory
 * it is about to use. Advisory: false where the kernel lacks MADV_POPULATE_WRITE or refused.
 */
napi_value Prefault(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!getArgs(env, info, 3, argv)) return nullptr;
  Slot* s = slotOf(env, argv[0]);
  if (!s) return nullptr;
  const double from = num(env, argv[1]), to = num(env, argv[2]);
  if (!(from >= 0 && from <= to && to <= (double)s->bytes)) return throwRange(env, "genlab native: prefault() range lies outside the device memory");
  // Whole OS pages inside the range.
  const uintptr_t lo = ((uintptr_t)s->mem + (size_t)from + OS_PAGE - 1) / OS_PAGE * OS_PAGE;
  const uintptr_t hi = ((uintptr_t)s->mem + (size_t)to) / OS_PAGE * OS_PAGE;
  bool ok = hi <= lo || madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE_) == 0;
  return boolean(env, ok);
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
             {"prefault", Prefault},   {"run", Run},                 {"configure", Configure}};
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
