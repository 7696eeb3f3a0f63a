import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { BatchLoader } from '../data/loader.ts';
import { ShardWriter } from '../data/shards.ts';
import { defaultGptConfig, Gpt } from '../models/gpt.ts';
import { trainLoop, type TrainLoopOptions } from './trainer.ts';

const config = defaultGptConfig({ vocabSize: 97, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2, embdPdrop: 0.1, residPdrop: 0.1, attnPdrop: 0 });

describe('training loop', () => {
  let dir: string;
  let dev: Device;
  let shards: string[];
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 2 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-train-'));
    // A learnable stream: each token is the previous one plus a small random step.
    const w = new ShardWriter({ dir, prefix: 'train', vocabSize: 97 });
    const rng = new Rng(3);
    const ids: number[] = [0];
    for (let i = 1; i < 20000; i++) ids.push((ids[i - 1]! + 1 + Math.floor(rng.uniform() * 3)) % 97);
    w.append(ids);
    shards = w.finish().map((f) => path.join(dir, f.file));
  });
  after(async () => {
    await dev.close();
    await rm(dir, { recursive: true, force: true });
  });

  const loaders = () => ({
    train: new BatchLoader({ shards, batchSize: 4, seqLen: 16, mode: 'shuffle', seed: 5 }),
    val: new BatchLoader({ shards, batchSize: 4, seqLen: 16, mode: 'sequential', seed: 5 }),
  });
  const options = (outDir: string, extra: Partial<TrainLoopOptions> = {}): TrainLoopOptions => ({ steps: 60, lr: 1e-2, warmup: 5, evalEvery: 10, evalBatches: 2, checkpointEvery: 10, seed: 9, outDir, ...extra });
  const curve = async (outDir: string) =>
    (await readFile(path.join(outDir, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step: number; loss?: number; valLoss?: number })
      .map((m) => [m.type, m.step, m.loss ?? m.valLoss]);

  it('learns, and a resumed run repeats the uninterrupted one bit for bit', async () => {
    const full = path.join(dir, 'full');
    const l1 = loaders();
    const m1 = new Gpt(config, { device: dev, seed: 1 });
    const r1 = await trainLoop(m1, l1.train, l1.val, options(full));
    assert.ok(r1.valLoss < Math.log(97) - 1, `validation loss ${r1.valLoss} should fall well below uniform (${Math.log(97).toFixed(2)})`);

    const split = path.join(dir, 'split');
    const stop = new AbortController();
    const l2 = loaders();
    const m2 = new Gpt(config, { device: dev, seed: 1 });
    const r2 = await trainLoop(m2, l2.train, l2.val, options(split, { onStep: (m) => m.step === 25 && stop.abort(), signal: stop.signal }));
    assert.equal(r2.steps, 25);
    const l3 = loaders();
    const m3 = new Gpt(config, { device: dev, seed: 77 }); // different init: everything must come from the checkpoint
    const r3 = await trainLoop(m3, l3.train, l3.val, options(split, { resume: true }));
    assert.equal(r3.resumedFrom, 25);
    assert.deepEqual(await curve(split), await curve(full));
    const a = m1.parameters().map((p) => p.toArray());
    const b = m3.parameters().map((p) => p.toArray());
    for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i]);
  });

  it('a NaN gradient rolls back to the last good state and skips the batch', async () => {
    const out = path.join(dir, 'spike');
    const l = loaders();
    const m = new Gpt(config, { device: dev, seed: 1 });
    const events: string[] = [];
    const r = await trainLoop(m, l.train, l.val, {
      ...options(out),
      afterBackward: (step, model) => {
        if (step === 6) model.parameters()[0]!.grad!.set(new Float32Array(model.parameters()[0]!.size).fill(NaN));
      },
      onEvent: (e) => events.push(`${e.step}:${e.reason}`),
    });
    assert.deepEqual(events, ['6:gradient is not finite']);
    assert.equal(r.spikes, 1);
    assert.ok(Number.isFinite(r.valLoss));
    for (const p of m.parameters()) assert.ok(p.toArray().every(Number.isFinite), `${p.name} has non-finite values`);
    const log = await readFile(path.join(out, 'metrics.jsonl'), 'utf8');
    assert.match(log, /"type":"spike","step":6/);
  });
});
