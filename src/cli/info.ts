// `genlab info`: what genlab runs on.

import os from 'node:os';
import { readFileSync } from 'node:fs';
import { defaultDevice } from '../backend/registry.ts';

export async function infoCommand(): Promise<void> {
  const dev = defaultDevice();
  let flags: string[] = [];
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    const line = cpuinfo.split('\n').find((l) => l.startsWith('flags')) ?? '';
    const wanted = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_tile', 'amx_bf16'];
    flags = wanted.filter((f) => line.split(/\s+/).includes(f));
  } catch {
    flags = ['(unknown: /proc/cpuinfo not readable)'];
  }
  const lines = [
    `backend      ${dev.name}`,
    `threads      ${dev.threads}`,
    `cpu          ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}`,
    `cpu features ${flags.join(' ') || 'none of note'}`,
    `memory       ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `node         ${process.version}`,
  ];
  console.log(lines.join('\n'));
  await dev.close();
}
