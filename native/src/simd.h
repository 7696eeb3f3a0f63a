// Vector helpers for the kernels compiled once per instruction set (k_*.cc). They use GCC/Clang
// vector extensions, so one source serves every build: with -mavx512f a V is one zmm register
// (16 floats), with -mavx2 -mfma one ymm (8), and in the portable build one 128-bit register (4),
// which the compiler lowers to SSE2 on x86-64 or NEON on arm64. `a * b + c` contracts to FMA
// where the target has it (GNU mode's -ffp-contract=fast).
//
// GL_ISA selects the build: 0 portable, 1 AVX2+FMA, 2 AVX-512.

#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common.h"
#include "pool.h"

#ifndef GL_ISA
#error "GL_ISA must be defined (0 portable, 1 avx2, 2 avx512)"
#endif

#if GL_ISA == 2
#define GL_NS isa_avx512
#define VW 16
#elif GL_ISA == 1
#define GL_NS isa_avx2
#define VW 8
#else
#define GL_NS isa_portable
#define VW 4
#endif

namespace gl {
namespace GL_NS {

typedef float V __attribute__((vector_size(VW * 4)));
typedef int32_t VI __attribute__((vector_size(VW * 4)));
typedef uint32_t VU __attribute__((vector_size(VW * 4)));
typedef double VD __attribute__((vector_size(VW * 4)));  // VW/2 doubles
typedef float Vu __attribute__((vector_size(VW * 4), aligned(4), may_alias));
typedef int32_t VIu __attribute__((vector_size(VW * 4), aligned(4), may_alias));

static inline V vload(const float* p) { return *reinterpret_cast<const Vu*>(p); }
static inline void vstore(float* p, V v) { *reinterpret_cast<Vu*>(p) = v; }
static inline VI viload(const int32_t* p) { return *reinterpret_cast<const VIu*>(p); }
// `x - 0` is exactly x for every x (-0 included) and folds away, leaving one broadcast; `x + 0`
// would not fold (it turns -0 into +0).
static inline V vset(float x) { return x - V{}; }
static inline VI viset(int32_t x) { return x + VI{}; }

static inline V vmax(V a, V b) { return a > b ? a : b; }
static inline V vmin(V a, V b) { return a < b ? a : b; }
static inline V vabs(V a) { return (V)((VI)a & viset(0x7fffffff)); }

static inline float hsum(V v) {
  float s = 0;
  for (int i = 0; i < VW; i++) s += v[i];
  return s;
}

static inline float hmax(V v) {
  float m = v[0];
  for (int i = 1; i < VW; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/** Sum of squares of a float vector, accumulated in two double vectors (exact products). */
static inline void sqAccumulate(V x, VD& lo, VD& hi) {
  typedef float H __attribute__((vector_size(VW * 2)));
  H a, b;
  std::memcpy(&a, &x, sizeof(H));
  std::memcpy(&b, reinterpret_cast<const char*>(&x) + sizeof(H), sizeof(H));
  VD da = __builtin_convertvector(a, VD);
  VD db = __builtin_convertvector(b, VD);
  lo += da * da;
  hi += db * db;
}

static inline double hsumd(VD v) {
  double s = 0;
  for (int i = 0; i < VW / 2; i++) s += v[i];
  return s;
}

/**
 * e^x with float32 accuracy (a few ulp): x = n·ln2 + r, e^r from the Cephes expf polynomial,
 * 2^n put into the exponent bits. Underflow gives 0, overflow +Inf, NaN stays NaN.
 */
static inline V vexp(V x) {
  const V hi = vset(88.72283905206835f);
  const V lo = vset(-87.3365447504f);
  V xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick (no rounding intrinsic needed).
  const V magic = vset(12582912.0f);
  V n = (xc * vset(1.44269504088896341f) + magic) - magic;
  V r = xc - n * vset(0.693359375f);
  r = r - n * vset(-2.12194440e-4f);
  V r2 = r * r;
  V p = vset(1.9875691500e-4f);
  p = p * r + vset(1.3981999507e-3f);
  p = p * r + vset(8.3334519073e-3f);
  p = p * r + vset(4.1665795894e-2f);
  p = p * r + vset(1.6666665459e-1f);
  p = p * r + vset(5.0000001201e-1f);
  p = p * r2 + r + vset(1.0f);
  // 2^n as two factors, so n = 128 (results just below FLT_MAX) does not overflow the exponent.
  VI ni = __builtin_convertvector(n, VI);
  VI n1 = ni >> 1;
  VI n2 = ni - n1;
  V y = p * (V)((n1 + viset(127)) << 23) * (V)((n2 + viset(127)) << 23);
  y = x < lo ? vset(0.0f) : y;
  y = x > hi ? vset(INFINITY) : y;
  return y;
}

/** tanh with float32 accuracy: a Cephes polynomial near 0, 1 − 2/(e^{2|x|} + 1) elsewhere. */
static inline V vtanh(V x) {
  V ax = vabs(x);
  V z = x * x;
  V p = vset(-5.70498872745e-3f);
  p = p * z + vset(2.06390887954e-2f);
  p = p * z + vset(-5.37397155531e-2f);
  p = p * z + vset(1.33314422036e-1f);
  p = p * z + vset(-3.33332819422e-1f);
  V small = p * z * x + x;
  V e = vexp(ax * vset(2.0f));
  V big = vset(1.0f) - vset(2.0f) / (e + vset(1.0f));
  big = (V)(((VI)big & viset(0x7fffffff)) | ((VI)x & viset((int32_t)0x80000000)));
  V y = ax < vset(0.625f) ? small : big;
  return x != x ? x : y;
}

// Scalar versions for loop tails, matching the vector ones (lane 0 of a broadcast).
static inline float sexp(float x) { return vexp(vset(x))[0]; }
static inline float stanh(float x) { return vtanh(vset(x))[0]; }

constexpr float GELU_C = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float GELU_A = 0.044715f;

static inline V vgelu(V x) {
  V t = vtanh(vset(GELU_C) * (x + vset(GELU_A) * x * x * x));
  return vset(0.5f) * x * (vset(1.0f) + t);
}

static inline V vgeluGrad(V x) {
  V t = vtanh(vset(GELU_C) * (x + vset(GELU_A) * x * x * x));
  return vset(0.5f) * (vset(1.0f) + t) + vset(0.5f) * x * (vset(1.0f) - t * t) * vset(GELU_C) * (vset(1.0f) + vset(3.0f * GELU_A) * x * x);
}

/** Rounds float32 to the nearest bfloat16 (ties to even), kept as a float32; NaN stays NaN. */
static inline V vroundBf16(V x) {
  VU b = (VU)x;
  VU r = (b + VU{} + 0x7fffu + ((b >> 16) & 1u)) & (VU{} + 0xffff0000u);
  V y = (V)r;
  return x != x ? (V)(b | (VU{} + 0x00400000u)) : y;
}

static inline float sroundBf16(float x) { return vroundBf16(vset(x))[0]; }

/** Tasks for `work` units (elements, multiply-adds) when a call is worth splitting above `min`. */
static inline long tasksFor(const Ctx* c, double work, double min, long units, long perThread = 4) {
  if (c->threads <= 1 || units < 2) return 1;
  if (work < min && !c->splitAll) return 1;
  long t = (long)c->threads * perThread;
  return t < units ? t : units;
}

/** [begin, end) of part `t` of `parts` over n items, in multiples of `align`. */
static inline void splitRange(long n, long parts, long t, long align, long& begin, long& end) {
  long blocks = (n + align - 1) / align;
  long b0 = blocks * t / parts;
  long b1 = blocks * (t + 1) / parts;
  begin = b0 * align;
  end = b1 * align;
  if (begin > n) begin = n;
  if (end > n) end = n;
}

// Work below which a call stays on the calling thread (waking a worker costs a few µs).
constexpr double MIN_STREAM = 1 << 15;
constexpr double MIN_HEAVY = 1 << 13;
constexpr double MIN_MACS = 1 << 18;

}  // namespace GL_NS
}  // namespace gl
