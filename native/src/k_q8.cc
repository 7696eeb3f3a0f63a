// int8 weights for decoding (--precision int8), one ISA build: C = A · Wᵀ (+ bias) with W in q8_0
// blocks (src/backend/q8-0.ts: per 32 weights of a row, an IEEE half scale d and 32 int8 q). A
// decode step is bound by the bytes of weights it reads, and a block is 34 bytes for 32 weights:
// 0.27 of fp32's bytes, 0.53 of bf16's. The product is computed from the blocks: each block's int8
// values are widened to fp32 in registers (vpmovsxbd + vcvtdq2ps on AVX-512, 16 at a time),
// multiplied by the fp32 activations, and the block's partial sum is scaled by its d into the
// accumulator. No float copy of the weights is ever made.
//
// Every output runs the same arithmetic whatever tile computes it (one accumulator vector, blocks in
// order, lanes summed by hsum, then the short last block), so results do not depend on the number
// of rows or threads: a decode step and a full recompute multiply alike.

#include "simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12 flags the deliberately undefined pass-through operand inside _mm512_cvtepi8_epi32.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace gl {
namespace GL_NS {
namespace {

constexpr long QK = 32;
constexpr long QB = 34;

// Rows of A per tile, within the vector registers: R × 4 accumulators, the 32 widened values of
// one block and a partial sum (32 zmm; 16 ymm; 16 xmm, where a block is 8 vectors).
#if VW == 16
constexpr int TR = 4;
#elif VW == 8
constexpr int TR = 2;
#else
constexpr int TR = 1;
#endif
constexpr int TC = 4;  // packed rows (output columns) per tile
/** Columns per task: a multiple of TC and of 16 (whole cache lines of C per task). */
constexpr long TASK_COLS = 64;
/** How far ahead of the blocks in use to fetch (as the bf16 streaming kernel does). */
constexpr long PREFETCH_BYTES = 8192;
/** Bytes of A rows per chunk: kept in L2 while every group of packed rows of a task passes. */
constexpr long CHUNK_BYTES = 256 * 1024;

/** The float of an IEEE half: F16C where the build has it, else exact integer arithmetic. */
inline float halfToFloat(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if GL_ISA >= 1
  return _cvtsh_ss(h);
#else
  const uint32_t em = h & 0x7fffu;
  uint32_t bits;
  if (em >= 0x7c00u) bits = 0x7f800000u | ((em & 0x3ffu) << 13);
  else if (em >= 0x0400u) bits = (em << 13) + 0x38000000u;
  else {
    const float sub = (float)em * 0x1p-24f;  // subnormal half: em · 2^-24
    std::memcpy(&bits, &sub, 4);
  }
  bits |= (uint32_t)(h & 0x8000u) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
#endif
}

/**
 * VW int8 values as floats (exact): sign-extended to int32 lanes, then converted. Written per ISA
 * because GCC lowers a generic int8 → float vector conversion to one scalar conversion per lane.
 */
inline V widen(const uint8_t* p) {
#if VW == 16
  return (V)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#elif VW == 8
  return (V)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
#elif defined(__SSE2__)
  int32_t four;
  std::memcpy(&four, p, 4);
  __m128i x = _mm_cvtsi32_si128(four);
  x = _mm_unpacklo_epi8(x, x);                       // each byte twice
  x = _mm_srai_epi32(_mm_unpacklo_epi16(x, x), 24);  // each byte four times, then its sign
  return (V)_mm_cvtepi32_ps(x);
#else
  const int8_t* q = reinterpret_cast<const int8_t*>(p);
  return V{(float)q[0], (float)q[1], (float)q[2], (float)q[3]};
#endif
}

/** The finished output: lanes summed, then the short last block (kt < 32 values) and the bias. */
inline float finish(V acc, const float* x, const uint8_t* w, long nb, long kt, float bias) {
  float s = hsum(acc);
  if (kt > 0) {
    const uint8_t* blk = w + nb * QB;
    const int8_t* q = reinterpret_cast<const int8_t*>(blk + 2);
    float t = 0;
    for (long j = 0; j < kt; j++) t += (float)q[j] * x[nb * QK + j];
    s += t * halfToFloat(blk);
  }
  return s + bias;
}

/**
 * C rows 0..R, columns 0..C (out, ldc) from R rows of A (lda = K) and C packed rows at w (rowBytes
 * apart). Per block and column, the 32 int8 values are widened once and used for all R rows: the
 * block's sum s = q·x is one chain of multiply-adds, then acc += s · d.
 */
template <int R, int C>
inline void tile(const float* A, long K, const uint8_t* w, long rowBytes, float* out, long ldc, const float* bias) {
  constexpr int NV = QK / VW;
  const long nb = K / QK, kt = K % QK;
  V acc[R][C];
  for (int i = 0; i < R; i++)
    for (int c = 0; c < C; c++) acc[i][c] = V{};
  for (long b = 0; b < nb; b++) {
    const float* x = A + b * QK;
    for (int c = 0; c < C; c++) {
      const uint8_t* blk = w + c * rowBytes + b * QB;
      // The packed rows of a task lie one after another: fetching 8 KiB ahead of each keeps
      // enough cache misses in flight (without it a thread streams at a third of the speed).
      __builtin_prefetch(blk + PREFETCH_BYTES);
      V q[NV];
      for (int v = 0; v < NV; v++) q[v] = widen(blk + 2 + v * VW);
      const V d = vset(halfToFloat(blk));
      for (int i = 0; i < R; i++) {
        V s = q[0] * vload(x + i * K);
        for (int v = 1; v < NV; v++) s += q[v] * vload(x + i * K + v * VW);
        acc[i][c] += s * d;
      }
    }
  }
  for (int i = 0; i < R; i++)
    for (int c = 0; c < C; c++) out[i * ldc + c] = finish(acc[i][c], A + i * K, w + c * rowBytes, nb, kt, bias ? bias[c] : 0.0f);
}

/** Rows i0..i1 of C, columns j0..j1 (a task), in tiles of TR × TC with single rows and columns at the edges. */
void columns(const float* A, const uint8_t* W, float* Cm, const float* bias, long i0, long i1, long j0, long j1, long N, long K, long rowBytes) {
  long j = j0;
  auto rowsOf = [&](auto tileR, auto tile1, long jj) {
    long i = i0;
    for (; i + TR <= i1; i += TR) tileR(A + i * K, W + jj * rowBytes, Cm + i * N + jj);
    for (; i < i1; i++) tile1(A + i * K, W + jj * rowBytes, Cm + i * N + jj);
  };
  const float* bj = nullptr;
  for (; j + TC <= j1; j += TC) {
    bj = bias ? bias + j : nullptr;
    rowsOf([&](const float* a, const uint8_t* w, float* o) { tile<TR, TC>(a, K, w, rowBytes, o, N, bj); },
           [&](const float* a, const uint8_t* w, float* o) { tile<1, TC>(a, K, w, rowBytes, o, N, bj); }, j);
  }
  for (; j < j1; j++) {
    bj = bias ? bias + j : nullptr;
    rowsOf([&](const float* a, const uint8_t* w, float* o) { tile<TR, 1>(a, K, w, rowBytes, o, N, bj); },
           [&](const float* a, const uint8_t* w, float* o) { tile<1, 1>(a, K, w, rowBytes, o, N, bj); }, j);
  }
}

}  // namespace

double kMatmulQ8(Ctx* c, const double* a) {
  const float* A = fptr(c, a[0]);
  const uint8_t* W = reinterpret_cast<const uint8_t*>(fptr(c, a[1]));
  float* Cm = fptr(c, a[2]);
  const float* bias = a[3] != 0 ? fptr(c, a[3]) : nullptr;
  const long M = (long)a[4], N = (long)a[5], K = (long)a[6];
  if (M <= 0 || N <= 0) return 0;
  const long rowBytes = (K + QK - 1) / QK * QB;
  const long tasks = (N + TASK_COLS - 1) / TASK_COLS;
  // Any product above ~64 KiB of weights is worth a second stream (decode reads every matrix once).
  const int threads = ((double)M * N * K >= MIN_MACS / 4 || c->splitAll) ? c->threads : 1;
  const long chunk = std::max<long>(TR, CHUNK_BYTES / std::max<long>(1, K * 4) / TR * TR);
  for (long i0 = 0; i0 < M; i0 += chunk) {
    const long i1 = std::min(M, i0 + chunk);
    parallelFor(threads, tasks, [&](long t, int) {
      columns(A, W, Cm, bias, i0, i1, t * TASK_COLS, std::min(N, (t + 1) * TASK_COLS), N, K, rowBytes);
    });
  }
  return 0;
}

}  // namespace GL_NS
}  // namespace gl
