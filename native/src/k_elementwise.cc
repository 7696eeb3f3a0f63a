// Elementwise kernels: fill, affine, axpy, activations and their gradients, dropout with the
// counter-based mask of src/backend/rng.ts, AdamW over a flat buffer, and sumSquares in float64.
// Streaming loops are plain C++ the compiler vectorises for each ISA build; the transcendental
// ones use the explicit vector helpers of simd.h.

#include "simd.h"

namespace gl {
namespace GL_NS {
namespace {

/** Runs f(begin, end) over [0, n), split across threads when n is worth it. */
template <class F>
void forRange(Ctx* c, long n, double minWork, F&& f) {
  long parts = tasksFor(c, (double)n, minWork, (n + 255) / 256);
  if (parts <= 1) {
    if (n > 0) f(0L, n);
    return;
  }
  parallelFor(c->threads, parts, [&](long t, int) {
    long b, e;
    splitRange(n, parts, t, 64, b, e);
    if (b < e) f(b, e);
  });
}

// A new UnaryOp needs a branch in unaryV and unaryGradV (withUnaryOp compiles the kernels once per
// member, so a missing branch fails the build), and in cheap() when it is memory-bound.
template <UnaryOp OP>
inline V unaryV(V x) {
  if constexpr (OP == UnaryOp::Gelu) return vgelu(x);
  else if constexpr (OP == UnaryOp::Relu) return x > vset(0.0f) ? x : vset(0.0f);
  else if constexpr (OP == UnaryOp::Tanh) return vtanh(x);
  else if constexpr (OP == UnaryOp::Exp) return vexp(x);
  else if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Silu) return x / (vset(1.0f) + vexp(-x));
  else static_assert(OP != OP, "unaryV lacks this UnaryOp");
}

template <UnaryOp OP>
inline V unaryGradV(V x) {
  if constexpr (OP == UnaryOp::Gelu) return vgeluGrad(x);
  else if constexpr (OP == UnaryOp::Relu) return x > vset(0.0f) ? vset(1.0f) : vset(0.0f);
  else if constexpr (OP == UnaryOp::Tanh) {
    V t = vtanh(x);
    return vset(1.0f) - t * t;
  } else if constexpr (OP == UnaryOp::Exp) return vexp(x);
  else if constexpr (OP == UnaryOp::Neg) return vset(-1.0f);
  else if constexpr (OP == UnaryOp::Silu) {
    // σ + x σ (1 − σ), with 1 − σ = e^−x σ (no cancellation as σ → 1)
    V e = vexp(-x);
    V s = vset(1.0f) / (vset(1.0f) + e);
    return s + x * e * s * s;
  } else static_assert(OP != OP, "unaryGradV lacks this UnaryOp");
}

/** Memory-bound activations split at the streaming threshold, transcendental ones earlier. */
constexpr bool cheap(UnaryOp op) { return op == UnaryOp::Relu || op == UnaryOp::Neg; }

template <UnaryOp OP>
void unaryRange(const float* x, float* out, long b, long e) {
  long i = b;
  for (; i + VW <= e; i += VW) vstore(out + i, unaryV<OP>(vload(x + i)));
  for (; i < e; i++) out[i] = unaryV<OP>(vset(x[i]))[0];
}

template <UnaryOp OP>
void unaryBackwardRange(const float* x, const float* g, float* gx, long b, long e) {
  long i = b;
  for (; i + VW <= e; i += VW) vstore(gx + i, vload(gx + i) + unaryGradV<OP>(vload(x + i)) * vload(g + i));
  for (; i < e; i++) gx[i] += unaryGradV<OP>(vset(x[i]))[0] * g[i];
}

inline uint32_t mix32(uint32_t x) {
  x = (x ^ (x >> 16)) * 0x85ebca6bu;
  x = (x ^ (x >> 13)) * 0xc2b2ae35u;
  return x ^ (x >> 16);
}

inline VU mix32v(VU x) {
  x = (x ^ (x >> 16)) * 0x85ebca6bu;
  x = (x ^ (x >> 13)) * 0xc2b2ae35u;
  return x ^ (x >> 16);
}

/**
 * keep(i) ⇔ dropoutUniform(seed, offset + i) >= p ⇔ (h >> 8) >= ceil(p · 2^24): compared as
 * integers, so the mask is bit-identical to the TypeScript one for any p.
 */
struct DropoutMask {
  uint32_t seedMix;
  uint32_t offset;
  uint32_t threshold;
  float scale;

  DropoutMask(double p, double seed, double off) {
    seedMix = mix32((uint32_t)(uint64_t)seed);
    offset = (uint32_t)(uint64_t)off;
    double t = std::ceil(p * 16777216.0);
    threshold = t < 0 ? 0 : t > 16777216.0 ? 16777217u : (uint32_t)t;
    scale = (float)(1.0 - p);
  }

  VI keepV(long i) const {
    VU iota;
    for (int l = 0; l < VW; l++) iota[l] = (uint32_t)l;
    VU idx = (VU{} + (offset + (uint32_t)i)) + iota;
    VU h = mix32v(((VU{} + seedMix) ^ idx) + 0x9e3779b9u);
    // Signed compare is safe: both sides are below 2^25.
    return (VI)(h >> 8) >= (VI{} + (int32_t)threshold);
  }

  bool keep(long i) const {
    uint32_t h = mix32((seedMix ^ (offset + (uint32_t)i)) + 0x9e3779b9u);
    return (h >> 8) >= threshold;
  }
};

}  // namespace

double kFill(Ctx* c, const double* a) {
  float* out = fptr(c, a[0]);
  long n = (long)a[1];
  float v = (float)a[2];
  // Zeroing (every new gradient buffer) goes through memset, which streams large blocks with
  // non-temporal stores instead of reading each line before writing it.
  const bool zero = v == 0.0f && !std::signbit(v);
  forRange(c, n, MIN_STREAM * 4, [&](long b, long e) {
    if (zero) std::memset(out + b, 0, (e - b) * sizeof(float));
    else
      for (long i = b; i < e; i++) out[i] = v;
  });
  return 0;
}

double kAffine(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  float* out = fptr(c, a[1]);
  long n = (long)a[2];
  float alpha = (float)a[3], beta = (float)a[4];
  forRange(c, n, MIN_STREAM, [&](long b, long e) {
    for (long i = b; i < e; i++) out[i] = alpha * x[i] + beta;
  });
  return 0;
}

double kAxpy(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  float* y = fptr(c, a[1]);
  long n = (long)a[2];
  float alpha = (float)a[3];
  forRange(c, n, MIN_STREAM, [&](long b, long e) {
    for (long i = b; i < e; i++) y[i] += alpha * x[i];
  });
  return 0;
}

double kUnary(Ctx* c, const double* a) {
  const float* x = fptr(c, a[1]);
  float* out = fptr(c, a[2]);
  long n = (long)a[3];
  withUnaryOp("unary", (int)a[0], [&](auto op) {
    forRange(c, n, cheap(op) ? MIN_STREAM : MIN_HEAVY, [&](long b, long e) { unaryRange<decltype(op)::value>(x, out, b, e); });
  });
  return 0;
}

double kUnaryBackward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[1]);
  const float* g = fptr(c, a[2]);
  float* gx = fptr(c, a[3]);
  long n = (long)a[4];
  withUnaryOp("unaryBackward", (int)a[0], [&](auto op) {
    forRange(c, n, cheap(op) ? MIN_STREAM : MIN_HEAVY, [&](long b, long e) { unaryBackwardRange<decltype(op)::value>(x, g, gx, b, e); });
  });
  return 0;
}

double kSwigluForward(Ctx* c, const double* a) {
  const float* gate = fptr(c, a[0]);
  const float* up = fptr(c, a[1]);
  float* out = fptr(c, a[2]);
  long n = (long)a[3];
  forRange(c, n, MIN_HEAVY, [&](long b, long e) {
    long i = b;
    for (; i + VW <= e; i += VW) vstore(out + i, unaryV<UnaryOp::Silu>(vload(gate + i)) * vload(up + i));
    for (; i < e; i++) out[i] = unaryV<UnaryOp::Silu>(vset(gate[i]))[0] * up[i];
  });
  return 0;
}

double kSwigluBackward(Ctx* c, const double* a) {
  const float* gate = fptr(c, a[0]);
  const float* up = fptr(c, a[1]);
  const float* g = fptr(c, a[2]);
  float* gg = a[3] != 0 ? fptr(c, a[3]) : nullptr;
  float* gu = a[4] != 0 ? fptr(c, a[4]) : nullptr;
  long n = (long)a[5];
  forRange(c, n, MIN_HEAVY, [&](long b, long e) {
    long i = b;
    for (; i + VW <= e; i += VW) {
      V x = vload(gate + i), go = vload(g + i);
      if (gg) vstore(gg + i, vload(gg + i) + unaryGradV<UnaryOp::Silu>(x) * vload(up + i) * go);
      if (gu) vstore(gu + i, vload(gu + i) + unaryV<UnaryOp::Silu>(x) * go);
    }
    for (; i < e; i++) {
      V x = vset(gate[i]);
      if (gg) gg[i] += unaryGradV<UnaryOp::Silu>(x)[0] * up[i] * g[i];
      if (gu) gu[i] += unaryV<UnaryOp::Silu>(x)[0] * g[i];
    }
  });
  return 0;
}

double kDropoutForward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  float* out = fptr(c, a[1]);
  long n = (long)a[2];
  DropoutMask mask(a[3], a[4], a[5]);
  const float s = mask.scale;
  forRange(c, n, MIN_HEAVY, [&](long b, long e) {
    long i = b;
    for (; i + VW <= e; i += VW) vstore(out + i, mask.keepV(i) ? vload(x + i) / s : vset(0.0f));
    for (; i < e; i++) out[i] = mask.keep(i) ? x[i] / s : 0.0f;
  });
  return 0;
}

double kDropoutBackward(Ctx* c, const double* a) {
  const float* g = fptr(c, a[0]);
  float* gx = fptr(c, a[1]);
  long n = (long)a[2];
  DropoutMask mask(a[3], a[4], a[5]);
  const float s = mask.scale;
  forRange(c, n, MIN_HEAVY, [&](long b, long e) {
    long i = b;
    // Dropped elements keep their exact bits (adding 0 would turn −0 into +0).
    for (; i + VW <= e; i += VW) {
      V cur = vload(gx + i);
      vstore(gx + i, mask.keepV(i) ? cur + vload(g + i) / s : cur);
    }
    for (; i < e; i++)
      if (mask.keep(i)) gx[i] += g[i] / s;
  });
  return 0;
}

double kAdamw(Ctx* c, const double* a) {
  float* __restrict p = fptr(c, a[0]);
  const float* __restrict g = fptr(c, a[1]);
  float* __restrict m = fptr(c, a[2]);
  float* __restrict v = fptr(c, a[3]);
  long n = (long)a[4];
  const float lr = (float)a[5], b1 = (float)a[6], b2 = (float)a[7], eps = (float)a[8], wd = (float)a[9];
  const float ib1 = (float)(1.0 / a[10]), ib2 = (float)(1.0 / a[11]);
  const float c1 = (float)(1.0 - a[6]), c2 = (float)(1.0 - a[7]);
  forRange(c, n, MIN_STREAM, [&](long b, long e) {
#pragma GCC ivdep
    for (long i = b; i < e; i++) {
      float gi = g[i];
      float mi = b1 * m[i] + c1 * gi;
      float vi = b2 * v[i] + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      float w = p[i];
      p[i] = w - lr * ((mi * ib1) / (std::sqrt(vi * ib2) + eps) + wd * w);
    }
  });
  return 0;
}

double kSumSquares(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  long n = (long)a[1];
  long parts = tasksFor(c, (double)n, MIN_STREAM, (n + 255) / 256);
  double partial[MAX_THREADS * 4];
  if (parts > MAX_THREADS * 4) parts = MAX_THREADS * 4;
  auto sum = [&](long b, long e) {
    VD lo{}, hi{};
    long i = b;
    for (; i + VW <= e; i += VW) sqAccumulate(vload(x + i), lo, hi);
    double s = hsumd(lo + hi);
    for (; i < e; i++) s += (double)x[i] * (double)x[i];
    return s;
  };
  if (parts <= 1) return n > 0 ? sum(0, n) : 0.0;
  parallelFor(c->threads, parts, [&](long t, int) {
    long b, e;
    splitRange(n, parts, t, 64, b, e);
    partial[t] = b < e ? sum(b, e) : 0.0;
  });
  double s = 0;
  for (long t = 0; t < parts; t++) s += partial[t];
  return s;
}

}  // namespace GL_NS
}  // namespace gl
