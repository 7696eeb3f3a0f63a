// Row kernels: embedding lookup and its scatter-add, layerNorm, softmax and the fused
// softmax-cross-entropy. Rows are independent, so calls split by rows; the sums across rows
// (layerNorm's gamma/beta gradients, embedding gradients) are made deterministic: per-task partial
// sums added in task order, or tasks that own disjoint columns.

#include "simd.h"

namespace gl {
namespace GL_NS {
namespace {

/** Runs f(begin, end) over row ranges; `perRow` is the work of one row. */
template <class F>
void forRows(Ctx* c, long rows, double perRow, double minWork, F&& f) {
  long parts = tasksFor(c, rows * perRow, minWork, rows);
  if (parts <= 1) {
    if (rows > 0) f(0L, rows);
    return;
  }
  parallelFor(c->threads, parts, [&](long t, int) {
    long b, e;
    splitRange(rows, parts, t, 1, b, e);
    if (b < e) f(b, e);
  });
}

inline float rowMax(const float* x, long n) {
  V m0 = vset(-INFINITY), m1 = m0;
  long i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    m0 = vmax(m0, vload(x + i));
    m1 = vmax(m1, vload(x + i + VW));
  }
  float m = hmax(vmax(m0, m1));
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  // A NaN the comparisons skipped still reaches the sum of exponentials, so the row becomes NaN
  // as in the reference.
  return m;
}

/** Σ exp(x − shift); writes the exponentials to out when out != nullptr. */
inline float expSum(const float* x, long n, float shift, float* out) {
  const V sv = vset(shift);
  V s0{}, s1{};
  long i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    V e0 = vexp(vload(x + i) - sv);
    V e1 = vexp(vload(x + i + VW) - sv);
    if (out) {
      vstore(out + i, e0);
      vstore(out + i + VW, e1);
    }
    s0 += e0;
    s1 += e1;
  }
  float s = hsum(s0 + s1);
  for (; i < n; i++) {
    float e = sexp(x[i] - shift);
    if (out) out[i] = e;
    s += e;
  }
  return s;
}

}  // namespace

double kEmbeddingForward(Ctx* c, const double* a) {
  const float* table = fptr(c, a[0]);
  const int32_t* ids = iptr(c, a[1]);
  float* out = fptr(c, a[2]);
  const long rows = (long)a[3], dim = (long)a[4];
  forRows(c, rows, (double)dim, MIN_STREAM, [&](long b, long e) {
    for (long r = b; r < e; r++) std::memcpy(out + r * dim, table + (long)ids[r] * dim, dim * sizeof(float));
  });
  return 0;
}

double kEmbeddingBackward(Ctx* c, const double* a) {
  const int32_t* ids = iptr(c, a[0]);
  const float* g = fptr(c, a[1]);
  float* gt = fptr(c, a[2]);
  const long rows = (long)a[3], dim = (long)a[4];
  // Repeated ids collide across rows, so tasks own column ranges instead of rows.
  long parts = tasksFor(c, (double)rows * dim, MIN_STREAM, dim / 64);
  parallelFor(parts > 1 ? c->threads : 1, parts, [&](long t, int) {
    long b, e;
    splitRange(dim, parts, t, 64, b, e);
    if (b >= e) return;
    for (long r = 0; r < rows; r++) {
      float* dst = gt + (long)ids[r] * dim;
      const float* src = g + r * dim;
      long i = b;
      for (; i + VW <= e; i += VW) vstore(dst + i, vload(dst + i) + vload(src + i));
      for (; i < e; i++) dst[i] += src[i];
    }
  });
  return 0;
}

double kLayerNormForward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  const float* gamma = fptr(c, a[1]);
  const float* beta = fptr(c, a[2]);
  float* out = fptr(c, a[3]);
  float* mean = fptr(c, a[4]);
  float* rstd = fptr(c, a[5]);
  const long rows = (long)a[6], dim = (long)a[7];
  const float eps = (float)a[8];
  forRows(c, rows, 8.0 * dim, MIN_STREAM, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* row = x + r * dim;
      float* o = out + r * dim;
      // Shifting by the first element keeps the float sum exact-ish when |mean| ≫ spread.
      const float x0 = row[0];
      const V x0v = vset(x0);
      V s0{};
      long i = 0;
      for (; i + VW <= dim; i += VW) s0 += vload(row + i) - x0v;
      float s = hsum(s0);
      for (; i < dim; i++) s += row[i] - x0;
      const float mu = x0 + s / (float)dim;
      const V muv = vset(mu);
      V q0{};
      i = 0;
      for (; i + VW <= dim; i += VW) {
        V d = vload(row + i) - muv;
        q0 += d * d;
      }
      float q = hsum(q0);
      for (; i < dim; i++) q += (row[i] - mu) * (row[i] - mu);
      const float rs = 1.0f / std::sqrt(q / (float)dim + eps);
      const V rsv = vset(rs);
      i = 0;
      for (; i + VW <= dim; i += VW) vstore(o + i, (vload(row + i) - muv) * rsv * vload(gamma + i) + vload(beta + i));
      for (; i < dim; i++) o[i] = (row[i] - mu) * rs * gamma[i] + beta[i];
      mean[r] = mu;
      rstd[r] = rs;
    }
  });
  return 0;
}

double kLayerNormBackward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  const float* gamma = fptr(c, a[1]);
  const float* mean = fptr(c, a[2]);
  const float* rstd = fptr(c, a[3]);
  const float* gout = fptr(c, a[4]);
  float* gx = fptr(c, a[5]);
  float* ggamma = fptr(c, a[6]);
  float* gbeta = fptr(c, a[7]);
  const long rows = (long)a[8], dim = (long)a[9];
  if (rows == 0) return 0;
  const long dimPad = (dim + 15) & ~15L;
  // Per-task partial gamma/beta sums live in thread 0's scratch and are added in task order.
  long maxParts = (long)(SCRATCH_BYTES / (2 * dimPad * sizeof(float)));
  long parts = tasksFor(c, 14.0 * rows * dim, MIN_STREAM, rows);
  if (parts > maxParts) parts = maxParts < 1 ? 1 : maxParts;
  float* partials = parts > 1 ? static_cast<float*>(threadScratch(0)) : nullptr;
  auto work = [&](long t, int) {
    long b, e;
    splitRange(rows, parts, t, 1, b, e);
    float* pg = parts > 1 ? partials + 2 * t * dimPad : ggamma;
    float* pb = parts > 1 ? pg + dimPad : gbeta;
    if (parts > 1) std::memset(pg, 0, 2 * dimPad * sizeof(float));
    for (long r = b; r < e; r++) {
      const float* row = x + r * dim;
      const float* go = gout + r * dim;
      float* dx = gx + r * dim;
      const float mu = mean[r], rs = rstd[r];
      const V muv = vset(mu), rsv = vset(rs);
      V sd{}, sdx{};
      long i = 0;
      for (; i + VW <= dim; i += VW) {
        V xhat = (vload(row + i) - muv) * rsv;
        V g = vload(go + i);
        V dxhat = g * vload(gamma + i);
        sd += dxhat;
        sdx += dxhat * xhat;
        vstore(pg + i, vload(pg + i) + g * xhat);
        vstore(pb + i, vload(pb + i) + g);
      }
      float meanD = hsum(sd), meanDX = hsum(sdx);
      for (; i < dim; i++) {
        float xhat = (row[i] - mu) * rs;
        float dxhat = go[i] * gamma[i];
        meanD += dxhat;
        meanDX += dxhat * xhat;
        pg[i] += go[i] * xhat;
        pb[i] += go[i];
      }
      meanD /= (float)dim;
      meanDX /= (float)dim;
      const V mdv = vset(meanD), mdxv = vset(meanDX);
      i = 0;
      for (; i + VW <= dim; i += VW) {
        V xhat = (vload(row + i) - muv) * rsv;
        V dxhat = vload(go + i) * vload(gamma + i);
        vstore(dx + i, vload(dx + i) + rsv * (dxhat - mdv - xhat * mdxv));
      }
      for (; i < dim; i++) {
        float xhat = (row[i] - mu) * rs;
        float dxhat = go[i] * gamma[i];
        dx[i] += rs * (dxhat - meanD - xhat * meanDX);
      }
    }
  };
  if (parts <= 1) {
    work(0, 0);
    return 0;
  }
  parallelFor(c->threads, parts, work);
  for (long t = 0; t < parts; t++) {
    const float* pg = partials + 2 * t * dimPad;
    const float* pb = pg + dimPad;
    for (long i = 0; i < dim; i++) {
      ggamma[i] += pg[i];
      gbeta[i] += pb[i];
    }
  }
  return 0;
}

double kRmsNormForward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  const float* gamma = fptr(c, a[1]);
  float* out = fptr(c, a[2]);
  float* rstd = fptr(c, a[3]);
  const long rows = (long)a[4], dim = (long)a[5];
  const float eps = (float)a[6];
  forRows(c, rows, 4.0 * dim, MIN_STREAM, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* row = x + r * dim;
      float* o = out + r * dim;
      V q0{};
      long i = 0;
      for (; i + VW <= dim; i += VW) q0 += vload(row + i) * vload(row + i);
      float q = hsum(q0);
      for (; i < dim; i++) q += row[i] * row[i];
      const float rs = 1.0f / std::sqrt(q / (float)dim + eps);
      const V rsv = vset(rs);
      i = 0;
      for (; i + VW <= dim; i += VW) vstore(o + i, vload(row + i) * rsv * vload(gamma + i));
      for (; i < dim; i++) o[i] = row[i] * rs * gamma[i];
      rstd[r] = rs;
    }
  });
  return 0;
}

double kRmsNormBackward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  const float* gamma = fptr(c, a[1]);
  const float* rstd = fptr(c, a[2]);
  const float* gout = fptr(c, a[3]);
  float* gx = fptr(c, a[4]);
  const long rows = (long)a[5], dim = (long)a[6];
  forRows(c, rows, 6.0 * dim, MIN_STREAM, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* row = x + r * dim;
      const float* go = gout + r * dim;
      float* dx = gx + r * dim;
      const float rs = rstd[r];
      V s0{};
      long i = 0;
      for (; i + VW <= dim; i += VW) s0 += vload(go + i) * vload(gamma + i) * vload(row + i);
      float s = hsum(s0);
      for (; i < dim; i++) s += go[i] * gamma[i] * row[i];
      // mean(dxhat · xhat) = rstd · s / dim; gradX = rstd · (dxhat − x · rstd · that)
      const float k = rs * rs * s / (float)dim;
      const V rsv = vset(rs), kv = vset(k);
      i = 0;
      for (; i + VW <= dim; i += VW) vstore(dx + i, vload(dx + i) + rsv * (vload(go + i) * vload(gamma + i) - vload(row + i) * kv));
      for (; i < dim; i++) dx[i] += rs * (go[i] * gamma[i] - row[i] * k);
    }
  });
  return 0;
}

double kRmsNormGammaBackward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  const float* rstd = fptr(c, a[1]);
  const float* gout = fptr(c, a[2]);
  float* gg = fptr(c, a[3]);
  const long rows = (long)a[4], dim = (long)a[5];
  // Tasks own column ranges: the sum over rows stays in row order, so the result is deterministic.
  long parts = tasksFor(c, 2.0 * rows * dim, MIN_STREAM, dim / 64);
  parallelFor(parts > 1 ? c->threads : 1, parts, [&](long t, int) {
    long b, e;
    splitRange(dim, parts, t, 64, b, e);
    for (long r = 0; r < rows; r++) {
      const float* row = x + r * dim;
      const float* go = gout + r * dim;
      const V rsv = vset(rstd[r]);
      long i = b;
      for (; i + VW <= e; i += VW) vstore(gg + i, vload(gg + i) + vload(go + i) * vload(row + i) * rsv);
      for (; i < e; i++) gg[i] += go[i] * row[i] * rstd[r];
    }
  });
  return 0;
}

namespace {

/** Rotates (x[c], x[c + h]) pairs by their position's angle; INVERSE rotates back and adds into out. */
template <bool INVERSE>
void rotateHalf(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  const float* cosT = fptr(c, a[1]);
  const float* sinT = fptr(c, a[2]);
  float* out = fptr(c, a[3]);
  const long rows = (long)a[4], seq = (long)a[5], heads = (long)a[6], dim = (long)a[7], offset = (long)a[8];
  const long h = dim / 2;
  forRows(c, rows, 3.0 * heads * dim, MIN_STREAM, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* co = cosT + (offset + r % seq) * h;
      const float* si = sinT + (offset + r % seq) * h;
      for (long hd = 0; hd < heads; hd++) {
        const float* xa = x + (r * heads + hd) * dim;
        const float* xb = xa + h;
        float* oa = out + (r * heads + hd) * dim;
        float* ob = oa + h;
        long i = 0;
        for (; i + VW <= h; i += VW) {
          V cv = vload(co + i), sv = vload(si + i), av = vload(xa + i), bv = vload(xb + i);
          if constexpr (INVERSE) {
            vstore(oa + i, vload(oa + i) + av * cv + bv * sv);
            vstore(ob + i, vload(ob + i) + bv * cv - av * sv);
          } else {
            vstore(oa + i, av * cv - bv * sv);
            vstore(ob + i, bv * cv + av * sv);
          }
        }
        for (; i < h; i++) {
          const float av = xa[i], bv = xb[i];
          if constexpr (INVERSE) {
            oa[i] += av * co[i] + bv * si[i];
            ob[i] += bv * co[i] - av * si[i];
          } else {
            oa[i] = av * co[i] - bv * si[i];
            ob[i] = bv * co[i] + av * si[i];
          }
        }
      }
    }
  });
}

}  // namespace

double kRopeForward(Ctx* c, const double* a) {
  rotateHalf<false>(c, a);
  return 0;
}

double kRopeBackward(Ctx* c, const double* a) {
  rotateHalf<true>(c, a);
  return 0;
}

double kSoftmaxForward(Ctx* c, const double* a) {
  const float* x = fptr(c, a[0]);
  float* out = fptr(c, a[1]);
  const long rows = (long)a[2], dim = (long)a[3];
  forRows(c, rows, 20.0 * dim, MIN_HEAVY, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* row = x + r * dim;
      float* o = out + r * dim;
      float m = rowMax(row, dim);
      float s = expSum(row, dim, m, o);
      const V inv = vset(1.0f / s);
      long i = 0;
      for (; i + VW <= dim; i += VW) vstore(o + i, vload(o + i) * inv);
      for (; i < dim; i++) o[i] *= inv[0];
    }
  });
  return 0;
}

double kSoftmaxBackward(Ctx* c, const double* a) {
  const float* y = fptr(c, a[0]);
  const float* g = fptr(c, a[1]);
  float* gx = fptr(c, a[2]);
  const long rows = (long)a[3], dim = (long)a[4];
  forRows(c, rows, 4.0 * dim, MIN_STREAM, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* yr = y + r * dim;
      const float* gr = g + r * dim;
      float* dx = gx + r * dim;
      V d0{};
      long i = 0;
      for (; i + VW <= dim; i += VW) d0 += vload(gr + i) * vload(yr + i);
      float dot = hsum(d0);
      for (; i < dim; i++) dot += gr[i] * yr[i];
      const V dv = vset(dot);
      i = 0;
      for (; i + VW <= dim; i += VW) vstore(dx + i, vload(dx + i) + vload(yr + i) * (vload(gr + i) - dv));
      for (; i < dim; i++) dx[i] += yr[i] * (gr[i] - dot);
    }
  });
  return 0;
}

double kCrossEntropyForward(Ctx* c, const double* a) {
  const float* logits = fptr(c, a[0]);
  const int32_t* targets = iptr(c, a[1]);
  float* losses = fptr(c, a[2]);
  float* lse = fptr(c, a[3]);
  const long rows = (long)a[4], vocab = (long)a[5];
  const int32_t ignore = (int32_t)a[6];
  forRows(c, rows, 16.0 * vocab, MIN_HEAVY, [&](long b, long e) {
    for (long r = b; r < e; r++) {
      const float* row = logits + r * vocab;
      float m = rowMax(row, vocab);
      float s = expSum(row, vocab, m, nullptr);
      float l = m + (float)std::log((double)s);
      int32_t t = targets[r];
      lse[r] = l;
      losses[r] = t == ignore ? 0.0f : l - row[t];
    }
  });
  return 0;
}

double kCrossEntropyBackward(Ctx* c, const double* a) {
  const float* logits = fptr(c, a[0]);
  const int32_t* targets = iptr(c, a[1]);
  const float* lse = fptr(c, a[2]);
  float* grad = fptr(c, a[3]);
  const long rows = (long)a[4], vocab = (long)a[5];
  const int32_t ignore = (int32_t)a[6];
  const float scale = (float)a[7];
  forRows(c, rows, 16.0 * vocab, MIN_HEAVY, [&](long b, long e) {
    const V sv = vset(scale);
    for (long r = b; r < e; r++) {
      int32_t t = targets[r];
      if (t == ignore) continue;
      const float* row = logits + r * vocab;
      float* g = grad + r * vocab;
      const V lv = vset(lse[r]);
      long i = 0;
      for (; i + VW <= vocab; i += VW) vstore(g + i, vload(g + i) + sv * vexp(vload(row + i) - lv));
      for (; i < vocab; i++) g[i] += scale * sexp(row[i] - lse[r]);
      g[t] -= scale;
    }
  });
  return 0;
}

}  // namespace GL_NS
}  // namespace gl
