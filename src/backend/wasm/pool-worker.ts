// A pool worker (Node worker_threads): instantiates the kernel module on the shared memory, then
// waits for jobs in the control block and claims parts of each until none are left.

import { parentPort, workerData } from 'node:worker_threads';
import { ARGS_BYTE_OFFSET, GEN, KERNEL_NAMES, MAX_ARGS, SPIN, runParts, tagOf, type KernelFn, type WorkerInit } from './pool-protocol.ts';

const init = workerData as WorkerInit;
const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
const exports = instance.exports as Record<string, unknown>;
const setup = exports['init'] as (base: number, bytes: number, slot: number, partials: number, partialBytes: number) => void;
setup(init.scratchBase, init.scratchBytes, init.slot + 1, init.partialsBase, init.partialBytes);
const fns = KERNEL_NAMES.map((name) => exports[name] as KernelFn);
const ctl = new Int32Array(init.control);
const args = new Float64Array(init.control, ARGS_BYTE_OFFSET, MAX_ARGS);

let seen = Atomics.load(ctl, GEN);
// Join the job in flight, if any: claiming is safe whenever a part is left.
runParts(ctl, args, fns, tagOf(seen), init.slot, init.token);
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
  runParts(ctl, args, fns, tagOf(gen), init.slot, init.token);
}
