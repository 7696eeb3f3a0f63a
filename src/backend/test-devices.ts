// The devices every shared suite runs on: ref, and wasm with one and two threads. A missing wasm
// build is an error, not a skip: `npm install` builds it.

import type { Device } from './device.ts';
import { createDevice } from './registry.ts';

export interface TestDevice {
  name: string;
  make: () => Promise<Device>;
}

export const testDevices: readonly TestDevice[] = [
  { name: 'ref', make: () => createDevice({ backend: 'ref' }) },
  { name: 'wasm×1', make: () => createDevice({ backend: 'wasm', threads: 1 }) },
  { name: 'wasm×2', make: () => createDevice({ backend: 'wasm', threads: 2 }) },
];
