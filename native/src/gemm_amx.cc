// bf16 GEMM on AMX tiles (Sapphire Rapids and later). A 32×32 block of C lives in four tile
// registers (16×16 fp32 each); per 32-wide k step, two A tiles (16 rows × 32 bf16) and two B
// tiles (16 pairs × 16 columns, VNNI layout) feed four tdpbf16ps. Panels: A [k block][32 rows]
// [16 pairs] (tile row stride 64 bytes), B [pair][32 columns] as the AVX512-BF16 kernel (tile
// row stride 128 bytes); k is zero-padded to a multiple of 32. The operating system must first
// grant the tile state (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), see cpu.cc).
//
// Built twice: with -mamx-tile -mamx-bf16 (namespace amx), and with GL_AMX_EMULATE (namespace
// amxemu), where the six tile instructions are plain C++ over a thread-local register file.
// Machines without AMX run the emulated build in the tests, which checks the packing, tiling and
// edge handling around the instructions; only the instructions themselves need the hardware.

#if defined(__x86_64__)
#include <cstring>

#include "gemm_driver.h"

#ifndef GL_AMX_EMULATE
#include <immintrin.h>
#define AMX_NS amx
#else
#define AMX_NS amxemu
#endif

namespace gl {
namespace AMX_NS {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t startRow;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

#ifdef GL_AMX_EMULATE
struct TileFile {
  uint8_t t[8][16][64];
};
thread_local TileFile tiles;

inline float bf16ToFloat(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

#define TILE_CONFIG(cfg) ((void)(cfg))
#define TILE_RELEASE() ((void)0)
inline void tileZero(int t) { std::memset(tiles.t[t], 0, sizeof(tiles.t[t])); }
inline void tileLoad(int t, const void* base, long stride) {
  for (int r = 0; r < 16; r++) std::memcpy(tiles.t[t][r], static_cast<const char*>(base) + r * stride, 64);
}
inline void tileStore(int t, void* base, long stride) {
  for (int r = 0; r < 16; r++) std::memcpy(static_cast<char*>(base) + r * stride, tiles.t[t][r], 64);
}
/** C[m][n] += Σ_k A[m].pair[k] · B[k].pair[n], each pair's two products added in turn. */
inline void tileDp(int c, int a, int b) {
  for (int m = 0; m < 16; m++) {
    float* crow = reinterpret_cast<float*>(tiles.t[c][m]);
    const uint16_t* arow = reinterpret_cast<const uint16_t*>(tiles.t[a][m]);
    for (int n = 0; n < 16; n++) {
      float acc = crow[n];
      for (int k = 0; k < 16; k++) {
        const uint16_t* brow = reinterpret_cast<const uint16_t*>(tiles.t[b][k]);
        acc += bf16ToFloat(arow[2 * k]) * bf16ToFloat(brow[2 * n]);
        acc += bf16ToFloat(arow[2 * k + 1]) * bf16ToFloat(brow[2 * n + 1]);
      }
      crow[n] = acc;
    }
  }
}
#define TILE_ZERO(t) tileZero(t)
#define TILE_LOAD(t, base, stride) tileLoad(t, base, stride)
#define TILE_STORE(t, base, stride) tileStore(t, base, stride)
#define TILE_DP(c, a, b) tileDp(c, a, b)
#else
#define TILE_CONFIG(cfg) _tile_loadconfig(cfg)
#define TILE_RELEASE() _tile_release()
#define TILE_ZERO(t) _tile_zero(t)
#define TILE_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define TILE_STORE(t, base, stride) _tile_stored(t, base, stride)
#define TILE_DP(c, a, b) _tile_dpbf16ps(c, a, b)
#endif

struct Policy {
  static constexpr int MR = 32;
  static constexpr int NR = 32;
  static constexpr long KC = 1024;
  static constexpr long KALIGN = 32;
  static constexpr long MC_MAX = 32 * 24;
  static constexpr long NC_MAX = 1024;

  /** Pairs per panel row: k padded to a multiple of 32 values. */
  static long pairs(long kc) { return (kc + 31) / 32 * 16; }
  static size_t packABytes(long mc, long kc) { return (size_t)ceilDiv(mc, MR) * MR * pairs(kc) * 4; }
  static const void* panelA(const void* pa, long ip, long kc) { return static_cast<const uint32_t*>(pa) + ip * MR * pairs(kc); }
  static const void* panelB(const void* pb, long jp, long kc) { return static_cast<const uint32_t*>(pb) + jp * NR * pairs(kc); }

  static void begin() {
    TileConfig cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
      cfg.colsb[t] = 64;
      cfg.rows[t] = 16;
    }
    TILE_CONFIG(&cfg);
  }
  static void end() { TILE_RELEASE(); }

  static void packA(void* dst, const float* A, long lda, bool trans, long i0, long mc, long p0, long kc) {
    uint32_t* out = static_cast<uint32_t*>(dst);
    const long kp = pairs(kc);
    for (long ip = 0; ip * MR < mc; ip++) {
      const int rows = (int)std::min((long)MR, mc - ip * MR);
      uint32_t* pan = out + ip * MR * kp;
      for (int i = 0; i < MR; i++) {
        const long r = i0 + ip * MR + i;
        for (long q = 0; q < kp; q++) {
          uint32_t* o = pan + (q / 16) * (MR * 16) + i * 16 + (q % 16);
          const long pl = 2 * q, ph = pl + 1;
          if (i >= rows || pl >= kc) {
            *o = 0;
            continue;
          }
          const float lo = trans ? A[(p0 + pl) * lda + r] : A[r * lda + p0 + pl];
          const float hi = ph < kc ? (trans ? A[(p0 + ph) * lda + r] : A[r * lda + p0 + ph]) : 0.0f;
          *o = bf16Pair(lo, hi);
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
      for (long q = 0; q < kp; q++) {
        const long pl = 2 * q, ph = pl + 1;
        uint32_t* o = pan + q * NR;
        for (int j = 0; j < NR; j++) {
          if (j >= cols || pl >= kc) {
            o[j] = 0;
            continue;
          }
          const long col = c0 + j;
          const float lo = trans ? B[col * ldb + p0 + pl] : B[(p0 + pl) * ldb + col];
          const float hi = ph < kc ? (trans ? B[col * ldb + p0 + ph] : B[(p0 + ph) * ldb + col]) : 0.0f;
          o[j] = bf16Pair(lo, hi);
        }
      }
    }
  }

  static void micro(long kc, const void* pav, const void* pbv, float* C, long ldc, int mr, int nr, bool load, const float* bias) {
    const uint32_t* pa = static_cast<const uint32_t*>(pav);
    const uint32_t* pb = static_cast<const uint32_t*>(pbv);
    const long blocks = pairs(kc) / 16;
    TILE_ZERO(0);
    TILE_ZERO(1);
    TILE_ZERO(2);
    TILE_ZERO(3);
    for (long kb = 0; kb < blocks; kb++) {
      const uint32_t* a = pa + kb * MR * 16;
      const uint32_t* b = pb + kb * 16 * NR;
      TILE_LOAD(4, a, 64);
      TILE_LOAD(5, a + 16 * 16, 64);
      TILE_LOAD(6, b, NR * 4);
      TILE_LOAD(7, b + 16, NR * 4);
      TILE_DP(0, 4, 6);
      TILE_DP(1, 4, 7);
      TILE_DP(2, 5, 6);
      TILE_DP(3, 5, 7);
    }
    alignas(64) float tile[MR * NR];
    TILE_STORE(0, tile, NR * 4);
    TILE_STORE(1, tile + 16, NR * 4);
    TILE_STORE(2, tile + 16 * NR, NR * 4);
    TILE_STORE(3, tile + 16 * NR + 16, NR * 4);
    storeTile(tile, NR, C, ldc, mr, nr, load, bias);
  }
};

}  // namespace

void gemm(Ctx* c, const GemmArgs& g) { gemmDriver<Policy>(c, g); }

}  // namespace AMX_NS
}  // namespace gl
#endif
