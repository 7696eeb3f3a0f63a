// Shared declarations of the genlab native addon: the kernel ids (the order TypeScript's
// native-protocol.ts uses), the per-device context and the table every ISA build fills in.
//
// A kernel call passes its arguments through a small block of doubles inside the device memory
// (Ctx::args) that JavaScript writes before calling run(ctx, kernel): one N-API call with two
// integers per kernel instead of a dozen argument conversions.

#pragma once
#include <cstddef>
#include <cstdint>

namespace gl {

enum KernelId : int {
  K_FILL,
  K_COPY_STRIDED,
  K_BINARY,
  K_AFFINE,
  K_AXPY,
  K_UNARY,
  K_UNARY_BACKWARD,
  K_REDUCE,
  K_MATMUL,
  K_EMBEDDING_FORWARD,
  K_EMBEDDING_BACKWARD,
  K_LAYER_NORM_FORWARD,
  K_LAYER_NORM_BACKWARD,
  K_SOFTMAX_FORWARD,
  K_SOFTMAX_BACKWARD,
  K_ATTENTION_FORWARD,
  K_ATTENTION_BACKWARD,
  K_CROSS_ENTROPY_FORWARD,
  K_CROSS_ENTROPY_BACKWARD,
  K_DROPOUT_FORWARD,
  K_DROPOUT_BACKWARD,
  K_ADAMW,
  K_SUM_SQUARES,
  K_PACK_BF16,
  K_MATMUL_BF16,
  K_COUNT
};

/** Names in KernelId order; the TypeScript side checks its own list against this one at load. */
extern const char* const kKernelNames[K_COUNT];

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
