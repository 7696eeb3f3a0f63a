// (inputs, targets) batches of shape (B, T) from token shards, where targets are the inputs
// shifted left by one token. The shards are one continuous token stream (documents already
// separated by end-of-text tokens at preparation time), so a window may span a document or a
// shard boundary, as in GPT-2 training.
//
// Modes:
//   shuffle     every epoch visits non-overlapping windows in a seeded random order; the window
//               grid is shifted by a seeded offset each epoch so boundaries differ between epochs.
//   random      every row starts at a uniformly random token (with replacement).
//   sequential  windows in file order, for evaluation.
// Everything random is a pure function of (seed, epoch) or (seed, step), so the loader's state is
// three integers and a restored loader continues bit-exactly.

import { Rng, mix32 } from '../backend/rng.ts';
import { ShardSet } from './shards.ts';

export type LoaderMode = 'shuffle' | 'random' | 'sequential';

export interface BatchLoaderOptions {
  /** Shard file paths (in order) or an open ShardSet (then the caller closes it). */
  shards: readonly string[] | ShardSet;
  batchSize: number;
  seqLen: number;
  mode?: LoaderMode;
  seed?: number;
  /** Checked against the shard headers and every token read. */
  vocabSize?: number;
}

export interface Batch {
  /** (B, T) row-major. */
  inputs: Int32Array;
  /** (B, T) row-major; targets[b, t] = inputs[b, t + 1] within the same window. */
  targets: Int32Array;
}

/** JSON-serialisable; save it with a checkpoint and pass it to restore() to resume. */
export interface LoaderState {
  version: 1;
  mode: LoaderMode;
  seed: number;
  batchSize: number;
  seqLen: number;
  tokenCount: number;
  /** Batches produced since the start. */
  step: number;
  epoch: number;
  /** Next batch within the epoch (shuffle, sequential). */
  index: number;
}

const STREAM_SHUFFLE = 0x51a7e5;
const STREAM_OFFSET = 0x0ff5e7;
const STREAM_RANDOM = 0xba7c4;

function rngFor(seed: number, stream: number, counter: number): Rng {
  // Distinct (seed, stream, counter) triples give unrelated generators.
  return new Rng(mix32(mix32((seed ^ stream) >>> 0) ^ (counter >>> 0)) ^ Math.floor(counter / 4294967296));
}

/** Unbiased integer in [0, n), n <= 2^53. */
export function uniformInt(rng: Rng, n: number): number {
  if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`uniformInt needs a positive safe integer, got ${n}`);
  if (n <= 4294967296) {
    const limit = Math.floor(4294967296 / n) * n;
    let x = rng.nextU32();
    while (x >= limit) x = rng.nextU32();
    return x % n;
  }
  const TWO53 = 9007199254740992;
  const limit = Math.floor(TWO53 / n) * n;
  for (;;) {
    const v = (rng.nextU32() & 0x1fffff) * 4294967296 + rng.nextU32();
    if (v < limit) return v % n;
  }
}

/** The largest batch size a loader in `mode` accepts for `tokenCount` tokens and `seqLen` (0: not even one sequence). */
export function maxBatchSize(tokenCount: number, seqLen: number, mode: LoaderMode): number {
  if (tokenCount < seqLen + 1) return 0;
  if (mode === 'random') return Infinity;
  // The shuffle grid may start up to T-1 tokens in, so require B windows even then.
  return mode === 'shuffle' ? Math.floor((tokenCount - seqLen) / seqLen) : Math.floor((tokenCount - 1) / seqLen);
}

export class BatchLoader {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly mode: LoaderMode;
  readonly seed: number;
  readonly tokenCount: number;
  private readonly set: ShardSet;
  private readonly ownsSet: boolean;
  private step = 0;
  private epoch = 0;
  private index = 0;
  private permBuf: Uint32Array | null = null;
  private perm: Uint32Array | null = null;
  private permEpoch = -1;
  private offset = 0;
  private readonly window: Int32Array;

  constructor(opts: BatchLoaderOptions) {
    const { batchSize: B, seqLen: T } = opts;
    if (!(Number.isSafeInteger(B) && B > 0)) throw new RangeError(`batchSize must be a positive integer, got ${B}`);
    if (!(Number.isSafeInteger(T) && T > 0)) throw new RangeError(`seqLen must be a positive integer, got ${T}`);
    this.batchSize = B;
    this.seqLen = T;
    this.mode = opts.mode ?? 'shuffle';
    this.seed = (opts.seed ?? 0) >>> 0;
    if (opts.shards instanceof ShardSet) {
      this.set = opts.shards;
      this.ownsSet = false;
    } else {
      this.set = ShardSet.open(opts.shards, opts.vocabSize !== undefined ? { vocabSize: opts.vocabSize } : {});
      this.ownsSet = true;
    }
    this.tokenCount = this.set.tokenCount;
    const N = this.tokenCount;
    try {
      if (N < T + 1) {
        throw new Error(`the shards hold ${N} tokens, fewer than seqLen + 1 = ${T + 1}; lower the sequence length or add data`);
      }
      const worstWindows = maxBatchSize(N, T, this.mode);
      if (worstWindows < B) {
        throw new Error(`the shards hold ${N} tokens = ${worstWindows} windows of ${T} tokens, fewer than the batch size ${B}; lower the batch size or sequence length, or add data`);
      }
    } catch (err) {
      if (this.ownsSet) this.set.close();
      throw err;
    }
    this.window = new Int32Array(this.mode === 'sequential' ? B * T + 1 : T + 1);
  }

  /** Full batches per epoch (shuffle, sequential); for random, the same nominal count. */
  get batchesPerEpoch(): number {
    return Math.floor(this.windowsInEpoch(this.epoch) / this.batchSize);
  }

  /** Tokens consumed per batch. */
  get tokensPerBatch(): number {
    return this.batchSize * this.seqLen;
  }

  next(): Batch {
    const inputs = new Int32Array(this.batchSize * this.seqLen);
    const targets = new Int32Array(this.batchSize * this.seqLen);
    this.nextInto(inputs, targets);
    return { inputs, targets };
  }

  /** Fill caller-owned (B*T) buffers: no allocation per step. */
  nextInto(inputs: Int32Array, targets: Int32Array): void {
    const B = this.batchSize;
    const T = this.seqLen;
    if (inputs.length !== B * T || targets.length !== B * T) {
      throw new RangeError(`inputs and targets must have batchSize * seqLen = ${B * T} elements, got ${inputs.length} and ${targets.length}`);
    }
    if (this.mode === 'random') {
      const rng = rngFor(this.seed, STREAM_RANDOM, this.step);
      for (let b = 0; b < B; b++) this.readRow(uniformInt(rng, this.tokenCount - T), inputs, targets, b);
    } else if (this.mode === 'sequential') {
      // Consecutive windows overlap by one token, so the whole batch is one contiguous read.
      const start = this.index * B * T;
      const w = this.set.read(start, B * T + 1, this.window);
      for (let b = 0; b < B; b++) {
        inputs.set(w.subarray(b * T, b * T + T), b * T);
        targets.set(w.subarray(b * T + 1, b * T + T + 1), b * T);
      }
      this.advanceIndex();
    } else {
      this.ensurePermutation();
      const perm = this.perm!;
      for (let b = 0; b < B; b++) this.readRow(this.offset + perm[this.index * B + b]! * T, inputs, targets, b);
      this.advanceIndex();
    }
    this.step++;
  }

  /** The remaining batches of the current epoch (for evaluation: reset() first). */
  *epochBatches(): Generator<Batch> {
    if (this.mode === 'random') {
      // Random sampling has no epochs; yield the nominal count.
      for (let i = 0, n = this.batchesPerEpoch; i < n; i++) yield this.next();
      return;
    }
    const epoch = this.epoch;
    while (this.epoch === epoch) yield this.next();
  }

  state(): LoaderState {
    return {
      version: 1, mode: this.mode, seed: this.seed, batchSize: this.batchSize, seqLen: this.seqLen,
      tokenCount: this.tokenCount, step: this.step, epoch: this.epoch, index: this.index,
    };
  }

  /** Continue exactly where `state` was taken. The data and settings must be the same. */
  restore(state: LoaderState): void {
    const mine = this.state();
    for (const k of ['version', 'mode', 'seed', 'batchSize', 'seqLen', 'tokenCount'] as const) {
      if (state[k] !== mine[k]) {
        throw new Error(`cannot restore data loader state: ${k} was ${JSON.stringify(state[k])} but is now ${JSON.stringify(mine[k])}; resume with the same dataset and batch settings`);
      }
    }
    for (const k of ['step', 'epoch', 'index'] as const) {
      if (!(Number.isSafeInteger(state[k]) && state[k] >= 0)) throw new Error(`corrupt data loader state: ${k} = ${JSON.stringify(state[k])}`);
    }
    this.step = state.step;
    this.epoch = state.epoch;
    this.index = state.index;
    if (this.mode !== 'random' && this.index >= this.batchesPerEpoch) {
      throw new Error(`corrupt data loader state: index ${this.index} is past the ${this.batchesPerEpoch} batches of epoch ${this.epoch}`);
    }
  }

  /** Back to the first batch of epoch 0. */
  reset(): void {
    this.step = 0;
    this.epoch = 0;
    this.index = 0;
  }

  close(): void {
    if (this.ownsSet) this.set.close();
  }

  private readRow(start: number, inputs: Int32Array, targets: Int32Array, row: number): void {
    const T = this.seqLen;
    const w = this.set.read(start, T + 1, this.window);
    inputs.set(w.subarray(0, T), row * T);
    targets.set(w.subarray(1, T + 1), row * T);
  }

  private epochOffset(epoch: number): number {
    return this.mode === 'shuffle' ? uniformInt(rngFor(this.seed, STREAM_OFFSET, epoch), this.seqLen) : 0;
  }

  private windowsInEpoch(epoch: number): number {
    const off = this.mode === 'shuffle' ? (epoch === this.permEpoch ? this.offset : this.epochOffset(epoch)) : 0;
    return Math.floor((this.tokenCount - 1 - off) / this.seqLen);
  }

  private advanceIndex(): void {
    this.index++;
    if (this.index >= this.batchesPerEpoch) {
      this.index = 0;
      this.epoch++;
    }
  }

  private ensurePermutation(): void {
    if (this.permEpoch === this.epoch && this.perm !== null) return;
    this.offset = this.epochOffset(this.epoch);
    const W = Math.floor((this.tokenCount - 1 - this.offset) / this.seqLen);
    if (this.permBuf === null) this.permBuf = new Uint32Array(Math.floor((this.tokenCount - 1) / this.seqLen));
    const perm = this.permBuf.subarray(0, W);
    for (let i = 0; i < W; i++) perm[i] = i;
    const rng = rngFor(this.seed, STREAM_SHUFFLE, this.epoch);
    for (let i = W - 1; i > 0; i--) {
      const j = uniformInt(rng, i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    this.perm = perm;
    this.permEpoch = this.epoch;
  }
}
