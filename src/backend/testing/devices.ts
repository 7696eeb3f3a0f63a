// The devices every shared suite runs on: ref; wasm with one and two threads; and every native
// instruction-set path this machine runs, each selected explicitly (portable and AVX2 one thread,
// the best one with two, AVX-512 with one and two, AMX where the OS grants it). A missing wasm
// build is an error, not a skip: `npm install` builds it. The native addon is optional (it needs
// a C++ compiler); src/backend/native/native-backend.test.ts fails when a compiler is present but
// the addon is not built.

import type { Device } from '../device.ts';
import { nativeStatus } from '../native/native-addon.ts';
import { createDevice } from '../registry.ts';

export interface TestDevice {
  name: string;
  make: () => Promise<Device>;
}

type Isa = 'portable' | 'avx2' | 'avx512' | 'amx';

function nativeDevices(): TestDevice[] {
  const isas = (nativeStatus().features?.isas ?? []) as Isa[];
  const plan: [Isa, number][] = [
    ['portable', 1],
    ['avx2', 1],
    ['avx512', 1],
    ['avx512', 2],
    ['amx', 2],
  ];
  return plan
    .filter(([isa]) => isas.includes(isa))
    .map(([isa, threads]) => ({
      name: `native ${isa}×${threads}`,
      make: () => createDevice({ backend: 'native', threads, precision: 'fp32', native: { isa } }),
    }));
}

export const testDevices: readonly TestDevice[] = [
  { name: 'ref', make: () => createDevice({ backend: 'ref', precision: 'fp32' }) },
  { name: 'wasm×1', make: () => createDevice({ backend: 'wasm', threads: 1, precision: 'fp32' }) },
  { name: 'wasm×2', make: () => createDevice({ backend: 'wasm', threads: 2, precision: 'fp32' }) },
  ...nativeDevices(),
];
