// `genlab bench quality`: time to quality. The same GPT shape on the same token shards, trained
// for the same wall-clock minutes by genlab and by a PyTorch reference script (same optimizer,
// warmup then constant LR, same batch), then evaluated on the same validation windows.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BackendName } from '../backend/device.ts';
import { createDevice, setDefaultDevice, type Precision } from '../backend/registry.ts';
import { resolveSource } from '../data/corpus.ts';
import { BatchLoader } from '../data/loader.ts';
import { Gpt } from '../models/gpt.ts';
import { prepareTrainingData } from '../train/run.ts';
import { gptPreset, type PresetName } from '../train/presets.ts';
import { evaluate, trainLoop } from '../train/trainer.ts';
import { runPeer, torchAvailable } from './peer.ts';

export interface QualityOptions {
  minutes: number;
  preset: PresetName;
  threads: number;
  json: boolean;
  seed?: number;
  /** genlab's backend (default: native where built, else wasm) and matmul precision. */
  backend?: BackendName;
  precision?: Precision;
}

export interface QualityRow {
  bench: 'quality';
  preset: string;
  minutes: number;
  threads: number;
  genlab_val_loss: number;
  genlab_steps: number;
  peer_val_loss?: number;
  peer_steps?: number;
}

const EVAL_BATCHES = 16;
const EVAL_BATCH = 8;
const WARMUP = 20;

export async function benchQuality(o: QualityOptions): Promise<QualityRow> {
  const seed = o.seed ?? 1;
  // The PyTorch peer trains GPT-2 shapes.
  const p = gptPreset(o.preset, 'genlab bench quality');
  const { tokenizer, data } = await prepareTrainingData({ sources: [resolveSource('sotu')], vocabSize: p.vocabSize, cacheDir: '.cache/genlab', seed, valFraction: 0.05, quiet: o.json });
  const config = { ...p.model, vocabSize: tokenizer.vocabSize };
  const seconds = o.minutes * 60;

  const dev = await createDevice({ ...(o.backend ? { backend: o.backend } : {}), threads: o.threads, ...(o.precision ? { precision: o.precision } : {}) });
  setDefaultDevice(dev);
  const out = await mkdtemp(path.join(os.tmpdir(), 'genlab-quality-'));
  let row: QualityRow;
  try {
    const model = new Gpt(config, { device: dev, seed });
    const train = new BatchLoader({ shards: data.trainFiles, batchSize: p.batch, seqLen: p.seqLen, mode: 'random', seed });
    const val = new BatchLoader({ shards: data.valFiles, batchSize: EVAL_BATCH, seqLen: p.seqLen, mode: 'sequential', seed });
    // steps only shapes the schedule: with minLr = lr it is warmup then constant, as in the peer.
    const r = await trainLoop(model, train, val, { steps: 1_000_000, lr: p.lr, minLr: p.lr, warmup: WARMUP, maxSeconds: seconds, evalEvery: 0, checkpointEvery: 0, seed, outDir: out });
    const valLoss = evaluate(model, val, EVAL_BATCHES);
    train.close();
    val.close();
    row = { bench: 'quality', preset: o.preset, minutes: o.minutes, threads: o.threads, genlab_val_loss: valLoss, genlab_steps: r.steps };
  } finally {
    await dev.close();
    await rm(out, { recursive: true, force: true });
  }
  if (torchAvailable()) {
    const spec = { config, threads: o.threads, seed, lr: p.lr, warmup: WARMUP, batch: p.batch, seqLen: p.seqLen, seconds, train: data.trainFiles, val: data.valFiles, evalBatches: EVAL_BATCHES, evalBatch: EVAL_BATCH };
    const [peer] = await runPeer('peer_quality.py', [JSON.stringify(spec)], (seconds + 600) * 1000);
    if (peer) {
      row.peer_val_loss = peer['val_loss'] as number;
      row.peer_steps = peer['steps'] as number;
    }
  } else if (!o.json) console.log('PyTorch peer skipped: /usr/bin/python3 cannot import torch');
  if (o.json) console.log(JSON.stringify(row));
  else {
    const peer = row.peer_val_loss !== undefined ? `   PyTorch: val loss ${row.peer_val_loss.toFixed(4)} after ${row.peer_steps} steps` : '';
    console.log(`quality ${o.preset}, ${o.minutes} min, ${o.threads} threads   genlab: val loss ${row.genlab_val_loss.toFixed(4)} after ${row.genlab_steps} steps${peer}`);
  }
  return row;
}
