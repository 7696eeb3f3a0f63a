// `genlab finetune`: adapt a trained model to new text, with LoRA (the base frozen; writes a PEFT
// adapter folder) or fully (writes a model folder). The base model's tokenizer is kept, and the
// validation loss on the new data is measured before and after — and optionally on other data, to
// see what the model forgot.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveSource } from '../data/corpus.ts';
import { BatchLoader } from '../data/loader.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { loadModel, saveModel } from '../io/model-folder.ts';
import { loadAdapter, saveAdapter } from '../io/peft.ts';
import { trainingFlops } from '../models/flops.ts';
import type { Gpt } from '../models/gpt.ts';
import { attachAdapter, freezeBase, LoraAdapter, mergeAdapter, type LoraConfig } from '../nn/lora.ts';
import { progressBar } from '../cli/progress.ts';
import { prepareTrainingData } from './run.ts';
import { evaluate, trainLoop, type TrainResult } from './trainer.ts';

export interface FinetuneOptions {
  model: string;
  data: string[];
  out: string;
  /** LoRA rank; 0 means full fine-tuning. */
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  target: string[];
  rsLora?: boolean;
  steps: number;
  batch: number;
  seqLen?: number;
  lr: number;
  seed: number;
  evalEvery?: number;
  /** Also report validation loss on these sources before and after (forgetting). */
  evalAlso?: string[];
  valFraction?: number;
  cache?: string;
  resume?: boolean;
  quiet?: boolean;
}

export interface FinetuneResult {
  train: TrainResult;
  trainableParameters: number;
  totalParameters: number;
  valLoss: { before: number; after: number };
  alsoValLoss: Record<string, { before: number; after: number }>;
}

async function valLoaderFor(model: Gpt, spec: string, tokenizer: Parameters<typeof prepareTrainingData>[0]['tokenizer'], o: FinetuneOptions, seqLen: number): Promise<BatchLoader> {
  const { data } = await prepareTrainingData({ sources: [resolveSource(spec)], vocabSize: model.config.vocabSize, cacheDir: o.cache ?? '.cache/genlab', seed: o.seed, valFraction: o.valFraction ?? 0.05, quiet: true, ...(tokenizer ? { tokenizer } : {}) });
  return new BatchLoader({ shards: data.valFiles, batchSize: Math.min(o.batch, 8), seqLen, mode: 'sequential', seed: o.seed });
}

export async function finetuneCommand(o: FinetuneOptions): Promise<FinetuneResult> {
  const say = (s: string): void => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  const lm = await loadModel(o.model);
  const { model, tokenizer } = lm;
  const seqLen = Math.min(o.seqLen ?? 128, model.config.nPositions);
  const { data } = await prepareTrainingData({ sources: o.data.map((d) => resolveSource(d)), vocabSize: model.config.vocabSize, cacheDir: o.cache ?? '.cache/genlab', seed: o.seed, valFraction: o.valFraction ?? 0.05, quiet: o.quiet ?? false, tokenizer });
  const train = new BatchLoader({ shards: data.trainFiles, batchSize: o.batch, seqLen, mode: 'shuffle', seed: o.seed });
  const val = new BatchLoader({ shards: data.valFiles, batchSize: Math.min(o.batch, 8), seqLen, mode: 'sequential', seed: o.seed });
  const also = new Map<string, BatchLoader>();
  for (const spec of o.evalAlso ?? []) also.set(spec, await valLoaderFor(model, spec, tokenizer, o, seqLen));
  const EVAL_BATCHES = 16;

  let adapter: LoraAdapter | null = null;
  if (o.loraR > 0) {
    const config: LoraConfig = { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targetModules: o.target, rsLora: o.rsLora ?? false };
    freezeBase(model);
    adapter = LoraAdapter.create(model, config, { seed: o.seed });
    attachAdapter(model, adapter);
  }
  const trainable = adapter ? adapter.parameters() : model.parameters();
  const trainableCount = trainable.reduce((n, t) => n + t.size, 0);
  const total = model.numParameters() + (adapter?.numParameters() ?? 0);
  say(`${adapter ? `LoRA r=${o.loraR} α=${o.loraAlpha} on ${o.target.join(', ')}` : 'full fine-tuning'}: ${trainableCount.toLocaleString()} trainable parameters (${((100 * trainableCount) / total).toFixed(2)}% of ${total.toLocaleString()})`);

  const before = evaluate(model, val, EVAL_BATCHES);
  const alsoBefore = new Map([...also].map(([k, l]) => [k, evaluate(model, l, EVAL_BATCHES)]));
  const bar = o.quiet ? null : progressBar(o.steps, 'finetune ', 'loss {loss} | {tps} tok/s');
  let result: TrainResult;
  try {
    result = await trainLoop(model, train, val, {
      steps: o.steps,
      lr: o.lr,
      parameters: trainable,
      weightDecay: adapter ? 0 : 0.1,
      evalEvery: o.evalEvery ?? 0,
      evalBatches: EVAL_BATCHES,
      checkpointEvery: 0,
      seed: o.seed,
      outDir: o.out,
      resume: o.resume ?? false,
      onStep: (m) => bar?.update(m.step, { loss: m.loss.toFixed(3), tps: Math.round(m.tokensPerSecond) }),
    });
  } finally {
    bar?.stop();
    train.close();
  }
  const after = evaluate(model, val, EVAL_BATCHES);
  val.close();
  const alsoValLoss: Record<string, { before: number; after: number }> = {};
  for (const [k, l] of also) {
    alsoValLoss[k] = { before: alsoBefore.get(k)!, after: evaluate(model, l, EVAL_BATCHES) };
    l.close();
  }

  const record = {
    genlab: { version: '0.1.0', kind: adapter ? 'lora-finetuning' : 'full-finetuning' },
    createdAt: new Date().toISOString(),
    parent: { model: path.resolve(o.model), runRecord: lm.runRecord },
    data: { sources: data.manifest.sources, trainTokens: data.manifest.train.tokens, valTokens: data.manifest.val.tokens },
    hyperparameters: { steps: o.steps, batch: o.batch, seqLen, lr: o.lr, seed: o.seed, lora: adapter ? adapter.config : null },
    parameters: { trainable: trainableCount, total },
    training: { tokensSeen: result.tokens, trainingFlops: trainingFlops(model.config, result.tokens, seqLen), trainSeconds: result.seconds },
    evaluation: { valLoss: { before, after }, alsoValLoss },
  };
  if (adapter) {
    await saveAdapter(o.out, adapter, { baseModel: path.resolve(o.model) });
    await writeJsonAtomic(path.join(o.out, 'run.json'), record);
  } else {
    await saveModel(o.out, { model, tokenizer }, { runRecord: record });
  }
  const lines = [`validation loss on ${o.data.join(', ')}: ${before.toFixed(4)} → ${after.toFixed(4)}`];
  for (const [k, v] of Object.entries(alsoValLoss)) lines.push(`validation loss on ${k}: ${v.before.toFixed(4)} → ${v.after.toFixed(4)}`);
  say(lines.join('\n') + `\nsaved ${adapter ? 'adapter' : 'model'} to ${o.out}`);
  await writeFile(path.join(o.out, 'finetune-summary.txt'), lines.join('\n') + '\n');
  return { train: result, trainableParameters: trainableCount, totalParameters: total, valLoss: { before, after }, alsoValLoss };
}

/** `genlab merge`: base + adapter → a plain model folder (outputs equal the adapted model's). */
export async function mergeCommand(o: { model: string; adapter: string; out: string }): Promise<void> {
  const lm = await loadModel(o.model);
  const adapter = await loadAdapter(o.adapter, lm.model);
  mergeAdapter(lm.model, adapter);
  await saveModel(o.out, lm, {
    runRecord: { genlab: { version: '0.1.0', kind: 'lora-merge' }, createdAt: new Date().toISOString(), parent: { model: path.resolve(o.model), adapter: path.resolve(o.adapter) } },
  });
  process.stderr.write(`merged ${o.adapter} into ${o.model} → ${o.out}\n`);
}
