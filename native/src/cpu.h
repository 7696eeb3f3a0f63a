// CPU features the addon dispatches on, and the AMX tile permission request.

#pragma once

namespace gl {

struct CpuFeatures {
  bool avx2 = false;        // AVX2 + FMA, with the OS saving ymm state
  bool avx512 = false;      // AVX-512 F/BW/VL/DQ, with the OS saving zmm state
  bool avx512bf16 = false;  // vdpbf16ps
  bool amxHardware = false; // AMX-TILE + AMX-BF16 reported by cpuid
  bool amxGranted = false;  // ... and the kernel granted this process the tile state
  const char* amxStatus = "";  // why AMX is or is not usable, for `genlab info`
  double avx512bf16Speedup = 0;  // vdpbf16ps flops/s over fp32 FMA flops/s (measured at load)
};

/** Detected once (the first call also asks the kernel for AMX tile permission). */
const CpuFeatures& cpuFeatures();

}  // namespace gl
