// bf16 GEMM on AVX512-BF16: vdpbf16ps multiplies pairs of bfloat16 values and adds both
// products into fp32 lanes, so operands are packed as 32-bit (k, k+1) pairs: A panels
// [pair][MR rows], B panels [pair][NR columns]. A 14×32 register tile (28 zmm accumulators)
// consumes one pair per step: two B loads, 14 pair broadcasts, 28 vdpbf16ps. Operands are
// rounded to bf16 by the same integer rounding the emulated path uses, so the two paths multiply
// identical values. Compiled with -mavx512bf16; only called when the CPU reports AVX512-BF16.

#if defined(__x86_64__)
#include <immintrin.h>
#include <time.h>

// GCC 12 flags the deliberately undefined pass-through operand inside _mm512_srli_epi32.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "gemm_driver.h"

namespace gl {
namespace bf16avx512 {
namespace {

/** Rounds 16 floats to bf16 and pairs them: lo from `lo`, hi from `hi` (the VNNI layout). */
inline __m512i pairs16(__m512 lo, __m512 hi) {
  const __m512i bias = _mm512_set1_epi32(0x7fff);
  const __m512i one = _mm512_set1_epi32(1);
  auto round = [&](__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
  };
  __m512i l = _mm512_srli_epi32(round(lo), 16);
  __m512i h = _mm512_and_si512(round(hi), _mm512_set1_epi32((int)0xffff0000u));
  return _mm512_or_si512(l, h);
}

struct Policy {
  static constexpr int MR = 14;
  static constexpr int NR = 32;
  static constexpr long KC = 1024;
  static constexpr long KALIGN = 2;
  static constexpr long MC_MAX = 14 * 48;
  static constexpr long NC_MAX = 1024;

  static long pairs(long kc) { return (kc + 1) / 2; }
  static size_t packABytes(long mc, long kc) { return (size_t)ceilDiv(mc, MR) * MR * pairs(kc) * 4; }
  static void begin() {}
  static void end() {}
  static const void* panelA(const void* pa, long ip, long kc) { return static_cast<const uint32_t*>(pa) + ip * MR * pairs(kc); }
  static const void* panelB(const void* pb, long jp, long kc) { return static_cast<const uint32_t*>(pb) + jp * NR * pairs(kc); }

  static void packA(void* dst, const float* A, long lda, bool trans, long i0, long mc, long p0, long kc) {
    uint32_t* out = static_cast<uint32_t*>(dst);
    const long kp = pairs(kc);
    for (long ip = 0; ip * MR < mc; ip++) {
      const int rows = (int)std::min((long)MR, mc - ip * MR);
      uint32_t* pan = out + ip * MR * kp;
      const long r0 = i0 + ip * MR;
      for (long q = 0; q < kp; q++) {
        const long pl = p0 + 2 * q, ph = pl + 1;
        const bool hasHi = 2 * q + 1 < kc;
        uint32_t* o = pan + q * MR;
        for (int i = 0; i < MR; i++) {
          if (i >= rows) {
            o[i] = 0;
            continue;
          }
          const long r = r0 + i;
          const float lo = trans ? A[pl * lda + r] : A[r * lda + pl];
          const float hi = hasHi ? (trans ? A[ph * lda + r] : A[r * lda + ph]) : 0.0f;
          o[i] = bf16Pair(lo, hi);
        }
      }
    }
  }

  static void packB(void* dst, const float* B, long ldb, bool trans, long p0, long kc, long j0, long nc) {
    uint32_t* out = static_cast<uint32_t*>(dst);
    const long kp = pairs(kc);
    for (long jp = 0; jp * NR < nc; jp++) {
      const int cols = (int)std::min((long)NR, nc - jp * NR);
      uint32_t* pan = out + jp * NR * kp;
      const long c0 = j0 + jp * NR;
      if (!trans) {
        for (long q = 0; q < kp; q++) {
          const float* lo = B + (p0 + 2 * q) * ldb + c0;
          const float* hi = 2 * q + 1 < kc ? lo + ldb : nullptr;
          uint32_t* o = pan + q * NR;
          if (cols == NR) {
            for (int v = 0; v < 2; v++) {
              __m512 l = _mm512_loadu_ps(lo + 16 * v);
              __m512 h = hi ? _mm512_loadu_ps(hi + 16 * v) : _mm512_setzero_ps();
              _mm512_storeu_si512(o + 16 * v, pairs16(l, h));
            }
          } else {
            for (int j = 0; j < NR; j++) o[j] = j < cols ? bf16Pair(lo[j], hi ? hi[j] : 0.0f) : 0;
          }
        }
      } else {
        for (int j = 0; j < NR; j++) {
          if (j >= cols) {
            for (long q = 0; q < kp; q++) pan[q * NR + j] = 0;
            continue;
          }
          const float* src = B + (c0 + j) * ldb + p0;
          for (long q = 0; q < kp; q++) pan[q * NR + j] = bf16Pair(src[2 * q], 2 * q + 1 < kc ? src[2 * q + 1] : 0.0f);
        }
      }
    }
  }

  static void micro(long kc, const void* pav, const void* pbv, float* C, long ldc, int mr, int nr, bool load, const float* bias) {
    const uint32_t* pa = static_cast<const uint32_t*>(pav);
    const uint32_t* pb = static_cast<const uint32_t*>(pbv);
    const long kp = pairs(kc);
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (long q = 0; q < kp; q++) {
      const __m512bh b0 = (__m512bh)_mm512_load_si512(pb + q * NR);
      const __m512bh b1 = (__m512bh)_mm512_load_si512(pb + q * NR + 16);
      for (int i = 0; i < MR; i++) {
        const __m512bh a = (__m512bh)_mm512_set1_epi32((int)pa[q * MR + i]);
        acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
        acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
      }
    }
    if (mr == MR && nr == NR) {
      for (int i = 0; i < MR; i++) {
        for (int v = 0; v < 2; v++) {
          __m512 x = acc[i][v];
          if (load) x = _mm512_add_ps(x, _mm512_loadu_ps(C + i * ldc + 16 * v));
          if (bias) x = _mm512_add_ps(x, _mm512_loadu_ps(bias + 16 * v));
          _mm512_storeu_ps(C + i * ldc + 16 * v, x);
        }
      }
    } else {
      alignas(64) float tile[MR * NR];
      for (int i = 0; i < MR; i++) {
        _mm512_store_ps(tile + i * NR, acc[i][0]);
        _mm512_store_ps(tile + i * NR + 16, acc[i][1]);
      }
      storeTile(tile, NR, C, ldc, mr, nr, load, bias);
    }
  }
};

}  // namespace

void gemm(Ctx* c, const GemmArgs& g) { gemmDriver<Policy>(c, g); }

/**
 * Flops per second of vdpbf16ps over those of fp32 FMA on this core, from two short loops of
 * independent accumulators (best of a few runs). Some CPUs execute vdpbf16ps at a fraction of the
 * FMA rate, which makes the bf16 kernel slower than fp32; the backend then emulates bf16 instead.
 */
double speedupOverFma() {
  auto seconds = [](auto&& body) {
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      body();
      clock_gettime(CLOCK_MONOTONIC, &t1);
      double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
      best = dt < best ? dt : best;
    }
    return best;
  };
  constexpr int N = 40000;  // ~0.5 M instructions per loop: a few ms at load, once per process
  alignas(64) float sink[16];
  double tdp = seconds([&] {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_setzero_ps();
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80);
    for (int k = 0; k < N; k++) {
      for (int i = 0; i < 12; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, a);
      __asm__ volatile("" : "+v"(a));
    }
    for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    _mm512_store_ps(sink, acc[0]);
    __asm__ volatile("" : : "r"(sink) : "memory");
  });
  double tfma = seconds([&] {
    __m512 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm512_setzero_ps();
    __m512 x = _mm512_set1_ps(1.0f);
    for (int k = 0; k < N; k++) {
      for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(x, x, acc[i]);
      __asm__ volatile("" : "+v"(x));
    }
    for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    _mm512_store_ps(sink, acc[0]);
    __asm__ volatile("" : : "r"(sink) : "memory");
  });
  // One vdpbf16ps does twice the multiply-adds of one fp32 FMA.
  return 2.0 * tfma / tdp;
}

}  // namespace bf16avx512
}  // namespace gl
#endif
