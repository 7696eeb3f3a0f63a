// fp32 GEMM for one ISA build: the packed, cache-blocked path of gemm_driver.h with an
// MR×NR register-tile micro-kernel (AVX-512: 14×32 in 28 zmm accumulators; AVX2: 6×16;
// portable: 6×8), and a streaming path for few rows (decode: M <= 8), where packing B would
// cost more than the product. With bf16 operands requested, the packers (and the streaming path)
// round each operand to bfloat16 and the fp32 FMAs then multiply exactly those values: bf16
// products, fp32 accumulation. When the CPU has AVX512-BF16 or AMX, kMatmul hands the packed
// path to those kernels instead (gemm_bf16.cc, gemm_amx.cc).

#include <utility>

#include "gemm_driver.h"
#include "simd.h"

namespace gl {
#if defined(__x86_64__)
namespace bf16avx512 { void gemm(Ctx* c, const GemmArgs& g); }
namespace amx { void gemm(Ctx* c, const GemmArgs& g); }
namespace amxemu { void gemm(Ctx* c, const GemmArgs& g); }
#endif

namespace GL_NS {
namespace {

#if VW == 16
constexpr int MR = 14;
#else
constexpr int MR = 6;
#endif
constexpr int NV = 2;
constexpr int NR = NV * VW;

template <bool ROUND>
inline float rnd(float x) {
  if constexpr (ROUND) return bf16Round(x);
  else return x;
}

template <bool ROUND>
inline V rndv(V x) {
  if constexpr (ROUND) return vroundBf16(x);
  else return x;
}

#if VW == 16
// A 16×16 in-register transpose for the AVX-512 packers: four stages, each swapping one bit of
// the row index with the same bit of the column index through two-source permutes (vpermt2ps).
constexpr int swapLo(int k, int c) { return (c >> k & 1) == 0 ? c : 16 + (c - (1 << k)); }
constexpr int swapHi(int k, int c) { return (c >> k & 1) == 0 ? c + (1 << k) : 16 + c; }

template <int K, int... C>
inline void swapStage(V* r, std::integer_sequence<int, C...>) {
  constexpr VI lo = {swapLo(K, C)...}, hi = {swapHi(K, C)...};
  for (int i = 0; i < 16; i++) {
    if (i >> K & 1) continue;
    const V a = r[i], b = r[i + (1 << K)];
    r[i] = __builtin_shuffle(a, b, lo);
    r[i + (1 << K)] = __builtin_shuffle(a, b, hi);
  }
}

/** out[c·outStride + r] = in[r·ld + c] for 16 columns c; rows past `rows` read as zero. */
template <bool ROUND>
inline void transpose16(const float* in, long ld, int rows, float* out, long outStride) {
  V r[16];
  for (int i = 0; i < 16; i++) r[i] = i < rows ? rndv<ROUND>(vload(in + i * ld)) : V{};
  const auto seq = std::make_integer_sequence<int, 16>{};
  swapStage<0>(r, seq);
  swapStage<1>(r, seq);
  swapStage<2>(r, seq);
  swapStage<3>(r, seq);
  for (int c = 0; c < 16; c++) vstore(out + c * outStride, r[c]);
}
#endif

template <bool ROUND>
struct F32Policy {
  static constexpr int MR = gl::GL_NS::MR;
  static constexpr int NR = gl::GL_NS::NR;
  static constexpr long KC = 512;
  static constexpr long KALIGN = 8;
  static constexpr long MC_MAX = MR * (VW == 16 ? 48 : 96);
  static constexpr long NC_MAX = 1024;

  static size_t packABytes(long mc, long kc) { return (size_t)ceilDiv(mc, MR) * MR * kc * 4; }
  static void begin() {}
  static void end() {}
  static const void* panelA(const void* pa, long ip, long kc) { return static_cast<const float*>(pa) + ip * MR * kc; }
  static const void* panelB(const void* pb, long jp, long kc) { return static_cast<const float*>(pb) + jp * NR * kc; }

  /**
   * Panels [ip][p][MR]: A(i, p) for MR consecutive rows, zero rows past mc. The AVX-512 path
   * writes 16 floats per (panel, p), spilling 2 into the next p (written right after) and past
   * the last panel into the slack the driver leaves after packed A.
   */
  static void packA(void* dst, const float* A, long lda, bool trans, long i0, long mc, long p0, long kc) {
    float* out = static_cast<float*>(dst);
    const long panels = ceilDiv(mc, MR);
    if (trans) {
      // A(i, p) = A[p·lda + i]: each row p of A is read once, front to back, across the panels.
      for (long p = 0; p < kc; p++) {
        const float* src = A + (p0 + p) * lda + i0;
        for (long e = 0; e < mc; e += 16) __builtin_prefetch(src + 4 * lda + e);
        for (long ip = 0; ip < panels; ip++) {
          const int rows = (int)std::min((long)MR, mc - ip * MR);
          float* o = out + ip * MR * kc + p * MR;
          int i = 0;
          for (; i < rows; i++) o[i] = rnd<ROUND>(src[ip * MR + i]);
          for (; i < MR; i++) o[i] = 0;
        }
      }
      return;
    }
    for (long ip = 0; ip < panels; ip++) {
      const int rows = (int)std::min((long)MR, mc - ip * MR);
      float* pan = out + ip * MR * kc;
      const long r0 = i0 + ip * MR;
      long p = 0;
#if VW == 16
      for (; p + 16 <= kc; p += 16) transpose16<ROUND>(A + r0 * lda + p0 + p, lda, rows, pan + p * MR, MR);
#endif
      const float* rowp[MR];
      for (int i = 0; i < MR; i++) rowp[i] = A + (r0 + std::min(i, rows - 1)) * lda + p0;
      for (; p < kc; p++) {
        float* o = pan + p * MR;
        for (int i = 0; i < MR; i++) o[i] = i < rows ? rnd<ROUND>(rowp[i][p]) : 0.0f;
      }
    }
  }

  /** Panels [jp][p][NR]: B(p, j) for NR consecutive columns, zero columns past nc. */
  static void packB(void* dst, const float* B, long ldb, bool trans, long p0, long kc, long j0, long nc) {
    float* out = static_cast<float*>(dst);
    for (long jp = 0; jp * NR < nc; jp++) {
      const int cols = (int)std::min((long)NR, nc - jp * NR);
      float* pan = out + jp * NR * kc;
      const long c0 = j0 + jp * NR;
      if (!trans) {
        for (long p = 0; p < kc; p++) {
          const float* src = B + (p0 + p) * ldb + c0;
          // Rows of B lie ldb apart: fetch a few ahead (the stride prefetcher alone falls behind).
          __builtin_prefetch(src + 8 * ldb);
          __builtin_prefetch(src + 8 * ldb + NR - 1);
          float* o = pan + p * NR;
          if (cols == NR) {
            for (int v = 0; v < NV; v++) vstore(o + v * VW, rndv<ROUND>(vload(src + v * VW)));
          } else {
            int j = 0;
            for (; j < cols; j++) o[j] = rnd<ROUND>(src[j]);
            for (; j < NR; j++) o[j] = 0;
          }
        }
      } else {
        // B(p, j) = B[j·ldb + p]: each column is a contiguous run of kc.
        long p = 0;
#if VW == 16
        for (; p + 16 <= kc; p += 16)
          for (int half = 0; half < NR / 16; half++)
            transpose16<ROUND>(B + (c0 + 16 * half) * ldb + p0 + p, ldb, std::max(0, std::min(16, cols - 16 * half)), pan + p * NR + 16 * half, NR);
#endif
        for (int j = 0; j < NR && p < kc; j++) {
          if (j < cols) {
            const float* src = B + (c0 + j) * ldb + p0;
            for (long q = p; q < kc; q++) pan[q * NR + j] = rnd<ROUND>(src[q]);
          } else {
            for (long q = p; q < kc; q++) pan[q * NR + j] = 0;
          }
        }
      }
    }
  }

  static void micro(long kc, const void* pav, const void* pbv, float* C, long ldc, int mr, int nr, bool load, const float* bias) {
    const float* pa = static_cast<const float*>(pav);
    const float* pb = static_cast<const float*>(pbv);
    V acc[MR][NV];
    for (int i = 0; i < MR; i++)
      for (int v = 0; v < NV; v++) acc[i][v] = V{};
#pragma GCC unroll 2
    for (long p = 0; p < kc; p++) {
      V b[NV];
      for (int v = 0; v < NV; v++) b[v] = *reinterpret_cast<const V*>(pb + p * NR + v * VW);
      for (int i = 0; i < MR; i++) {
        const V a = vset(pa[p * MR + i]);
        for (int v = 0; v < NV; v++) acc[i][v] += a * b[v];
      }
    }
    if (mr == MR && nr == NR) {
      for (int i = 0; i < MR; i++) {
        for (int v = 0; v < NV; v++) {
          V x = acc[i][v];
          if (load) x += vload(C + i * ldc + v * VW);
          if (bias) x += vload(bias + v * VW);
          vstore(C + i * ldc + v * VW, x);
        }
      }
    } else {
      alignas(64) float tile[MR * NR];
      for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) vstore(tile + i * NR + v * VW, acc[i][v]);
      storeTile(tile, NR, C, ldc, mr, nr, load, bias);
    }
  }
};

constexpr long SMALL_M = 8;
constexpr long PREFETCH_FLOATS = 2048;
constexpr long PREFETCH_BYTES = PREFETCH_FLOATS * 4;

template <bool ROUND>
inline void copyRows(float* Ab, long kp, const GemmArgs& g, const float* A) {
  const long M = g.m, K = g.k;
  for (long i = 0; i < M; i++)
    for (long p = 0; p < K; p++) Ab[i * kp + p] = rnd<ROUND>(g.transA ? A[p * M + i] : A[i * K + p]);
}

/** Rows of an fp32 B (ld elements apart), rounded to bf16 as they are read when ROUND. */
template <bool ROUND>
struct F32Rows {
  const float* b;
  long ld;
  const float* row(long p) const { return b + p * ld; }
  V vec(const float* r, long j) const { return rndv<ROUND>(vload(r + j)); }
  float at(const float* r, long j) const { return rnd<ROUND>(r[j]); }
};

/** Rows of a packed bf16 B (packBf16): half the bytes of fp32 to stream, widened to fp32 exactly. */
struct Bf16Rows {
  typedef uint16_t VH __attribute__((vector_size(VW * 2)));
  typedef uint16_t VHu __attribute__((vector_size(VW * 2), aligned(2), may_alias));
  const uint16_t* b;
  long ld;
  const uint16_t* row(long p) const { return b + p * ld; }
  V vec(const uint16_t* r, long j) const { return (V)(__builtin_convertvector(*reinterpret_cast<const VHu*>(r + j), VU) << 16); }
  float at(const uint16_t* r, long j) const {
    uint32_t u = (uint32_t)r[j] << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

/** acc[i][0..N) += Σ_{p in [p0, p1)} Ab[i][p] · B[p][0..N): whole rows of B, read front to back. */
template <class Rows>
inline void streamRows(const float* Ab, long kp, long M, const Rows& B, long N, long p0, long p1, float* acc) {
  const long nv = N / VW * VW;
  long p = p0;
  // Four rows of B per pass over the accumulators: a quarter of the accumulator loads and stores
  // (decode streams B from L3 or memory, so L1 traffic is what is left to save), and the same
  // multiply-add order per element as one row at a time.
  for (; p + 4 <= p1; p += 4) {
    const auto* r0 = B.row(p);
    const auto* r1 = B.row(p + 1);
    const auto* r2 = B.row(p + 2);
    const auto* r3 = B.row(p + 3);
    const char* ahead = reinterpret_cast<const char*>(B.row(p + 4)) + PREFETCH_BYTES;
    long j = 0;
    for (; j < nv; j += VW) {
      // B is one long stream: fetching 8 KiB ahead keeps more cache misses in flight.
      __builtin_prefetch(ahead + j * sizeof(*r0));
      const V v0 = B.vec(r0, j);
      const V v1 = B.vec(r1, j);
      const V v2 = B.vec(r2, j);
      const V v3 = B.vec(r3, j);
      for (long i = 0; i < M; i++) {
        const float* a = Ab + i * kp + p;
        V s = vload(acc + i * N + j);
        s += vset(a[0]) * v0;
        s += vset(a[1]) * v1;
        s += vset(a[2]) * v2;
        s += vset(a[3]) * v3;
        vstore(acc + i * N + j, s);
      }
    }
    for (; j < N; j++)
      for (long i = 0; i < M; i++) {
        const float* a = Ab + i * kp + p;
        float s = acc[i * N + j];
        s += a[0] * B.at(r0, j);
        s += a[1] * B.at(r1, j);
        s += a[2] * B.at(r2, j);
        s += a[3] * B.at(r3, j);
        acc[i * N + j] = s;
      }
  }
  for (; p < p1; p++) {
    const auto* r = B.row(p);
    long j = 0;
    for (; j < nv; j += VW) {
      const V bv = B.vec(r, j);
      for (long i = 0; i < M; i++) vstore(acc + i * N + j, vload(acc + i * N + j) + vset(Ab[i * kp + p]) * bv);
    }
    for (; j < N; j++) {
      const float bv = B.at(r, j);
      for (long i = 0; i < M; i++) acc[i * N + j] += Ab[i * kp + p] * bv;
    }
  }
}

/** Threads for a streaming product: above ~256 KiB of B two streams beat one, even counting the
 *  wake-up of a polling worker. */
inline int streamThreads(const Ctx* c, double macs) { return (macs >= MIN_MACS / 4 || c->splitAll) ? c->threads : 1; }

/** Parts of K for a streaming product: one per thread, at least 32 rows of B each. */
inline long streamParts(int threads, long K) { return std::max(1L, std::min<long>(threads, K / 32)); }

/**
 * C[i][0..N) (+)= Σ_p Ab[i][p] · B[p][0..N) (+ bias) for M <= SMALL_M rows: threads split K, each
 * summing its rows of B into a partial of its own in thread 0's scratch (after Ab); the partials
 * are added in a fixed order, so results do not depend on timing.
 */
template <class Rows>
void streamProduct(Ctx* c, int threads, const float* Ab, long kp, long M, const Rows& B, long N, long K, const float* bias, bool load, float* C, long ldc) {
  const long parts = streamParts(threads, K);
  float* partial = static_cast<float*>(threadScratch(0)) + M * kp;  // parts × M × N
  std::memset(partial, 0, parts * M * N * sizeof(float));
  parallelFor(threads, parts, [&](long t, int) {
    long p0, p1;
    splitRange(K, parts, t, 1, p0, p1);
    streamRows(Ab, kp, M, B, N, p0, p1, partial + t * M * N);
  });
  for (long i = 0; i < M; i++)
    for (long j = 0; j < N; j++) {
      float sum = partial[i * N + j];
      for (long t = 1; t < parts; t++) sum += partial[(t * M + i) * N + j];
      float* out = C + i * ldc + j;
      *out = sum + (load ? *out : 0.0f) + (bias ? bias[j] : 0.0f);
    }
}

/**
 * Few rows (decode, short prompts): B is streamed once per call, front to back, instead of being
 * packed. Without transB the rows of B are whole contiguous runs; threads split K and their
 * partial rows of C are added in a fixed order. With transB every output is a dot product of two
 * contiguous rows, and threads split the columns.
 */
template <bool ROUND>
void gemmSmallM(Ctx* c, const GemmArgs& g) {
  const long M = g.m, N = g.n, K = g.k;
  const long kp = ceilDiv(K, 16) * 16;
  const double macs = (double)g.batch * M * N * K;
  const int threads = streamThreads(c, macs);
  for (long bi = 0; bi < g.batch; bi++) {
    const float* A = g.a + bi * g.strideA;
    const float* B = g.b + bi * g.strideB;
    float* C = g.c + bi * g.strideC;
    // Batch entries may share C (strideC 0): each one reads the C the previous one wrote.
    const bool load = g.accumulate;
    if (!g.transB) {
      float* Ab = static_cast<float*>(threadScratch(0));
      copyRows<ROUND>(Ab, kp, g, A);
      streamProduct(c, threads, Ab, kp, M, F32Rows<ROUND>{B, N}, N, K, g.bias, load, C, N);
      continue;
    }
    float* Ab = static_cast<float*>(threadScratch(0));
    copyRows<ROUND>(Ab, kp, g, A);
    const long W = 64;
    const long kv = K / VW * VW;
    parallelFor(threads, ceilDiv(N, W), [&](long t, int) {
      const long j1 = std::min(N, (t + 1) * W);
      for (long j = t * W; j < j1; j++) {
        const float* brow = B + j * K;
        for (long i = 0; i < M; i++) {
          const float* arow = Ab + i * kp;
          V s0{}, s1{};
          long p = 0;
          for (; p + 2 * VW <= kv; p += 2 * VW) {
            if (i == 0 && (p & 15) == 0) __builtin_prefetch(brow + p + PREFETCH_FLOATS);
            s0 += vload(arow + p) * rndv<ROUND>(vload(brow + p));
            s1 += vload(arow + p + VW) * rndv<ROUND>(vload(brow + p + VW));
          }
          for (; p < kv; p += VW) s0 += vload(arow + p) * rndv<ROUND>(vload(brow + p));
          float sum = hsum(s0 + s1);
          for (; p < K; p++) sum += arow[p] * rnd<ROUND>(brow[p]);
          float* out = C + i * N + j;
          *out = sum + (load ? *out : 0.0f) + (g.bias ? g.bias[j] : 0.0f);
        }
      }
    });
  }
}

}  // namespace

double kMatmul(Ctx* c, const double* a) {
  GemmArgs g = readGemmArgs(c, a);
  const bool bf16 = c->bf16 != BF16_NONE;
  // The streaming path keeps A's rows and (without transB) one partial C per thread in scratch.
  const bool small = g.m <= SMALL_M && g.k > 0 &&
                     (size_t)g.m * (ceilDiv(g.k, 16) * 16 + (g.transB ? 0 : (size_t)c->threads * g.n)) * 4 <= SCRATCH_BYTES;
  if (small && g.batch > 0 && g.n > 0 && g.m > 0) {
    if (bf16) gemmSmallM<true>(c, g);
    else gemmSmallM<false>(c, g);
    return 0;
  }
#if defined(__x86_64__)
  if (c->bf16 == BF16_AVX512) {
    bf16avx512::gemm(c, g);
    return 0;
  }
  if (c->bf16 == BF16_AMX) {
    amx::gemm(c, g);
    return 0;
  }
  if (c->bf16 == BF16_AMX_EMULATED) {
    amxemu::gemm(c, g);
    return 0;
  }
#endif
  if (bf16) gemmDriver<F32Policy<true>>(c, g);
  else gemmDriver<F32Policy<false>>(c, g);
  return 0;
}

/** bf16 bits of a float32 vector (nearest, ties to even; NaN stays NaN), in the low halves. */
inline VU bf16Bits(V x) { return (VU)vroundBf16(x) >> 16; }

double kPackBf16(Ctx* c, const double* a) {
  const float* src = fptr(c, a[0]);
  uint16_t* dst = reinterpret_cast<uint16_t*>(fptr(c, a[1]));
  const long rows = (long)a[2], cols = (long)a[3];
  const bool transpose = a[4] != 0;
  const long n = rows * cols;
  if (n <= 0) return 0;
  const int threads = n >= (1 << 16) || c->splitAll ? c->threads : 1;
  if (!transpose) {
    const long blocks = ceilDiv(n, 4096);
    parallelFor(threads, blocks, [&](long b, int) {
      const long i0 = b * 4096, i1 = std::min(n, i0 + 4096);
      long i = i0;
      for (; i + VW <= i1; i += VW) {
        const VU u = bf16Bits(vload(src + i));
        for (int l = 0; l < VW; l++) dst[i + l] = (uint16_t)u[l];
      }
      for (; i < i1; i++) dst[i] = (uint16_t)bf16Bits(vset(src[i]))[0];
    });
    return 0;
  }
  // Transposed (the LM head: wte is V × C, decoding wants C × V): 64 × 64 tiles, so both the reads
  // and the writes stay within a few cache lines per row.
  constexpr long T = 64;
  const long rowTiles = ceilDiv(rows, T), colTiles = ceilDiv(cols, T);
  parallelFor(threads, rowTiles * colTiles, [&](long t, int) {
    const long r0 = (t / colTiles) * T, c0 = (t % colTiles) * T;
    const long r1 = std::min(rows, r0 + T), c1 = std::min(cols, c0 + T);
    for (long r = r0; r < r1; r++) {
      long cc = c0;
      for (; cc + VW <= c1; cc += VW) {
        const VU u = bf16Bits(vload(src + r * cols + cc));
        for (int l = 0; l < VW; l++) dst[(cc + l) * rows + r] = (uint16_t)u[l];
      }
      for (; cc < c1; cc++) dst[cc * rows + r] = (uint16_t)bf16Bits(vset(src[r * cols + cc]))[0];
    }
  });
  return 0;
}

double kMatmulBf16(Ctx* c, const double* a) {
  const float* A = fptr(c, a[0]);
  const uint16_t* B = reinterpret_cast<const uint16_t*>(fptr(c, a[1]));
  float* C = fptr(c, a[2]);
  const float* bias = a[3] != 0 ? fptr(c, a[3]) : nullptr;
  const long M = (long)a[4], N = (long)a[5], K = (long)a[6];
  if (M <= 0 || N <= 0) return 0;
  if (K <= 0) {
    for (long i = 0; i < M; i++)
      for (long j = 0; j < N; j++) C[i * N + j] = bias ? bias[j] : 0.0f;
    return 0;
  }
  const long kp = ceilDiv(K, 16) * 16;
  const int threads = streamThreads(c, (double)M * N * K);
  const long parts = streamParts(threads, K);
  // SMALL_M rows at a time, and as many columns as the partial sums leave room for in scratch:
  // with those, a product the fp32 weights would stream the same way gives the same bits.
  for (long i0 = 0; i0 < M; i0 += SMALL_M) {
    const long mr = std::min(SMALL_M, M - i0);
    float* Ab = static_cast<float*>(threadScratch(0));
    for (long i = 0; i < mr; i++)
      for (long p = 0; p < K; p++) Ab[i * kp + p] = bf16Round(A[(i0 + i) * K + p]);
    const long room = (long)(SCRATCH_BYTES / 4) - mr * kp;
    const long nb = std::max<long>(VW, room / (parts * mr) / VW * VW);
    for (long j0 = 0; j0 < N; j0 += nb) {
      const long w = std::min(nb, N - j0);
      streamProduct(c, threads, Ab, kp, mr, Bf16Rows{B + j0, N}, w, K, bias ? bias + j0 : nullptr, false, C + i0 * N + j0, N);
    }
  }
  return 0;
}

}  // namespace GL_NS
}  // namespace gl
