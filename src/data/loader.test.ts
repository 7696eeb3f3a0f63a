import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShardWriter } from './shards.ts';
import { BatchLoader, uniformInt, type LoaderMode, type LoaderState } from './loader.ts';
import { Rng } from '../backend/rng.ts';

let dir: string;
let files: string[];
// Token value = its position in the stream, so every window can be checked by arithmetic.
const N = 5003;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-loader-'));
  const w = new ShardWriter({ dir, prefix: 'train', vocabSize: 65536, shardTokens: 777 });
  for (let s = 0; s < N; s += 100) w.append(Array.from({ length: Math.min(100, N - s) }, (_, i) => s + i));
  files = w.finish().map((f) => f.path);
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Check each row is a contiguous window and return the rows' first tokens. */
function rowStarts(b: { inputs: Int32Array; targets: Int32Array }, B: number, T: number): number[] {
  const starts: number[] = [];
  for (let r = 0; r < B; r++) {
    const s = b.inputs[r * T]!;
    for (let t = 0; t < T; t++) {
      assert.equal(b.inputs[r * T + t], s + t);
      assert.equal(b.targets[r * T + t], s + t + 1);
    }
    assert.ok(s >= 0 && s + T + 1 <= N);
    starts.push(s);
  }
  return starts;
}

test('sequential: windows in order with stride T, then wrap to a new epoch', () => {
  const B = 4;
  const T = 64;
  const L = new BatchLoader({ shards: files, batchSize: B, seqLen: T, mode: 'sequential' });
  const windows = Math.floor((N - 1) / T);
  assert.equal(L.batchesPerEpoch, Math.floor(windows / B));
  const seen: number[] = [];
  for (const b of L.epochBatches()) seen.push(...rowStarts(b, B, T));
  assert.deepEqual(seen, Array.from({ length: L.batchesPerEpoch * B }, (_, i) => i * T));
  assert.equal(L.state().epoch, 1);
  assert.deepEqual(rowStarts(L.next(), B, T), [0, 64, 128, 192]);
  L.reset();
  assert.deepEqual(L.state(), { version: 1, mode: 'sequential', seed: 0, batchSize: B, seqLen: T, tokenCount: N, step: 0, epoch: 0, index: 0 });
  L.close();
});

test('shuffle: each epoch visits distinct grid-aligned windows in a seeded order', () => {
  const B = 3;
  const T = 50;
  const L = new BatchLoader({ shards: files, batchSize: B, seqLen: T, mode: 'shuffle', seed: 7 });
  const epochs: number[][] = [];
  for (let e = 0; e < 3; e++) {
    const starts: number[] = [];
    for (const b of L.epochBatches()) starts.push(...rowStarts(b, B, T));
    assert.equal(new Set(starts).size, starts.length, 'no window twice in an epoch');
    const off = starts[0]! % T;
    assert.ok(starts.every((s) => s % T === off), 'windows lie on one grid');
    assert.ok(starts.length >= Math.floor((N - T) / T / B) * B);
    epochs.push(starts);
  }
  assert.notDeepEqual(epochs[0], epochs[1]);
  // Not file order.
  assert.notDeepEqual(epochs[0], [...epochs[0]!].sort((a, b) => a - b));
  // Same seed → same stream; other seed → different stream.
  const again = new BatchLoader({ shards: files, batchSize: B, seqLen: T, mode: 'shuffle', seed: 7 });
  assert.deepEqual(rowStarts(again.next(), B, T), epochs[0]!.slice(0, B));
  const other = new BatchLoader({ shards: files, batchSize: B, seqLen: T, mode: 'shuffle', seed: 8 });
  assert.notDeepEqual(rowStarts(other.next(), B, T), epochs[0]!.slice(0, B));
  for (const l of [L, again, other]) l.close();
});

test('random: rows start anywhere, reproducible from the seed', () => {
  const B = 8;
  const T = 32;
  const a = new BatchLoader({ shards: files, batchSize: B, seqLen: T, mode: 'random', seed: 1 });
  const b = new BatchLoader({ shards: files, batchSize: B, seqLen: T, mode: 'random', seed: 1 });
  const starts: number[] = [];
  for (let i = 0; i < 50; i++) {
    const x = a.next();
    assert.deepEqual(x, b.next());
    starts.push(...rowStarts(x, B, T));
  }
  // 400 draws over ~4970 starts: most are off the T-grid and they spread over the range.
  assert.ok(starts.filter((s) => s % T !== 0).length > 300);
  assert.ok(Math.min(...starts) < 500 && Math.max(...starts) > N - 500);
  a.close();
  b.close();
});

for (const mode of ['shuffle', 'random', 'sequential'] as LoaderMode[]) {
  test(`${mode}: state saved mid-run (as JSON) resumes bit-exactly, across epoch boundaries`, () => {
    const opts = { shards: files, batchSize: 5, seqLen: 40, mode, seed: 1234 };
    const L = new BatchLoader(opts);
    const stepsPerEpoch = L.batchesPerEpoch;
    const k = stepsPerEpoch - 3; // resume just before an epoch boundary
    for (let i = 0; i < k; i++) L.next();
    const saved = JSON.parse(JSON.stringify(L.state())) as LoaderState;
    const expected = Array.from({ length: 10 }, () => L.next());
    const R = new BatchLoader(opts);
    R.next(); // some unrelated progress that restore must overwrite
    R.restore(saved);
    for (const e of expected) assert.deepEqual(R.next(), e);
    assert.deepEqual(R.state(), L.state());
    L.close();
    R.close();
  });
}

test('nextInto reuses caller buffers', () => {
  const L = new BatchLoader({ shards: files, batchSize: 2, seqLen: 16, mode: 'sequential' });
  const x = new Int32Array(32);
  const y = new Int32Array(32);
  L.nextInto(x, y);
  assert.deepEqual(rowStarts({ inputs: x, targets: y }, 2, 16), [0, 16]);
  assert.throws(() => L.nextInto(new Int32Array(31), y), /must have batchSize \* seqLen = 32 elements/);
  L.close();
});

test('clear errors: too little data, mismatched restore, corrupt state', () => {
  assert.throws(() => new BatchLoader({ shards: files, batchSize: 1, seqLen: N, mode: 'sequential' }), /hold 5003 tokens, fewer than seqLen \+ 1 = 5004; lower the sequence length or add data/);
  assert.throws(() => new BatchLoader({ shards: files, batchSize: 100, seqLen: 64, mode: 'sequential' }), /78 windows of 64 tokens, fewer than the batch size 100/);
  assert.throws(() => new BatchLoader({ shards: [], batchSize: 1, seqLen: 4 }), /no token shards given; run data preparation first/);
  const L = new BatchLoader({ shards: files, batchSize: 2, seqLen: 16, mode: 'shuffle', seed: 3 });
  const s = L.state();
  assert.throws(() => L.restore({ ...s, seqLen: 32 }), /seqLen was 32 but is now 16; resume with the same dataset and batch settings/);
  assert.throws(() => L.restore({ ...s, tokenCount: 9 }), /tokenCount was 9 but is now 5003/);
  assert.throws(() => L.restore({ ...s, index: 1e9 }), /index 1000000000 is past the/);
  assert.throws(() => L.restore({ ...s, step: -1 }), /corrupt data loader state: step = -1/);
  L.close();
});

test('uniformInt stays in range and is not visibly biased', () => {
  const rng = new Rng(99);
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[uniformInt(rng, 3)]!++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `count ${c}`);
  const big = 2 ** 40 + 17;
  for (let i = 0; i < 1000; i++) {
    const v = uniformInt(rng, big);
    assert.ok(Number.isInteger(v) && v >= 0 && v < big);
  }
  assert.throws(() => uniformInt(rng, 0), /positive safe integer/);
});
