// A pool worker (Node worker_threads): instantiates the kernel module on the shared memory, then
// waits for jobs in the control block and runs its slice of each one it takes part in.

import { parentPort, workerData } from 'node:worker_threads';
import {
  ARGS_BYTE_OFFSET,
  ERROR,
  GEN,
  KERNEL,
  KERNEL_NAMES,
  MAX_ARGS,
  NTHREADS,
  PENDING,
  READY,
  SPIN,
  callKernel,
  type KernelFn,
  type WorkerInit,
} from './pool-protocol.ts';

const init = workerData as WorkerInit & { token: number };
const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
const exports = instance.exports as Record<string, unknown>;
(exports['init'] as (base: number, bytes: number) => void)(init.scratchBase, init.scratchBytes);
const fns = KERNEL_NAMES.map((name) => exports[name] as KernelFn);
const ctl = new Int32Array(init.control);
const args = new Float64Array(init.control, ARGS_BYTE_OFFSET, MAX_ARGS);
const tid = init.slot + 1;
const readySlot = READY + init.slot;

// Read the generation before announcing readiness: a job the caller counted us in is newer.
let seen = Atomics.load(ctl, GEN);
Atomics.store(ctl, readySlot, init.token);
parentPort?.postMessage('ready');

for (;;) {
  let gen = Atomics.load(ctl, GEN);
  let spins = 0;
  while (gen === seen) {
    if (++spins > SPIN) {
      Atomics.wait(ctl, GEN, seen);
      spins = 0;
    }
    gen = Atomics.load(ctl, GEN);
  }
  seen = gen;
  // A retired slot's token no longer matches, so a worker being terminated never takes part.
  if (tid < Atomics.load(ctl, NTHREADS) && Atomics.load(ctl, readySlot) === init.token) {
    try {
      callKernel(fns[Atomics.load(ctl, KERNEL)]!, tid, Atomics.load(ctl, NTHREADS), args);
    } catch {
      Atomics.store(ctl, ERROR, 1);
    }
    if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
  }
}
