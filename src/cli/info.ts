// `genlab info`: what genlab runs on: the chosen backend and why, the CPU features the native
// kernels dispatch on (AMX, AVX-512, AVX2), and the thread count.

import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { backendOption, initDevice, threadsOption } from './options.ts';

export function infoCommand(): Command {
  return new Command('info')
    .description('print the backend, CPU features and thread count genlab would use')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      await initDevice(opts);
      await printInfo();
    });
}

async function printInfo(): Promise<void> {
  const { defaultDevice, devicePrecision } = await import('../backend/registry.ts');
  const dev = defaultDevice();
  let flags: string[] = [];
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    const line = cpuinfo.split('\n').find((l) => l.startsWith('flags')) ?? '';
    const wanted = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16'];
    flags = wanted.filter((f) => line.split(/\s+/).includes(f));
  } catch {
    flags = ['(unknown: /proc/cpuinfo not readable)'];
  }
  const { nativeStatus } = await import('../backend/native/native-addon.ts');
  const st = nativeStatus();
  let native: string;
  if (!st.features) {
    native = `unavailable: ${st.reason}`;
  } else {
    const { defaultIsa, defaultBf16Kernel } = await import('../backend/native/native-backend.ts');
    const f = st.features;
    const isa = defaultIsa(f);
    const speed = f.avx512bf16 ? `, vdpbf16ps ${f.avx512bf16Speedup.toFixed(2)}× the fp32 FMA rate` : '';
    native = `built; kernels ${isa} (this CPU runs ${f.isas.join(', ')}); bf16 GEMM ${defaultBf16Kernel(isa, f)}${speed}; AMX ${f.amxStatus}`;
  }
  const lines = [
    `backend      ${dev.name}${process.env['GENLAB_BACKEND'] ? ' (from GENLAB_BACKEND)' : ''}`,
    `precision    ${devicePrecision(dev)} matmuls`,
    `threads      ${dev.threads}`,
    `native       ${native}`,
    `cpu          ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}`,
    `cpu features ${flags.join(' ') || 'none of note'}`,
    `memory       ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `node         ${process.version}`,
  ];
  console.log(lines.join('\n'));
  await dev.close();
}
