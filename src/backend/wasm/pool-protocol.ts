// The job protocol shared by the calling thread and the pool workers (platform-neutral: a browser
// pool of Web Workers can speak it too). One job at a time: the caller writes a kernel id, a
// thread count and up to MAX_ARGS numbers into a SharedArrayBuffer, bumps GEN and notifies; every
// participating thread calls the same kernel export with (tid, nt, ...args) and decrements
// PENDING; the last one notifies the caller. No message passing per call.

/** Kernel exports callable through the pool, in id order. */
export const KERNEL_NAMES = [
  'fill',
  'affine',
  'axpy',
  'unary',
  'unaryBackward',
  'binary',
  'copyStrided',
  'dropoutForward',
  'dropoutBackward',
  'adamw',
  'sumSquares',
  'reduce',
  'embeddingForward',
  'embeddingBackward',
  'layerNormForward',
  'layerNormBackward',
  'softmaxForward',
  'softmaxBackward',
  'crossEntropyForward',
  'crossEntropyBackward',
  'matmul',
  'attentionForward',
  'attentionBackward',
] as const;

export type KernelName = (typeof KERNEL_NAMES)[number];

export const KERNEL_ID = Object.fromEntries(KERNEL_NAMES.map((n, i) => [n, i])) as { [K in KernelName]: number };

/** Arguments after (tid, nt); attentionBackward needs the most (17). */
export const MAX_ARGS = 20;

// Int32 slots of the control block.
export const GEN = 0; // job generation, bumped for every job
export const PENDING = 1; // workers still running the current job
export const KERNEL = 2; // kernel id of the current job
export const NTHREADS = 3; // threads taking part (caller included)
export const ERROR = 4; // set when a worker's kernel threw
export const READY = 16; // READY + w: worker w has instantiated the module and listens
export const MAX_WORKERS = 64;

/** Byte offset of the Float64 argument slots in the control block. */
export const ARGS_BYTE_OFFSET = (READY + MAX_WORKERS) * 4;
export const CONTROL_BYTES = ARGS_BYTE_OFFSET + MAX_ARGS * 8;

/** Spin iterations before a waiting thread sleeps in Atomics.wait (≈ tens of microseconds). */
export const SPIN = 20000;

export type KernelFn = (tid: number, nt: number, ...args: number[]) => unknown;

/** Calls a kernel with the job's arguments; wasm ignores the ones beyond its arity. */
export function callKernel(fn: KernelFn, tid: number, nt: number, a: Float64Array): unknown {
  return fn(tid, nt, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, a[16]!, a[17]!, a[18]!, a[19]!);
}

/** Data a worker is started with. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** Worker index w; its thread id in jobs is w + 1 (the caller is 0). */
  slot: number;
  scratchBase: number;
  scratchBytes: number;
}

/** Threads a job runs on, beside the caller. */
export interface ThreadPool {
  /** Argument slots of the next job (write them, then call run). */
  readonly args: Float64Array;
  /** Threads usable right now: the caller plus the workers that are ready, at most the size. */
  available(): number;
  /** Runs kernel `id` with `args` on nt threads (the caller is thread 0); returns its result on thread 0. */
  run(id: number, nt: number): unknown;
  /** Sets the number of threads (caller included). New workers join once they are ready. */
  resize(threads: number): void;
  /** Resolves when every requested worker is ready. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
