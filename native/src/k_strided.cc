// Strided kernels: copyStrided (contiguous() of views, scatter-add of view gradients, summing over
// broadcast dimensions), broadcasting binary arithmetic, and reductions over (outer, axis, inner).
// Shapes are first coalesced (size-1 dimensions dropped, neighbours that are contiguous for every
// operand merged), so most calls end up as one or two long contiguous loops.

#include "simd.h"

namespace gl {
namespace GL_NS {
namespace {

struct Layout {
  int nd;
  int nops;
  long shape[MAX_DIMS];
  long st[3][MAX_DIMS];  // per operand, outermost first
  long off[3];           // element offsets of each operand's first element
};

/** Coalesces shape (nd dims, outermost first) with nops stride arrays into L. */
void coalesce(const double* shape, int nd, const long* const* strides, int nops, Layout& L) {
  int n = 0;
  // Built innermost first, then reversed.
  for (int d = nd - 1; d >= 0; d--) {
    long len = (long)shape[d];
    if (len == 1) continue;
    if (n > 0) {
      bool merge = true;
      for (int k = 0; k < nops; k++) merge = merge && strides[k][d] == L.st[k][n - 1] * L.shape[n - 1];
      if (merge) {
        L.shape[n - 1] *= len;
        continue;
      }
    }
    L.shape[n] = len;
    for (int k = 0; k < nops; k++) L.st[k][n] = strides[k][d];
    n++;
  }
  if (n == 0) {
    L.shape[0] = 1;
    for (int k = 0; k < nops; k++) L.st[k][0] = 0;
    n = 1;
  }
  for (int i = 0, j = n - 1; i < j; i++, j--) {
    std::swap(L.shape[i], L.shape[j]);
    for (int k = 0; k < nops; k++) std::swap(L.st[k][i], L.st[k][j]);
  }
  L.nd = n;
  L.nops = nops;
  for (int k = 0; k < nops; k++) L.off[k] = 0;
}

/** True when distinct indices over the dims in `mask` reach distinct elements of operand k. */
bool injective(const Layout& L, int k, unsigned mask) {
  int order[MAX_DIMS];
  int n = 0;
  for (int d = 0; d < L.nd; d++)
    if (mask & (1u << d)) order[n++] = d;
  // Insertion sort by |stride| (at most 8 dims).
  for (int i = 1; i < n; i++) {
    int v = order[i], j = i;
    for (; j > 0 && std::labs(L.st[k][order[j - 1]]) > std::labs(L.st[k][v]); j--) order[j] = order[j - 1];
    order[j] = v;
  }
  long span = 0;
  for (int i = 0; i < n; i++) {
    long s = std::labs(L.st[k][order[i]]);
    if (s <= span) return false;
    span += (L.shape[order[i]] - 1) * s;
  }
  return true;
}

long total(const Layout& L) {
  long n = 1;
  for (int d = 0; d < L.nd; d++) n *= L.shape[d];
  return n;
}

/**
 * Calls row(offsets, n, strides) for every innermost row of L in index order; offsets are the
 * element offsets of each operand at the row's start.
 */
template <class Row>
void walk(const Layout& L, Row&& row) {
  const int nd = L.nd;
  const long inner = L.shape[nd - 1];
  long idx[MAX_DIMS] = {0};
  long off[3] = {L.off[0], L.off[1], L.off[2]};
  long rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= L.shape[d];
  for (long r = 0; r < rows; r++) {
    row(off, inner);
    for (int d = nd - 2; d >= 0; d--) {
      for (int k = 0; k < L.nops; k++) off[k] += L.st[k][d];
      if (++idx[d] < L.shape[d]) break;
      for (int k = 0; k < L.nops; k++) off[k] -= L.st[k][d] * L.shape[d];
      idx[d] = 0;
    }
  }
}

/**
 * Runs walk over L, split across threads along dimension `dim` (or not at all when dim < 0):
 * each task sees L with that dimension narrowed to its own range.
 */
template <class Row>
void splitWalk(Ctx* c, const Layout& L, int dim, double minWork, Row&& row) {
  long parts = dim < 0 ? 1 : tasksFor(c, (double)total(L), minWork, L.shape[dim]);
  if (parts <= 1) {
    walk(L, row);
    return;
  }
  parallelFor(c->threads, parts, [&](long t, int) {
    long b, e;
    splitRange(L.shape[dim], parts, t, dim == L.nd - 1 ? 64 : 1, b, e);
    if (b >= e) return;
    Layout part = L;
    part.shape[dim] = e - b;
    for (int k = 0; k < L.nops; k++) part.off[k] += b * L.st[k][dim];
    walk(part, row);
  });
}

/** The dimension to split along among those in `allowed`: the outermost long enough, else the longest. */
int splitDim(const Layout& L, unsigned allowed, int threads) {
  int best = -1;
  for (int d = 0; d < L.nd; d++) {
    if (!(allowed & (1u << d))) continue;
    if (L.shape[d] >= 4L * threads) return d;
    if (best < 0 || L.shape[d] > L.shape[best]) best = d;
  }
  return best;
}

void toLongs(const double* src, long* dst, int n) {
  for (int i = 0; i < n; i++) dst[i] = (long)src[i];
}

template <BinaryOp OP>
inline V binV(V x, V y) {
  if constexpr (OP == BinaryOp::Add) return x + y;
  else if constexpr (OP == BinaryOp::Sub) return x - y;
  else if constexpr (OP == BinaryOp::Mul) return x * y;
  else if constexpr (OP == BinaryOp::Div) return x / y;
  else static_assert(OP != OP, "binV lacks this BinaryOp");
}

template <BinaryOp OP>
inline float binS(float x, float y) {
  if constexpr (OP == BinaryOp::Add) return x + y;
  else if constexpr (OP == BinaryOp::Sub) return x - y;
  else if constexpr (OP == BinaryOp::Mul) return x * y;
  else if constexpr (OP == BinaryOp::Div) return x / y;
  else static_assert(OP != OP, "binS lacks this BinaryOp");
}

template <BinaryOp OP>
void binaryRows(Ctx* c, const Layout& L, int dim, float* base, float* out) {
  const long sa = L.st[0][L.nd - 1], sb = L.st[1][L.nd - 1];
  splitWalk(c, L, dim, MIN_STREAM, [&](const long* off, long n) {
    const float* x = base + off[0];
    const float* y = base + off[1];
    float* o = out + off[2];
    long i = 0;
    if (sa == 1 && sb == 1) {
      for (; i + VW <= n; i += VW) vstore(o + i, binV<OP>(vload(x + i), vload(y + i)));
      for (; i < n; i++) o[i] = binS<OP>(x[i], y[i]);
    } else if (sa == 1 && sb == 0) {
      const V yv = vset(y[0]);
      for (; i + VW <= n; i += VW) vstore(o + i, binV<OP>(vload(x + i), yv));
      for (; i < n; i++) o[i] = binS<OP>(x[i], y[0]);
    } else if (sa == 0 && sb == 1) {
      const V xv = vset(x[0]);
      for (; i + VW <= n; i += VW) vstore(o + i, binV<OP>(xv, vload(y + i)));
      for (; i < n; i++) o[i] = binS<OP>(x[0], y[i]);
    } else {
      for (; i < n; i++) o[i] = binS<OP>(x[i * sa], y[i * sb]);
    }
  });
}

}  // namespace

double kCopyStrided(Ctx* c, const double* a) {
  const long src = (long)a[0], dst = (long)a[1];
  const int nd = (int)a[2];
  const bool acc = a[3] != 0;
  for (int d = 0; d < nd; d++)
    if (a[ARG_SHAPE + d] == 0) return 0;
  long ss[MAX_DIMS], ds[MAX_DIMS];
  toLongs(a + ARG_STRIDES_A, ss, nd);
  toLongs(a + ARG_STRIDES_B, ds, nd);
  const long* strides[2] = {ss, ds};
  Layout L;
  coalesce(a + ARG_SHAPE, nd, strides, 2, L);
  L.off[0] = src;
  L.off[1] = dst;
  float* f = c->base;
  const long s0 = L.st[0][L.nd - 1], d0 = L.st[1][L.nd - 1];
  unsigned all = (1u << L.nd) - 1;
  unsigned kept = 0;
  for (int d = 0; d < L.nd; d++)
    if (L.st[1][d] != 0) kept |= 1u << d;
  if (!acc) {
    // With overlapping destinations the last write in index order wins: keep that order.
    int dim = injective(L, 1, all) ? splitDim(L, all, c->threads) : -1;
    splitWalk(c, L, dim, MIN_STREAM, [&](const long* off, long n) {
      const float* x = f + off[0];
      float* y = f + off[1];
      if (s0 == 1 && d0 == 1) std::memmove(y, x, n * sizeof(float));
      else if (s0 == 0 && d0 == 1) std::fill(y, y + n, x[0]);
      else
        for (long i = 0; i < n; i++) y[i * d0] = x[i * s0];
    });
    return 0;
  }
  // Accumulate: tasks own disjoint destinations when they split a dimension the destination
  // moves along and the destination is injective over those dimensions.
  int dim = kept && injective(L, 1, kept) ? splitDim(L, kept, c->threads) : -1;
  splitWalk(c, L, dim, MIN_STREAM, [&](const long* off, long n) {
    const float* x = f + off[0];
    float* y = f + off[1];
    long i = 0;
    if (d0 == 0) {
      // The innermost dimension is summed: reduce it first, then add once.
      float s = 0;
      if (s0 == 1) {
        V v0{}, v1{};
        for (; i + 2 * VW <= n; i += 2 * VW) {
          v0 += vload(x + i);
          v1 += vload(x + i + VW);
        }
        s = hsum(v0 + v1);
        for (; i < n; i++) s += x[i];
      } else {
        for (; i < n; i++) s += x[i * s0];
      }
      y[0] += s;
    } else if (s0 == 1 && d0 == 1) {
      for (; i + VW <= n; i += VW) vstore(y + i, vload(y + i) + vload(x + i));
      for (; i < n; i++) y[i] += x[i];
    } else {
      for (; i < n; i++) y[i * d0] += x[i * s0];
    }
  });
  return 0;
}

double kBinary(Ctx* c, const double* a) {
  const int op = (int)a[0];
  const long pa = (long)a[1], pb = (long)a[2], out = (long)a[3];
  const int nd = (int)a[4];
  long shape[MAX_DIMS];
  toLongs(a + ARG_SHAPE, shape, nd);
  for (int d = 0; d < nd; d++)
    if (shape[d] == 0) return 0;
  long sa[MAX_DIMS], sb[MAX_DIMS], so[MAX_DIMS];
  toLongs(a + ARG_STRIDES_A, sa, nd);
  toLongs(a + ARG_STRIDES_B, sb, nd);
  long s = 1;
  for (int d = nd - 1; d >= 0; d--) {
    so[d] = s;
    s *= shape[d];
  }
  const long* strides[3] = {sa, sb, so};
  Layout L;
  coalesce(a + ARG_SHAPE, nd, strides, 3, L);
  L.off[0] = pa;
  L.off[1] = pb;
  L.off[2] = 0;
  float* outp = fptr(c, out);
  int dim = splitDim(L, (1u << L.nd) - 1, c->threads);
  withBinaryOp("binary", op, [&](auto o) { binaryRows<decltype(o)::value>(c, L, dim, c->base, outp); });
  return 0;
}

namespace {

double reduceSum(Ctx* c, const float* x, float* out, long outer, long axis, long inner) {
  if (inner == 1) {
    long parts = tasksFor(c, (double)outer * axis, MIN_STREAM, outer);
    parallelFor(parts > 1 ? c->threads : 1, parts, [&](long t, int) {
      long b, e;
      splitRange(outer, parts, t, 1, b, e);
      for (long o = b; o < e; o++) {
        const float* row = x + o * axis;
        V v0{}, v1{};
        long k = 0;
        for (; k + 2 * VW <= axis; k += 2 * VW) {
          v0 += vload(row + k);
          v1 += vload(row + k + VW);
        }
        float s = hsum(v0 + v1);
        for (; k < axis; k++) s += row[k];
        out[o] = s;
      }
    });
    return 0;
  }
  // out[o, :] = Σ_k x[o, k, :], vectorised along inner, split over outer × inner chunks.
  const long chunk = 256;
  const long chunks = (inner + chunk - 1) / chunk;
  long parts = tasksFor(c, (double)outer * axis * inner, MIN_STREAM, outer * chunks);
  parallelFor(parts > 1 ? c->threads : 1, parts, [&](long t, int) {
    long b, e;
    splitRange(outer * chunks, parts, t, 1, b, e);
    for (long u = b; u < e; u++) {
      long o = u / chunks, i0 = (u % chunks) * chunk;
      long i1 = std::min(inner, i0 + chunk);
      float* dst = out + o * inner;
      for (long i = i0; i < i1; i++) dst[i] = 0;
      for (long k = 0; k < axis; k++) {
        const float* src = x + (o * axis + k) * inner;
        long i = i0;
        for (; i + VW <= i1; i += VW) vstore(dst + i, vload(dst + i) + vload(src + i));
        for (; i < i1; i++) dst[i] += src[i];
      }
    }
  });
  return 0;
}

double reduceMax(Ctx* c, const float* x, float* out, int32_t* argmax, long outer, long axis, long inner) {
  // The first maximum wins ties; a NaN wins and then sticks (as PyTorch).
  long parts = tasksFor(c, (double)outer * axis * inner, MIN_STREAM, outer);
  parallelFor(parts > 1 ? c->threads : 1, parts, [&](long t, int) {
    long b, e;
    splitRange(outer, parts, t, 1, b, e);
    for (long o = b; o < e; o++) {
      for (long i = 0; i < inner; i++) {
        const float* base = x + o * axis * inner + i;
        float best = axis > 0 ? base[0] : -INFINITY;
        int32_t arg = axis > 0 ? 0 : -1;
        for (long k = 1; k < axis; k++) {
          float v = base[k * inner];
          if (v > best || (v != v && best == best)) {
            best = v;
            arg = (int32_t)k;
          }
        }
        out[o * inner + i] = best;
        if (argmax) argmax[o * inner + i] = arg;
      }
    }
  });
  return 0;
}

}  // namespace

double kReduce(Ctx* c, const double* a) {
  const float* x = fptr(c, a[1]);
  float* out = fptr(c, a[2]);
  int32_t* argmax = a[3] != 0 ? iptr(c, a[3]) : nullptr;
  const long outer = (long)a[4], axis = (long)a[5], inner = (long)a[6];
  return withReduceOp("reduce", (int)a[0], [&](auto op) {
    if (outer == 0 || inner == 0) return 0.0;
    if constexpr (decltype(op)::value == ReduceOp::Sum) return reduceSum(c, x, out, outer, axis, inner);
    else if constexpr (decltype(op)::value == ReduceOp::Max) return reduceMax(c, x, out, argmax, outer, axis, inner);
    else static_assert(decltype(op)::value != decltype(op)::value, "kReduce lacks this ReduceOp");
  });
}

}  // namespace GL_NS
}  // namespace gl
