// The job protocol shared by the calling thread and the pool workers (platform-neutral: a browser
// pool of Web Workers can speak it too). One job at a time: the caller writes a kernel id, a part
// count and up to MAX_ARGS numbers into a SharedArrayBuffer, bumps GEN and notifies. Every thread
// (the caller included) then claims parts with a compare-and-swap on NEXT and calls the kernel
// export with (part, parts, ...args); the caller returns once DONE reaches the part count. No
// message passing per call, and a worker the OS has not scheduled yet simply claims nothing.
//
// NEXT holds (job tag << 8) | next part, so a worker still looking at an older job can never
// claim a part of a newer one (its tag no longer matches), and reads arguments only before a
// successful claim, which the caller cannot overtake.

// Kernel ids are the spec's (KERNEL_ID of kernels.gen.ts): fns[id] is the export named
// KERNEL_NAMES[id], undefined for a kernel the wasm backend does not implement.
export { KERNEL_ID, KERNEL_NAMES, type KernelName } from '../kernels.gen.ts';

/** Arguments after (tid, nt); attentionBackward needs the most (17). */
export const MAX_ARGS = 20;

// Int32 slots of the control block.
export const GEN = 0; // job generation, bumped for every job
export const NEXT = 1; // (tag << 8) | next unclaimed part
export const DONE = 2; // parts finished
export const NPARTS = 3; // parts of the current job
export const KERNEL = 4; // kernel id of the current job
export const ERROR = 5; // set when a part threw
/** STATE + w holds worker w's token while it may claim parts; 0 once it is retired. */
export const STATE = 8;
/** Most parts a job may have (the part index lives in NEXT's low 8 bits). */
export const MAX_PARTS = 255;
export const MAX_WORKERS = 63;

/** Byte offset of the Float64 argument slots in the control block. */
export const ARGS_BYTE_OFFSET = (STATE + MAX_WORKERS + 1) * 4;
export const CONTROL_BYTES = ARGS_BYTE_OFFSET + MAX_ARGS * 8;

/**
 * Spin iterations (≈ 25 ns each) before a waiting thread sleeps in Atomics.wait: long enough to
 * catch the next kernel of a training step without a futex round trip, short enough not to take
 * a busy machine's cores from threads with real work.
 */
export const SPIN = 2000;

export type KernelFn = (tid: number, nt: number, ...args: number[]) => unknown;

/** Calls a kernel with the job's arguments; wasm ignores the ones beyond its arity. */
export function callKernel(fn: KernelFn, part: number, parts: number, a: Float64Array): unknown {
  return fn(part, parts, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, a[16]!, a[17]!, a[18]!, a[19]!);
}

/** The job tag of generation `gen` (24 bits, so tag << 8 fits an int32). */
export function tagOf(gen: number): number {
  return gen & 0xffffff;
}

/**
 * Claims and runs parts of the job tagged `tag` until none are left. Returns the result of part 0
 * when this thread ran it. Errors are recorded in ERROR and never escape: the caller must always
 * see DONE reach the part count. A worker passes its slot and token and stops claiming once it is
 * retired, so a worker still shutting down never shares scratch with its replacement.
 */
export function runParts(ctl: Int32Array, args: Float64Array, fns: readonly (KernelFn | undefined)[], tag: number, slot = -1, token = 0): unknown {
  let result: unknown;
  for (;;) {
    const cur = Atomics.load(ctl, NEXT);
    if (cur >>> 8 !== tag) return result;
    if (slot >= 0 && Atomics.load(ctl, STATE + slot) !== token) return result;
    const part = cur & 0xff;
    const parts = Atomics.load(ctl, NPARTS);
    if (part >= parts) return result;
    const fn = fns[Atomics.load(ctl, KERNEL)]!;
    if (Atomics.compareExchange(ctl, NEXT, cur, cur + 1) !== cur) continue;
    try {
      const r = callKernel(fn, part, parts, args);
      if (part === 0) result = r;
    } catch {
      Atomics.store(ctl, ERROR, 1);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === parts) Atomics.notify(ctl, DONE);
  }
}

/** Data a worker is started with. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** Worker index w; its scratch slot is w + 1 (the caller has slot 0). */
  slot: number;
  /** Value of STATE + slot while this worker may claim parts. */
  token: number;
  scratchBase: number;
  scratchBytes: number;
  partialsBase: number;
  partialBytes: number;
}

/** Threads that run a job's parts beside the caller. */
export interface ThreadPool {
  /** Argument slots of the next job (write them, then call run). */
  readonly args: Float64Array;
  /** Threads the pool runs (the caller included). */
  readonly size: number;
  /** Runs kernel `id` cut into `parts` parts; returns the result of part 0 (from a single part, the call's result). */
  run(id: number, parts: number): unknown;
  /** Sets the number of threads (caller included); new workers join as soon as they are ready. */
  resize(threads: number): void;
  /** Resolves when every worker has started. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
