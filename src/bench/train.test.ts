import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bestOfThreads, type TrainBenchRow } from './train.ts';

const row = (threads: number, ours: number, peer: number): TrainBenchRow => ({
  bench: 'generate',
  config: 'b',
  backend: 'native',
  precision: 'fp32',
  threads,
  tokens_per_s: ours,
  peer_tokens_per_s: peer,
  ratio: ours / peer,
});

test('bestOfThreads compares each side at its own best thread count', () => {
  // genlab is fastest on 2 threads, PyTorch on 1: the ratio is 800 / 350, not 800 / 250.
  const [best, ...rest] = bestOfThreads([row(1, 500, 350), row(2, 800, 250)]);
  assert.equal(rest.length, 0);
  assert.equal(best!.genlab_threads, 2);
  assert.equal(best!.peer_threads, 1);
  assert.ok(Math.abs(best!.ratio - 800 / 350) < 1e-12);
});

test('bestOfThreads needs two thread counts with a peer to say anything', () => {
  assert.deepEqual(bestOfThreads([row(1, 500, 350)]), []);
  const noPeer = { ...row(2, 800, 1), peer_tokens_per_s: undefined };
  assert.deepEqual(bestOfThreads([row(1, 500, 350), noPeer]), []);
});
