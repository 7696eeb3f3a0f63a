// The blocked GEMM driver shared by every micro-kernel (fp32 per ISA, bf16 AVX512-BF16, AMX):
// C is cut into mc×nc tiles that become tasks; a task walks K in kc chunks, packs its A block
// into MR-row panels and its B block into NR-column panels (in its thread's scratch), and runs
// the micro-kernel over the panels. Packing makes every micro-kernel read unit-stride, aligned
// data for any transpose flags, and each C element is produced by one task in a fixed order, so
// results do not depend on thread timing.
//
// Everything here has internal linkage: each translation unit (compiled for its own instruction
// set) gets its own copy, so the linker can never pick an AVX-512 instance for a portable build.

#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common.h"
#include "pool.h"

namespace gl {

struct GemmArgs {
  const float* a;
  const float* b;
  float* c;
  const float* bias;  // nullptr when none
  long batch, m, n, k;
  bool transA, transB;
  long strideA, strideB, strideC;
  bool accumulate;
};

namespace {

inline GemmArgs readGemmArgs(Ctx* c, const double* x) {
  GemmArgs g;
  g.a = fptr(c, x[0]);
  g.b = fptr(c, x[1]);
  g.c = fptr(c, x[2]);
  g.bias = x[3] != 0 ? fptr(c, x[3]) : nullptr;
  g.batch = (long)x[4];
  g.m = (long)x[5];
  g.n = (long)x[6];
  g.k = (long)x[7];
  g.transA = x[8] != 0;
  g.transB = x[9] != 0;
  g.strideA = (long)x[10];
  g.strideB = (long)x[11];
  g.strideC = (long)x[12];
  g.accumulate = x[13] != 0;
  return g;
}

/** Round-to-nearest-even float32 → bfloat16 bits; NaN stays a (quiet) NaN. */
inline uint32_t bf16Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

inline float bf16Round(float x) {
  uint32_t u = bf16Bits(x) << 16;
  float y;
  std::memcpy(&y, &u, 4);
  return y;
}

/** Two bf16 values in one 32-bit word: lo in bits 0-15, hi in 16-31 (the VNNI pair layout). */
inline uint32_t bf16Pair(float lo, float hi) { return bf16Bits(lo) | (bf16Bits(hi) << 16); }

/** C = A·B for k = 0 (bias and/or the old C only). */
inline void gemmNoK(const GemmArgs& g) {
  for (long t = 0; t < g.batch; t++) {
    float* C = g.c + t * g.strideC;
    for (long i = 0; i < g.m; i++)
      for (long j = 0; j < g.n; j++) C[i * g.n + j] = (g.accumulate ? C[i * g.n + j] : 0.0f) + (g.bias ? g.bias[j] : 0.0f);
  }
}

inline long ceilDiv(long a, long b) { return (a + b - 1) / b; }

/** Bytes of packed A a task keeps hot in L2 (Sapphire Rapids: 2 MiB per core). */
constexpr size_t L2_A_BYTES = size_t(1) << 20;

/**
 * How C is cut into tasks. Packing costs about one element move per element of the A and B
 * blocks, so a task should be as close to square and as large as possible: a task packs its B
 * block (kc × nc) once per k chunk and reuses it for every M tile of its group. More tasks than
 * threads only where needed (2 per thread, so a thread the OS delays leaves work to the other);
 * N is split first while tiles stay at least 384 wide, then M into groups.
 */
struct TilePlan {
  long mc, nc, tilesM, tilesN, groups;
};

inline TilePlan planTiles(long m, long n, long units, int threads, long mr, long nr, long mcMax, long ncMax) {
  TilePlan t;
  const long target = threads > 1 ? 2L * threads : 1;
  long tn = ceilDiv(n, ncMax);
  while (units * tn < target && ceilDiv(n, tn + 1) >= 384) tn++;
  t.nc = std::min(ncMax, ceilDiv(ceilDiv(n, tn), nr) * nr);
  t.tilesN = ceilDiv(n, t.nc);
  long groups = std::max(1L, ceilDiv(target, units * t.tilesN));
  groups = std::min(groups, ceilDiv(m, mr));
  const long tm = std::max(ceilDiv(m, mcMax), groups);
  t.mc = std::min(mcMax, ceilDiv(ceilDiv(m, tm), mr) * mr);
  t.tilesM = ceilDiv(m, t.mc);
  t.groups = std::min(groups, t.tilesM);
  return t;
}

/**
 * P (the micro-kernel policy) provides: MR, NR, KC (largest k chunk), KALIGN (chunk multiple),
 * MC_MAX, NC_MAX; packABytes(mc, kc) and
 * packBBytes(kc, nc); packA(dst, A, lda, transA, i0, mc, p0, kc) and packB(dst, B, ldb, transB,
 * p0, kc, j0, nc) writing zero-padded panels; panelA(pa, ip, kc) / panelB(pb, jp, kc);
 * begin(thread) / end() around a task (AMX tile configuration); and
 * micro(kc, pa, pb, C, ldc, mr, nr, load, bias).
 */
template <class P>
void gemmDriver(Ctx* c, const GemmArgs& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    gemmNoK(g);
    return;
  }
  // Batch entries writing overlapping C (a stride-0 C sums a shared weight's gradient) run in
  // order inside each tile's task.
  const bool sharedC = g.batch > 1 && g.strideC < g.m * g.n;
  const long units = sharedC ? 1 : g.batch;
  const double macs = (double)g.batch * g.m * g.n * g.k;
  const int threads = (macs >= (double)(1 << 18) || c->splitAll) ? c->threads : 1;
  // K in equal chunks of at most KC (k = 384 is one chunk of 384, not 256 + 128).
  const long chunks = ceilDiv(g.k, P::KC);
  const long kcStep = std::min<long>(P::KC, ceilDiv(ceilDiv(g.k, chunks), P::KALIGN) * P::KALIGN);
  // The packed A block is re-read for every B panel: keep it within about half of L2.
  const long mcFit = std::max<long>(P::MR, (long)(L2_A_BYTES / P::packABytes(P::MR, kcStep)) * P::MR);
  const TilePlan plan = planTiles(g.m, g.n, units, threads, P::MR, P::NR, std::min<long>(P::MC_MAX, mcFit), P::NC_MAX);
  const long mc = plan.mc, nc = plan.nc;
  const long lda = g.transA ? g.m : g.k;
  const long ldb = g.transB ? g.k : g.n;
  const long perUnit = plan.tilesN * plan.groups;
  parallelFor(threads, units * perUnit, [&](long t, int th) {
    const long unit = t / perUnit;
    const long rem = t % perUnit;
    const long tn = rem / plan.groups, grp = rem % plan.groups;
    const long j0 = tn * nc, ncE = std::min(nc, g.n - j0);
    const long m0 = grp * plan.tilesM / plan.groups, m1 = (grp + 1) * plan.tilesM / plan.groups;
    char* scratch = static_cast<char*>(threadScratch(th));
    void* pa = scratch;
    // 64 bytes of slack after packed A: packers may write a few floats past their last panel.
    void* pb = scratch + ((P::packABytes(mc, P::KC) + 64 + 63) & ~size_t(63));
    P::begin();
    const long b0 = sharedC ? 0 : unit, b1 = sharedC ? g.batch : unit + 1;
    for (long bi = b0; bi < b1; bi++) {
      const float* A = g.a + bi * g.strideA;
      const float* B = g.b + bi * g.strideB;
      float* C = g.c + bi * g.strideC;
      for (long p0 = 0; p0 < g.k; p0 += kcStep) {
        const long kc = std::min(kcStep, g.k - p0);
        const bool load = g.accumulate || p0 > 0;
        const float* bias = p0 == 0 ? g.bias : nullptr;
        P::packB(pb, B, ldb, g.transB, p0, kc, j0, ncE);
        for (long tm = m0; tm < m1; tm++) {
          const long i0 = tm * mc, mcE = std::min(mc, g.m - i0);
          P::packA(pa, A, lda, g.transA, i0, mcE, p0, kc);
          for (long jp = 0; jp * P::NR < ncE; jp++) {
            const int nr = (int)std::min((long)P::NR, ncE - jp * P::NR);
            const void* pbp = P::panelB(pb, jp, kc);
            for (long ip = 0; ip * P::MR < mcE; ip++) {
              const int mr = (int)std::min((long)P::MR, mcE - ip * P::MR);
              float* Ct = C + (i0 + ip * P::MR) * g.n + j0 + jp * P::NR;
              P::micro(kc, P::panelA(pa, ip, kc), pbp, Ct, g.n, mr, nr, load, bias ? bias + j0 + jp * P::NR : nullptr);
            }
          }
        }
      }
    }
    P::end();
  });
}

/** Adds a finished MR×NR tile (row stride NR) into C: C = tile (+ C when load) (+ bias). */
inline void storeTile(const float* tile, long ldt, float* C, long ldc, int mr, int nr, bool load, const float* bias) {
  for (int i = 0; i < mr; i++) {
    float* row = C + i * ldc;
    const float* t = tile + i * ldt;
    for (int j = 0; j < nr; j++) row[j] = t[j] + (load ? row[j] : 0.0f) + (bias ? bias[j] : 0.0f);
  }
}

}  // namespace
}  // namespace gl
