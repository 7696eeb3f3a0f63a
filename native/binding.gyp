# The genlab native backend (a Node-API addon). The element-wise, row, attention and GEMM kernels
# (src/k_*.cc) are compiled once per instruction set into static libraries with their own
# -m flags (portable, AVX2+FMA, AVX-512), plus the bf16 GEMMs that need AVX512-BF16 and AMX; the
# addon picks one at run time from cpuid, so the binary runs on any x86-64 CPU. On other
# architectures only the portable build is compiled.
{
  'variables': {
    'isa_sources': [
      'src/k_elementwise.cc',
      'src/k_strided.cc',
      'src/k_rows.cc',
      'src/k_attention.cc',
      'src/k_gemm.cc',
      'src/k_q8.cc',
      'src/k_table.cc',
    ],
  },
  'target_defaults': {
    'cflags!': ['-fno-exceptions', '-O2', '-O0'],
    'cflags': ['-fPIC'],
    'cflags_cc!': ['-fno-exceptions', '-std=gnu++17', '-std=c++17', '-fno-rtti'],
    'cflags_cc': ['-std=gnu++20', '-O3', '-fno-math-errno', '-fno-trapping-math', '-fno-semantic-interposition', '-Wall', '-Wno-unused-function'],
    'defines': ['NAPI_VERSION=8'],
  },
  'targets': [
    {
      'target_name': 'isa_portable',
      'type': 'static_library',
      'sources': ['<@(isa_sources)'],
      'defines': ['GL_ISA=0'],
    },
    {
      'target_name': 'genlab_native',
      'sources': ['src/addon.cc', 'src/pool.cc', 'src/cpu.cc'],
      'dependencies': ['isa_portable'],
      'conditions': [
        ['target_arch=="x64"', {
          'dependencies': ['isa_avx2', 'isa_avx512', 'gemm_bf16', 'gemm_amx', 'gemm_amx_emulated'],
        }],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'isa_avx2',
          'type': 'static_library',
          'sources': ['<@(isa_sources)'],
          'defines': ['GL_ISA=1'],
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
        },
        {
          'target_name': 'isa_avx512',
          'type': 'static_library',
          'sources': ['<@(isa_sources)'],
          'defines': ['GL_ISA=2'],
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mprefer-vector-width=512'],
        },
        {
          'target_name': 'gemm_bf16',
          'type': 'static_library',
          'sources': ['src/gemm_bf16.cc'],
          'cflags_cc': ['-mavx2', '-mfma', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mavx512bf16'],
        },
        {
          'target_name': 'gemm_amx',
          'type': 'static_library',
          'sources': ['src/gemm_amx.cc'],
          'cflags_cc': ['-mavx2', '-mfma', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mamx-tile', '-mamx-bf16'],
        },
        {
          'target_name': 'gemm_amx_emulated',
          'type': 'static_library',
          'sources': ['src/gemm_amx.cc'],
          'defines': ['GL_AMX_EMULATE'],
        },
      ],
    }],
  ],
}
