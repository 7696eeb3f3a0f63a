// The worker pool on Node's worker_threads (Node-only; a browser build swaps in Web Workers that
// speak the same protocol, see pool-protocol.ts). Workers instantiate the kernel module on the
// same shared WebAssembly.Memory; a job is dispatched through a shared control block with
// Atomics, so a call costs microseconds, not a postMessage round trip.

import { Worker } from 'node:worker_threads';
import {
  ARGS_BYTE_OFFSET,
  CONTROL_BYTES,
  DONE,
  ERROR,
  GEN,
  KERNEL,
  KERNEL_NAMES,
  MAX_ARGS,
  MAX_PARTS,
  MAX_WORKERS,
  NEXT,
  NPARTS,
  SPIN,
  STATE,
  callKernel,
  runParts,
  tagOf,
  type KernelFn,
  type ThreadPool,
  type WorkerInit,
} from './pool-protocol.ts';

export interface NodePoolOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The calling thread's kernel exports, in KERNEL_NAMES order (undefined where wasm lacks one). */
  fns: readonly (KernelFn | undefined)[];
  scratchBase: number;
  scratchBytes: number;
  partialsBase: number;
  partialBytes: number;
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
  ready: Promise<void>;
}

export function createNodePool(opts: NodePoolOptions): ThreadPool {
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ctl = new Int32Array(control);
  const args = new Float64Array(control, ARGS_BYTE_OFFSET, MAX_ARGS);
  const slots: Slot[] = [];
  const { entry, eval: evalEntry } = workerEntry();
  let gen = 0;
  let nextToken = 1;
  let closed = false;

  function spawn(slot: number): Slot {
    const token = nextToken++;
    Atomics.store(ctl, STATE + slot, token);
    const init: WorkerInit = {
      token,
      module: opts.module,
      memory: opts.memory,
      control,
      slot,
      scratchBase: opts.scratchBase,
      scratchBytes: opts.scratchBytes,
      partialsBase: opts.partialsBase,
      partialBytes: opts.partialBytes,
    };
    const worker = new Worker(entry, { workerData: init, eval: evalEntry });
    // A process that forgets close() must still exit.
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', (err: Error) => reject(new Error(`wasm pool worker ${slot + 1} failed to start: ${err.message}`)));
      worker.once('exit', (code) => reject(new Error(`wasm pool worker ${slot + 1} exited (code ${code}) before it was ready`)));
    });
    // Rejections surface through ready(); never as unhandled ones.
    ready.catch(() => {});
    return { worker, ready };
  }

  function resize(threads: number): void {
    if (closed) throw new Error('setThreads: the wasm backend was closed');
    const want = threads - 1;
    if (want > MAX_WORKERS) throw new Error(`setThreads: at most ${MAX_WORKERS + 1} threads are supported, got ${threads}`);
    while (slots.length > want) void retire(slots.length - 1);
    while (slots.length < want) slots.push(spawn(slots.length));
  }

  function retire(slot: number): Promise<number> {
    // Revoke first: terminate() is asynchronous, and the worker must not claim parts meanwhile.
    Atomics.store(ctl, STATE + slot, 0);
    const s = slots.splice(slot, 1)[0]!;
    return s.worker.terminate();
  }

  resize(opts.threads);

  return {
    args,

    get size(): number {
      return slots.length + 1;
    },

    run(id: number, parts: number): unknown {
      if (parts <= 1 || slots.length === 0) return callKernel(opts.fns[id]!, 0, 1, args);
      if (parts > MAX_PARTS) throw new Error(`wasm pool: ${parts} parts requested, at most ${MAX_PARTS} are supported`);
      ctl[KERNEL] = id;
      ctl[NPARTS] = parts;
      ctl[ERROR] = 0;
      ctl[DONE] = 0;
      gen = (gen + 1) | 0;
      const tag = tagOf(gen);
      Atomics.store(ctl, NEXT, tag << 8);
      Atomics.store(ctl, GEN, gen);
      Atomics.notify(ctl, GEN);
      const result = runParts(ctl, args, opts.fns, tag);
      // Parts other threads claimed may still run; the next job must not overwrite their arguments.
      let spins = 0;
      let done: number;
      while ((done = Atomics.load(ctl, DONE)) !== parts) {
        if (++spins > SPIN) {
          Atomics.wait(ctl, DONE, done, 100);
          spins = 0;
        }
      }
      if (Atomics.load(ctl, ERROR) !== 0) {
        throw new Error(`wasm kernel ${KERNEL_NAMES[id]} trapped (an out-of-bounds pointer or size, or an op id the module lacks?); check its arguments`);
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
      const stopping: Promise<number>[] = [];
      while (slots.length > 0) stopping.push(retire(slots.length - 1));
      await Promise.all(stopping);
    },
  };
}
