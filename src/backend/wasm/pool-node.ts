// The worker pool on Node's worker_threads (Node-only; a browser build swaps in Web Workers that
// speak the same protocol, see pool-protocol.ts). Workers instantiate the kernel module on the
// same shared WebAssembly.Memory; a job is dispatched through a shared control block with
// Atomics, so a call costs microseconds, not a postMessage round trip.

import { Worker } from 'node:worker_threads';
import {
  ARGS_BYTE_OFFSET,
  CONTROL_BYTES,
  ERROR,
  GEN,
  KERNEL,
  KERNEL_NAMES,
  MAX_ARGS,
  MAX_WORKERS,
  NTHREADS,
  PENDING,
  READY,
  SPIN,
  callKernel,
  type KernelFn,
  type ThreadPool,
  type WorkerInit,
} from './pool-protocol.ts';

export interface NodePoolOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The calling thread's kernel exports, in KERNEL_NAMES order. */
  fns: readonly KernelFn[];
  scratchBase: number;
  scratchBytes: number;
  threads: number;
}

// Same folder, same extension: .ts under tsx (tests, bench), .js from the compiled dist/.
const workerUrl = new URL(`./pool-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * What `new Worker` runs. Node 20.6+ loads a worker's entry module before the `--import tsx`
 * hooks it inherits are active, so a .ts worker starts from a one-line bootstrap that registers
 * tsx and then imports it.
 */
function workerEntry(): { entry: string | URL; eval: boolean } {
  if (!workerUrl.pathname.endsWith('.ts')) return { entry: workerUrl, eval: false };
  let api: string;
  try {
    api = import.meta.resolve('tsx/esm/api');
  } catch {
    throw new Error(`the wasm pool worker ${workerUrl.pathname} is TypeScript and needs tsx; install tsx or run the compiled dist/`);
  }
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return { entry: code, eval: true };
}

interface Slot {
  worker: Worker;
  token: number;
  ready: Promise<void>;
}

let nextToken = 1;

export function createNodePool(opts: NodePoolOptions): ThreadPool {
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ctl = new Int32Array(control);
  const args = new Float64Array(control, ARGS_BYTE_OFFSET, MAX_ARGS);
  const slots: Slot[] = [];
  const { entry, eval: evalEntry } = workerEntry();
  let closed = false;

  function spawn(slot: number): Slot {
    const token = nextToken++;
    const init: WorkerInit & { token: number } = {
      module: opts.module,
      memory: opts.memory,
      control,
      slot,
      scratchBase: opts.scratchBase,
      scratchBytes: opts.scratchBytes,
      token,
    };
    const worker = new Worker(entry, { workerData: init, eval: evalEntry });
    // A process that forgets close() must still exit.
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', (err: Error) => {
        Atomics.store(ctl, READY + slot, 0);
        reject(new Error(`wasm pool worker ${slot + 1} failed to start: ${err.message}`));
      });
      worker.once('exit', (code) => {
        if (Atomics.load(ctl, READY + slot) === token) Atomics.store(ctl, READY + slot, 0);
        reject(new Error(`wasm pool worker ${slot + 1} exited (code ${code}) before it was ready`));
      });
    });
    // Rejections surface through ready(); never as unhandled ones.
    ready.catch(() => {});
    return { worker, token, ready };
  }

  function retire(s: Slot, slot: number): Promise<number> {
    Atomics.store(ctl, READY + slot, 0);
    return s.worker.terminate();
  }

  function resize(threads: number): void {
    if (closed) throw new Error('setThreads: the wasm backend was closed');
    const want = threads - 1;
    if (want > MAX_WORKERS) throw new Error(`setThreads: at most ${MAX_WORKERS + 1} threads are supported, got ${threads}`);
    while (slots.length > want) {
      const slot = slots.length - 1;
      void retire(slots.pop()!, slot);
    }
    while (slots.length < want) slots.push(spawn(slots.length));
  }

  resize(opts.threads);

  return {
    args,

    available(): number {
      let n = 1;
      while (n - 1 < slots.length && Atomics.load(ctl, READY + n - 1) === slots[n - 1]!.token) n++;
      return n;
    },

    run(id: number, nt: number): unknown {
      const fn = opts.fns[id]!;
      if (nt <= 1) return callKernel(fn, 0, 1, args);
      ctl[KERNEL] = id;
      ctl[NTHREADS] = nt;
      ctl[ERROR] = 0;
      Atomics.store(ctl, PENDING, nt - 1);
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
      let result: unknown;
      let failure: unknown = null;
      try {
        result = callKernel(fn, 0, nt, args);
      } catch (err) {
        failure = err;
      }
      // Always join: the next job must not overwrite arguments a worker is still reading.
      let spins = 0;
      let pending: number;
      while ((pending = Atomics.load(ctl, PENDING)) !== 0) {
        if (++spins > SPIN) {
          Atomics.wait(ctl, PENDING, pending, 100);
          spins = 0;
        }
      }
      if (failure) throw failure;
      if (Atomics.load(ctl, ERROR) !== 0) {
        throw new Error(`wasm kernel ${KERNEL_NAMES[id]} trapped in a worker thread (an out-of-bounds pointer or size?); check its arguments`);
      }
      return result;
    },

    resize,

    async ready(): Promise<void> {
      await Promise.all(slots.map((s) => s.ready));
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const stopping = slots.map((s, i) => retire(s, i));
      slots.length = 0;
      await Promise.all(stopping);
    },
  };
}
