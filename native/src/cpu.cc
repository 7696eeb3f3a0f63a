// CPU feature detection with cpuid + xgetbv (a feature counts only when the OS also saves its
// register state), and AMX enablement: Linux hands out the 8 KiB tile state only to processes
// that ask for it with arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); a refusal (old
// kernel, seccomp, hypervisor) leaves AMX off and the bf16 GEMM uses AVX512-BF16 or emulation.

#include "cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace gl {
#if defined(__x86_64__)
namespace bf16avx512 { double speedupOverFma(); }
#endif
namespace {

#if defined(__x86_64__)
constexpr int ARCH_GET_XCOMP_PERM = 0x1022;
constexpr int ARCH_REQ_XCOMP_PERM = 0x1023;
constexpr int XFEATURE_XTILEDATA = 18;

unsigned long long xgetbv0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  const bool fma = c & (1u << 12);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool ymmState = (xcr0 & 0x6) == 0x6;
  const bool zmmState = (xcr0 & 0xe6) == 0xe6;
  const bool tileState = (xcr0 & (3ull << 17)) == (3ull << 17);
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool f512 = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  const bool amxBf16 = d & (1u << 22), amxTile = d & (1u << 24);
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  const bool bf16 = a1 & (1u << 5);
  f.avx2 = avx2 && fma && ymmState;
  f.avx512 = f.avx2 && f512 && dq && bw && vl && zmmState;
  f.avx512bf16 = f.avx512 && bf16;
  f.amxHardware = amxTile && amxBf16;
  if (f.avx512bf16) f.avx512bf16Speedup = bf16avx512::speedupOverFma();
  if (!f.amxHardware) {
    f.amxStatus = "not reported by this CPU";
  } else if (!tileState) {
    f.amxStatus = "the OS does not enable the tile state (XCR0)";
  } else if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
    f.amxStatus = "the kernel refused arch_prctl(ARCH_REQ_XCOMP_PERM)";
  } else {
    unsigned long long perm = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) == 0 && (perm & (1ull << XFEATURE_XTILEDATA))) {
      f.amxGranted = f.avx512;
      f.amxStatus = f.avx512 ? "granted" : "needs AVX-512 for the rest of the kernels";
    } else {
      f.amxStatus = "the kernel did not grant the tile state";
    }
  }
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
  f.amxStatus = "not an x86-64 CPU";
  return f;
}
#endif

}  // namespace

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace gl
