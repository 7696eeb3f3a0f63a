import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDevice, defaultBackend } from '../backend/registry.ts';
import { Llama } from '../models/llama.ts';
import { benchModel, bestOfThreads, generateConfigs, trainConfigs, type TrainBenchRow } from './train.ts';

const row = (threads: number, ours: number, peer: number): TrainBenchRow => ({
  bench: 'generate',
  config: 'b',
  backend: 'native',
  kernels: 'native amx',
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

test('the smollm2-135m bench config builds SmolLM2-135M: a Llama of its 134,515,008 parameters', async () => {
  const c = generateConfigs.find((x) => x.name === 'smollm2-135m')!;
  assert.deepEqual(trainConfigs.find((x) => x.name === 'smollm2-135m')?.llama, c.llama);
  const dev = await createDevice({ backend: await defaultBackend(), threads: 1 });
  try {
    const model = benchModel(dev, c);
    assert.ok(model instanceof Llama);
    assert.equal(model.config.numKeyValueHeads, 3);
    assert.equal(model.config.tieWordEmbeddings, true);
    assert.equal(model.numParameters(), 134_515_008);
  } finally {
    await dev.close();
  }
});
