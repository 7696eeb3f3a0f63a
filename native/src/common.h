// Shared declarations of the genlab native addon: the per-device context and the table every ISA
// build fills in. Kernel ids, names and enums come from kernels.gen.h (generated from the kernel
// spec, src/backend/kernel-spec.ts).
//
// A kernel call passes its arguments through a small block of doubles inside the device memory
// (Ctx::args) that JavaScript writes before calling run(ctx, kernel): one N-API call with two
// integers per kernel instead of a dozen argument conversions.

#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels.gen.h"

namespace gl {

/** Fixed offsets of the shape/stride arrays inside the args block (copyStrided, binary). */
constexpr int ARG_SHAPE = 8;
constexpr int ARG_STRIDES_A = 16;
constexpr int ARG_STRIDES_B = 24;
constexpr int MAX_DIMS = 8;
constexpr int ARGS_DOUBLES = 64;

/** How matmul treats its operands. */
enum Bf16Kind : int {
  BF16_NONE = 0,      // fp32 operands
  BF16_EMULATED = 1,  // operands rounded to bf16 while packing, fp32 FMA (every ISA)
  BF16_AVX512 = 2,    // vdpbf16ps (AVX512-BF16)
  BF16_AMX = 3,       // AMX tiles (tdpbf16ps)
  BF16_AMX_EMULATED = 4,  // the AMX code path with tile instructions emulated in C++ (tests)
};

struct Ctx {
  float* base;       // element 0 of the device memory
  double* args;      // ARGS_DOUBLES doubles inside the memory
  int threads;       // threads a call may use (the caller included)
  int bf16;          // Bf16Kind
  bool splitAll;     // split every call across threads, however small (tests)
};

typedef double (*KernelFn)(Ctx* c, const double* a);

struct KernelTable {
  KernelFn fns[K_COUNT];
};

// One table per ISA build (k_table.cc compiled once per ISA).
namespace isa_portable { const KernelTable* table(); }
namespace isa_avx2 { const KernelTable* table(); }
namespace isa_avx512 { const KernelTable* table(); }

/**
 * The bf16 micro-kernels that need their own instruction sets (gemm_bf16.cc, gemm_amx.cc).
 * Each computes C[0..mr)[0..nr) (ldc) from packed panels for one kc chunk; see gemm.h.
 */
struct Bf16Gemm;

inline float* fptr(Ctx* c, double p) { return c->base + (size_t)p; }
inline int32_t* iptr(Ctx* c, double p) { return reinterpret_cast<int32_t*>(c->base) + (size_t)p; }

}  // namespace gl
