// Fused causal attention, flash style: scores are computed block by block (BR queries × BC keys)
// with an online softmax, so no T×T matrix is ever stored, and backward recomputes the
// probabilities from the saved log-sum-exp. Operands are copied per block into zero-padded
// scratch tiles (head dimension rounded up to the vector width, keys transposed where a product
// needs them), which makes every inner loop a whole number of vectors for any strides and sizes.
//
// Forward splits over (batch, head, query block); backward over (batch, head), each task owning
// its heads' gradient rows, so results do not depend on thread timing.
//
// With a sliding window (query i at key position p = i + off sees keys p − window < j <= p) a query
// block starts at its first row's earliest key, and backward gives each key block only the query
// blocks that can see it: the work grows with the window, not with the sequence.

#include "simd.h"

namespace gl {
namespace GL_NS {
namespace {

// Register tile of the small products: RB rows × SG_NV vectors.
constexpr int RB = 4;
constexpr int SG_NV = VW == 16 ? 4 : 2;

template <int R, int NV>
inline void tile(int K, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, bool acc) {
  V c[R][NV];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) c[r][v] = acc ? vload(C + r * ldc + v * VW) : V{};
  for (int p = 0; p < K; p++) {
    V b[NV];
    for (int v = 0; v < NV; v++) b[v] = vload(B + (long)p * ldb + v * VW);
    for (int r = 0; r < R; r++) {
      V av = vset(A[r * ars + (long)p * acs]);
      for (int v = 0; v < NV; v++) c[r][v] += av * b[v];
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) vstore(C + r * ldc + v * VW, c[r][v]);
}

template <int R>
inline void tileRow(int nv, int K, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, bool acc) {
  switch (nv) {
    case 1: tile<R, 1>(K, A, ars, acs, B, ldb, C, ldc, acc); break;
    case 2: tile<R, 2>(K, A, ars, acs, B, ldb, C, ldc, acc); break;
#if VW == 16
    case 3: tile<R, 3>(K, A, ars, acs, B, ldb, C, ldc, acc); break;
    case 4: tile<R, 4>(K, A, ars, acs, B, ldb, C, ldc, acc); break;
#endif
    default: break;
  }
}

/**
 * C (M×N, ldc) = or += A · B with A(i, p) = A[i·ars + p·acs] (any layout: A is only broadcast)
 * and B row-major (K×N, ldb). N must be a multiple of VW.
 */
void smallGemm(int M, int N, int K, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, bool acc) {
  for (int c0 = 0; c0 < N; c0 += SG_NV * VW) {
    int nv = std::min(SG_NV, (N - c0) / VW);
    int r = 0;
    for (; r + RB <= M; r += RB) tileRow<RB>(nv, K, A + r * ars, ars, acs, B + c0, ldb, C + (long)r * ldc + c0, ldc, acc);
    for (; r < M; r++) tileRow<1>(nv, K, A + r * ars, ars, acs, B + c0, ldb, C + (long)r * ldc + c0, ldc, acc);
  }
}

struct Args {
  const float *q, *k, *v;
  long qs[3], ks[3], vs[3];
  long batch, heads, tq, tk, d;
  float scale;
  long off;  // causal offset
  long group;  // query heads per kv head: k and v are indexed by kv head h / group
  long window;  // sliding window, 0 for none
  float* out;
  long os[3];
  float* lse;
};

Args readArgs(Ctx* c, const double* a) {
  Args r;
  r.q = fptr(c, a[0]);
  r.k = fptr(c, a[1]);
  r.v = fptr(c, a[2]);
  for (int i = 0; i < 3; i++) {
    r.qs[i] = (long)a[3 + i];
    r.ks[i] = (long)a[6 + i];
    r.vs[i] = (long)a[9 + i];
    r.os[i] = (long)a[20 + i];
  }
  r.batch = (long)a[12];
  r.heads = (long)a[13];
  r.tq = (long)a[14];
  r.tk = (long)a[15];
  r.d = (long)a[16];
  r.scale = (float)a[17];
  r.off = (long)a[18];
  r.out = fptr(c, a[19]);
  r.lse = fptr(c, a[23]);
  r.group = (long)a[31];
  r.window = (long)a[32];
  return r;
}

/** The first key visible at key position pos (the causal last one is pos itself). */
inline long firstKey(long pos, long window) { return window > 0 ? std::max<long>(0, pos - window + 1) : 0; }

/** At most how many keys one query sees, for the work estimate. */
inline long keysPerQuery(const Args& A) {
  const long keys = std::min(A.tk, A.tq + std::max<long>(A.off, 0));
  return A.window > 0 ? std::min(keys, A.window) : keys;
}

inline long roundUp(long x, long m) { return (x + m - 1) / m * m; }

/** Block sizes whose scratch tiles (forward: 2 BR×dp, 2 BC×dp, BR×BC) fit one thread's scratch. */
void blockSizes(long dp, long& br, long& bc) {
  br = 64;
  bc = 64;
  auto bytes = [&](long r, long k) { return 4 * (3 * r * dp + 3 * k * dp + 3 * r * k + 4 * r + 64); };
  while (bytes(br, bc) > (long)SCRATCH_BYTES && (br > 1 || bc > VW)) {
    if (br >= bc && br > 1) br /= 2;
    else bc = std::max<long>(VW, bc / 2);
  }
}

/** dst (rows × dp) = rows of src (row stride `st`, d contiguous), zero-padded to dp. */
inline void loadRows(float* dst, long dp, const float* src, long st, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    std::memcpy(dst + r * dp, src + r * st, d * sizeof(float));
    std::memset(dst + r * dp + d, 0, (dp - d) * sizeof(float));
  }
}

/** dst (dp × ld) = transpose of rows of src, columns ≥ rows zero up to ld. */
inline void loadTransposed(float* dst, long ld, const float* src, long st, long rows, long d, long dp) {
  for (long c = 0; c < dp; c++) {
    float* o = dst + c * ld;
    if (c < d)
      for (long r = 0; r < rows; r++) o[r] = src[r * st + c];
    else
      for (long r = 0; r < rows; r++) o[r] = 0;
    for (long r = rows; r < ld; r++) o[r] = 0;
  }
}

}  // namespace

/** Sums of four vectors at once: lane-halving adds, about a quarter of four separate hsums. */
inline void hsum4(V a, V b, V c, V d, float* out) {
  float s[4][VW];
  vstore(s[0], a);
  vstore(s[1], b);
  vstore(s[2], c);
  vstore(s[3], d);
  for (int w = VW / 2; w >= 1; w /= 2)
    for (int r = 0; r < 4; r++)
      for (int i = 0; i < w; i++) s[r][i] += s[r][i + w];
  for (int r = 0; r < 4; r++) out[r] = s[r][0];
}

/** q · k for one key, the head dimension split into whole vectors and a scalar tail. */
inline V dotVec(const float* q, const float* k, long dv) {
  V acc{};
  for (long e = 0; e < dv; e += VW) acc += vload(q + e) * vload(k + e);
  return acc;
}

inline float dotTail(const float* q, const float* k, long dv, long d) {
  float t = 0;
  for (long e = dv; e < d; e++) t += q[e] * k[e];
  return t;
}

/** o[0..nv·VW) = Σ_j p[j] · v_j: up to MAX_NV register accumulators, keys in the inner loop. */
constexpr long MAX_NV = 8;
template <int NV>
inline void weightedSum(const float* p, long keys, const float* v, long vs, float inv, float* o) {
  V acc[NV];
  for (int i = 0; i < NV; i++) acc[i] = V{};
  for (long j = 0; j < keys; j++) {
    const V pj = vset(p[j]);
    const float* vr = v + j * vs;
    for (int i = 0; i < NV; i++) acc[i] += pj * vload(vr + i * VW);
  }
  for (int i = 0; i < NV; i++) vstore(o + i * VW, acc[i] * vset(inv));
}

/**
 * One query per head (decoding with a KV cache): dot products four keys at a time, the
 * exponentials a vector at a time, and the weighted sum of values with the head's output row in
 * registers. No tiles to fill: the cache rows are read where they are.
 */
void attendOne(const Args& A, long bh, float* scores) {
  const long b = bh / A.heads, h = bh % A.heads, d = A.d;
  // The visible keys [first, first + keys): the window's start to the query's own position.
  const long first = firstKey(A.off, A.window);
  const long keys = std::min(A.tk, A.off + 1) - first;
  const float* q = A.q + b * A.qs[0] + h * A.qs[1];
  const float* k = A.k + b * A.ks[0] + (h / A.group) * A.ks[1] + first * A.ks[2];
  const float* v = A.v + b * A.vs[0] + (h / A.group) * A.vs[1] + first * A.vs[2];
  float* o = A.out + b * A.os[0] + h * A.os[1];
  float* lse = A.lse + bh;
  if (keys <= 0) {
    for (long e = 0; e < d; e++) o[e] = 0;
    *lse = -INFINITY;
    return;
  }
  const long dv = d / VW * VW;
  const long ks = A.ks[2];
  long j = 0;
  for (; j + 4 <= keys; j += 4) {
    const float* kr = k + j * ks;
    hsum4(dotVec(q, kr, dv), dotVec(q, kr + ks, dv), dotVec(q, kr + 2 * ks, dv), dotVec(q, kr + 3 * ks, dv), scores + j);
  }
  for (; j < keys; j++) scores[j] = hsum(dotVec(q, k + j * ks, dv));
  V mv = vset(-INFINITY);
  const long kv = keys / VW * VW;
  for (j = 0; j < keys; j++) {
    if (dv < d) scores[j] += dotTail(q, k + j * ks, dv, d);
    scores[j] *= A.scale;
  }
  for (j = 0; j < kv; j += VW) mv = vmax(mv, vload(scores + j));
  float m = hmax(mv);
  for (; j < keys; j++) m = scores[j] > m ? scores[j] : m;
  V sv{};
  for (j = 0; j < kv; j += VW) {
    const V e = vexp(vload(scores + j) - vset(m));
    vstore(scores + j, e);
    sv += e;
  }
  float sum = hsum(sv);
  for (; j < keys; j++) {
    scores[j] = sexp(scores[j] - m);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  const long nv = dv / VW;
  const long vs = A.vs[2];
  switch (nv) {
    case 0: break;
    case 1: weightedSum<1>(scores, keys, v, vs, inv, o); break;
    case 2: weightedSum<2>(scores, keys, v, vs, inv, o); break;
    case 3: weightedSum<3>(scores, keys, v, vs, inv, o); break;
    case 4: weightedSum<4>(scores, keys, v, vs, inv, o); break;
    case 5: weightedSum<5>(scores, keys, v, vs, inv, o); break;
    case 6: weightedSum<6>(scores, keys, v, vs, inv, o); break;
    case 7: weightedSum<7>(scores, keys, v, vs, inv, o); break;
    case 8: weightedSum<8>(scores, keys, v, vs, inv, o); break;
    default:
      for (long e0 = 0; e0 < dv; e0 += MAX_NV * VW) {
        const long n = std::min(MAX_NV, (dv - e0) / VW);
        for (long e = e0; e < e0 + n * VW; e += VW) {
          V acc{};
          for (long jj = 0; jj < keys; jj++) acc += vset(scores[jj]) * vload(v + jj * vs + e);
          vstore(o + e, acc * vset(inv));
        }
      }
  }
  for (long e = dv; e < d; e++) {
    float acc = 0;
    for (long jj = 0; jj < keys; jj++) acc += scores[jj] * v[jj * vs + e];
    o[e] = acc * inv;
  }
  *lse = m + (float)std::log((double)sum);
}

double kAttentionForward(Ctx* c, const double* a) {
  const Args A = readArgs(c, a);
  const long d = A.d, dp = roundUp(d, VW);
  if (A.tq == 1 && A.tk * sizeof(float) <= SCRATCH_BYTES) {
    const long units = A.batch * A.heads;
    // Per call only ~10 µs of work: worth splitting over heads with workers that are polling.
    long parts = tasksFor(c, 2.0 * units * A.tk * d, MIN_MACS / 8, units, 1 << 20);
    parallelFor(parts > 1 ? c->threads : 1, units, [&](long bh, int th) { attendOne(A, bh, static_cast<float*>(threadScratch(th))); });
    return 0;
  }
  long BR, BC;
  blockSizes(dp, BR, BC);
  const long brp = roundUp(BR, VW);
  const long qBlocks = (A.tq + BR - 1) / BR;
  const long units = A.batch * A.heads * qBlocks;
  if (units == 0) return 0;
  double macs = 2.0 * A.batch * A.heads * A.tq * keysPerQuery(A) * d;
  long parts = tasksFor(c, macs, MIN_MACS, units, 1 << 20);
  // V rows can feed the products in place when the head dimension is a whole number of vectors.
  const bool vInPlace = d == dp;
  parallelFor(parts > 1 ? c->threads : 1, units, [&](long u, int th) {
    const long bh = u / qBlocks, qb = u % qBlocks;
    const long b = bh / A.heads, h = bh % A.heads;
    const long i0 = qb * BR, rows = std::min(BR, A.tq - i0);
    float* s = static_cast<float*>(threadScratch(th));
    float* Qt = s;                 // d × brp: the query block transposed (queries along vectors)
    float* St = Qt + d * brp;      // BC × brp: scores transposed, then probabilities
    float* Vb = St + BC * brp;     // BC × dp (only when V is copied)
    float* Ob = Vb + BC * dp;      // BR × dp
    float* mrow = Ob + BR * dp;    // brp
    float* lrow = mrow + brp;      // brp
    float* alpha = lrow + brp;     // brp
    const float* q = A.q + b * A.qs[0] + h * A.qs[1] + i0 * A.qs[2];
    const float* k = A.k + b * A.ks[0] + (h / A.group) * A.ks[1];
    const float* v = A.v + b * A.vs[0] + (h / A.group) * A.vs[1];
    loadTransposed(Qt, brp, q, A.qs[2], rows, d, d);
    std::memset(Ob, 0, rows * dp * sizeof(float));
    for (long r = 0; r < brp; r++) {
      mrow[r] = -INFINITY;
      lrow[r] = 0;
    }
    V iota;
    for (int l = 0; l < VW; l++) iota[l] = (float)l;
    const V sv = vset(A.scale), ninf = vset(-INFINITY);
    const V wv = vset(A.window > 0 ? (float)A.window : INFINITY);
    // Keys visible to the block: from its first row's earliest to its last row's own.
    const long lastKey = std::min(A.tk - 1, i0 + rows - 1 + A.off);
    for (long j0 = firstKey(i0 + A.off, A.window); j0 <= lastKey; j0 += BC) {
      const long cols = std::min(BC, lastKey + 1 - j0);
      // Sᵀ = K Qᵀ: keys read in place (only broadcast), queries along the vector lanes.
      smallGemm((int)cols, (int)brp, (int)d, k + j0 * A.ks[2], A.ks[2], 1, Qt, brp, St, brp, false);
      for (long r0 = 0; r0 < brp; r0 += VW) {
        const V rv = iota + vset((float)r0);
        V mold = vload(mrow + r0);
        V mx = mold;
        for (long j = 0; j < cols; j++) {
          // Query i0 + r sees key j0 + j when j0 + j − i0 − off <= r < j0 + j − i0 − off + window.
          const V lim = vset((float)(j0 + j - i0 - A.off));
          V x = vload(St + j * brp + r0) * sv;
          x = (rv < lim) | (rv >= lim + wv) ? ninf : x;
          vstore(St + j * brp + r0, x);
          mx = vmax(mx, x);
        }
        // Rows that have seen no key yet keep m = −∞; guard the −∞ − (−∞) cases.
        const VI none = mx == ninf;
        const V al = none ? vset(1.0f) : vexp(mold - mx);
        V sum{};
        for (long j = 0; j < cols; j++) {
          V pr = vexp(vload(St + j * brp + r0) - mx);
          pr = none ? vset(0.0f) : pr;
          vstore(St + j * brp + r0, pr);
          sum += pr;
        }
        vstore(lrow + r0, vload(lrow + r0) * al + sum);
        vstore(mrow + r0, mx);
        vstore(alpha + r0, al);
      }
      for (long r = 0; r < rows; r++) {
        if (alpha[r] == 1.0f) continue;
        const V av = vset(alpha[r]);
        for (long e = 0; e < dp; e += VW) vstore(Ob + r * dp + e, vload(Ob + r * dp + e) * av);
      }
      const float* vrows = v + j0 * A.vs[2];
      long ldv = A.vs[2];
      if (!vInPlace) {
        loadRows(Vb, dp, vrows, A.vs[2], cols, d);
        vrows = Vb;
        ldv = dp;
      }
      // O += P V with P(r, j) = Sᵀ[j][r].
      smallGemm((int)rows, (int)dp, (int)cols, St, 1, brp, vrows, ldv, Ob, dp, true);
    }
    float* o = A.out + b * A.os[0] + h * A.os[1];
    float* lse = A.lse + (b * A.heads + h) * A.tq;
    for (long r = 0; r < rows; r++) {
      float* orow = o + (i0 + r) * A.os[2];
      if (lrow[r] == 0) {
        // No visible key: an empty softmax.
        for (long e = 0; e < d; e++) orow[e] = 0;
        lse[i0 + r] = -INFINITY;
        continue;
      }
      const float inv = 1.0f / lrow[r];
      for (long e = 0; e < d; e++) orow[e] = Ob[r * dp + e] * inv;
      lse[i0 + r] = mrow[r] + (float)std::log((double)lrow[r]);
    }
  });
  return 0;
}

double kAttentionBackward(Ctx* c, const double* a) {
  const Args A = readArgs(c, a);
  const float* gout = fptr(c, a[24]);
  const long gs[3] = {(long)a[25], (long)a[26], (long)a[27]};
  float* gradQ = fptr(c, a[28]);
  float* gradK = fptr(c, a[29]);
  float* gradV = fptr(c, a[30]);
  const long d = A.d, dp = roundUp(d, VW);
  long BR, BC;
  blockSizes(dp, BR, BC);
  // Backward keeps more tiles: Kt, Vt (dp×BC), Kb, dKb, dVb (BC×dp), Qb, dOb, dQb (BR×dp), P, dS (BR×BC).
  while (4 * (3 * BR * dp + 2 * dp * BC + 3 * BC * dp + 2 * BR * BC + A.tq + 64) > (long)SCRATCH_BYTES && BR > 1) {
    BR = std::max<long>(1, BR / 2);
    BC = std::max<long>(VW, BC / 2);
  }
  const long units = A.batch * A.heads;
  if (units == 0 || A.tq == 0) return 0;
  double macs = 5.0 * A.batch * A.heads * A.tq * keysPerQuery(A) * d;
  long parts = tasksFor(c, macs, MIN_MACS, units, 1 << 20);
  parallelFor(parts > 1 ? c->threads : 1, units, [&](long bh, int th) {
    const long b = bh / A.heads, h = bh % A.heads;
    float* s = static_cast<float*>(threadScratch(th));
    float* Kt = s;                  // dp × BC
    float* Vt = Kt + dp * BC;       // dp × BC
    float* Kb = Vt + dp * BC;       // BC × dp
    float* dKb = Kb + BC * dp;      // BC × dp
    float* dVb = dKb + BC * dp;     // BC × dp
    float* Qb = dVb + BC * dp;      // BR × dp
    float* dOb = Qb + BR * dp;      // BR × dp
    float* dQb = dOb + BR * dp;     // BR × dp
    float* P = dQb + BR * dp;       // BR × BC
    float* dS = P + BR * BC;        // BR × BC
    float* delta = dS + BR * BC;    // tq
    const float* q = A.q + b * A.qs[0] + h * A.qs[1];
    const float* k = A.k + b * A.ks[0] + (h / A.group) * A.ks[1];
    const float* v = A.v + b * A.vs[0] + (h / A.group) * A.vs[1];
    const float* o = A.out + b * A.os[0] + h * A.os[1];
    const float* go = gout + b * gs[0] + h * gs[1];
    const float* lse = A.lse + bh * A.tq;
    float* gq = gradQ + bh * A.tq * d;
    float* gk = gradK + bh * A.tk * d;
    float* gv = gradV + bh * A.tk * d;
    // Σ_j P_ij dP_ij = gradOut_i · out_i
    for (long i = 0; i < A.tq; i++) {
      float acc = 0;
      for (long e = 0; e < d; e++) acc += go[i * gs[2] + e] * o[i * A.os[2] + e];
      delta[i] = acc;
    }
    const long keys = std::min(A.tk, A.tq + A.off);  // keys any query sees
    for (long j0 = firstKey(A.off, A.window); j0 < keys; j0 += BC) {
      const long cols = std::min(BC, keys - j0);
      const long ld = roundUp(cols, VW);
      loadTransposed(Kt, ld, k + j0 * A.ks[2], A.ks[2], cols, d, dp);
      loadTransposed(Vt, ld, v + j0 * A.vs[2], A.vs[2], cols, d, dp);
      loadRows(Kb, dp, k + j0 * A.ks[2], A.ks[2], cols, d);
      std::memset(dKb, 0, cols * dp * sizeof(float));
      std::memset(dVb, 0, cols * dp * sizeof(float));
      // The first query that sees key j0 (i + off >= j0), and past the last one that sees the
      // block's last key through the window (i + off − window < j0 + cols − 1).
      const long firstQ = std::max<long>(0, j0 - A.off);
      const long endQ = A.window > 0 ? std::min(A.tq, j0 + cols - 1 - A.off + A.window) : A.tq;
      for (long i0 = firstQ / BR * BR; i0 < endQ; i0 += BR) {
        const long rows = std::min(BR, A.tq - i0);
        loadRows(Qb, dp, q + i0 * A.qs[2], A.qs[2], rows, d);
        loadRows(dOb, dp, go + i0 * gs[2], gs[2], rows, d);
        smallGemm((int)rows, (int)ld, (int)dp, Qb, dp, 1, Kt, ld, P, ld, false);
        smallGemm((int)rows, (int)ld, (int)dp, dOb, dp, 1, Vt, ld, dS, ld, false);
        for (long r = 0; r < rows; r++) {
          const long i = i0 + r;
          // The row sees columns [lo, hi) of the block; P and dS are zero elsewhere.
          const long lo = std::min(ld, std::max<long>(0, firstKey(i + A.off, A.window) - j0));
          const long hi = std::max(lo, std::min(cols, std::min(A.tk - 1, i + A.off) - j0 + 1));
          float* pr = P + r * ld;
          float* dr = dS + r * ld;
          long j = 0;
          for (; j < lo; j++) {
            pr[j] = 0;
            dr[j] = 0;
          }
          if (hi > lo) {
            const V lv = vset(lse[i]), sv = vset(A.scale), dv = vset(delta[i]);
            for (; j + VW <= hi; j += VW) {
              V p = vexp(vload(pr + j) * sv - lv);
              vstore(pr + j, p);
              vstore(dr + j, p * (vload(dr + j) - dv) * sv);
            }
            for (; j < hi; j++) {
              float p = sexp(pr[j] * A.scale - lse[i]);
              pr[j] = p;
              dr[j] = p * (dr[j] - delta[i]) * A.scale;
            }
          }
          for (; j < ld; j++) {
            pr[j] = 0;
            dr[j] = 0;
          }
        }
        // dV += Pᵀ dO;  dK += dSᵀ Q;  dQ = dS K
        smallGemm((int)cols, (int)dp, (int)rows, P, 1, ld, dOb, dp, dVb, dp, true);
        smallGemm((int)cols, (int)dp, (int)rows, dS, 1, ld, Qb, dp, dKb, dp, true);
        smallGemm((int)rows, (int)dp, (int)cols, dS, ld, 1, Kb, dp, dQb, dp, false);
        for (long r = 0; r < rows; r++) {
          float* dst = gq + (i0 + r) * d;
          for (long e = 0; e < d; e++) dst[e] += dQb[r * dp + e];
        }
      }
      for (long r = 0; r < cols; r++) {
        float* dk = gk + (j0 + r) * d;
        float* dv = gv + (j0 + r) * d;
        for (long e = 0; e < d; e++) {
          dk[e] += dKb[r * dp + e];
          dv[e] += dVb[r * dp + e];
        }
      }
    }
  });
  return 0;
}

}  // namespace GL_NS
}  // namespace gl
