// `genlab finetune`: adapt a trained model to new text, with LoRA (the base frozen; writes a PEFT
// adapter folder) or fully (writes a model folder). The base model's tokenizer is kept, and the
// validation loss on the new data is measured before and after — and optionally on other data, to
// see what the model forgot.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveSource } from '../data/corpus.ts';
import type { BatchLoader } from '../data/loader.ts';
import { describeSplit } from '../data/prepare.ts';
import type { CausalLm } from '../generate/generate.ts';
import { adapterBaseName, loadLanguageModel, saveModel } from '../io/model-folder.ts';
import { loadAdapter, saveAdapter } from '../io/peft.ts';
import { forwardFlopsPerToken, loraTrainingFlops, trainingFlops } from '../models/flops.ts';
import { Gpt } from '../models/gpt.ts';
import { attachAdapter, freezeBase, LoraAdapter, mergeAdapter, type LoraConfig } from '../nn/lora.ts';
import { datasetFacts, modelParentRef, parentRef, RunRecorder, type RecordFacts } from '../record/record-writer.ts';
import type { Evaluation } from '../record/run-record.ts';
import { openTrainLoader, openValLoader, prepareTrainingData } from './run.ts';
import { evaluate, trainLoop, type TrainResult } from './trainer.ts';

export interface FinetuneOptions {
  model: string;
  data: string[];
  out: string;
  /** LoRA rank; 0 means full fine-tuning. */
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module-name suffixes to adapt (default: the architecture's loraTargets). */
  target?: string[];
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

async function valLoaderFor(model: CausalLm, spec: string, tokenizer: Parameters<typeof prepareTrainingData>[0]['tokenizer'], o: FinetuneOptions, seqLen: number): Promise<BatchLoader> {
  const valFraction = o.valFraction ?? 0.05;
  const { data } = await prepareTrainingData({ sources: [resolveSource(spec)], vocabSize: model.config.vocabSize, cacheDir: o.cache ?? '.cache/genlab', seed: o.seed, valFraction, quiet: true, ...(tokenizer ? { tokenizer } : {}) });
  return openValLoader(data, { batch: o.batch, seqLen, seed: o.seed, valFraction });
}

export async function finetuneCommand(o: FinetuneOptions): Promise<FinetuneResult> {
  const say = (s: string): void => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  const recorder = RunRecorder.start();
  const lm = await loadLanguageModel(o.model);
  const { model, tokenizer } = lm;
  if (o.loraR === 0 && !(model instanceof Gpt)) throw new Error(`--lora-r 0 (full fine-tuning) writes a GPT-2 model folder; ${o.model} is a Llama-family model, so fine-tune it with LoRA (--lora-r 8)`);
  const target = o.target ?? [...model.loraTargets];
  const seqLen = Math.min(o.seqLen ?? 128, model.contextLength);
  const valFraction = o.valFraction ?? 0.05;
  const { data } = await prepareTrainingData({ sources: o.data.map((d) => resolveSource(d)), vocabSize: model.config.vocabSize, cacheDir: o.cache ?? '.cache/genlab', seed: o.seed, valFraction, quiet: o.quiet ?? false, tokenizer });
  say(`data: ${describeSplit(data.manifest)}`);
  const val = openValLoader(data, { batch: o.batch, seqLen, seed: o.seed, valFraction });
  const train = openTrainLoader(data, { batch: o.batch, seqLen, seed: o.seed, valFraction });
  const also = new Map<string, BatchLoader>();
  for (const spec of o.evalAlso ?? []) also.set(spec, await valLoaderFor(model, spec, tokenizer, o, seqLen));
  const EVAL_BATCHES = 16;

  let adapter: LoraAdapter | null = null;
  if (o.loraR > 0) {
    const config: LoraConfig = { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targetModules: target, rsLora: o.rsLora ?? false };
    freezeBase(model);
    adapter = LoraAdapter.create(model, config, { seed: o.seed });
    attachAdapter(model, adapter);
  }
  const trainable = adapter ? adapter.parameters() : model.parameters();
  const trainableCount = trainable.reduce((n, t) => n + t.size, 0);
  const total = model.numParameters() + (adapter?.numParameters() ?? 0);
  say(`${adapter ? `LoRA r=${o.loraR} α=${o.loraAlpha} on ${target.join(', ')}` : 'full fine-tuning'}: ${trainableCount.toLocaleString()} trainable parameters (${((100 * trainableCount) / total).toFixed(2)}% of ${total.toLocaleString()})`);

  const before = evaluate(model, val, EVAL_BATCHES);
  const alsoBefore = new Map([...also].map(([k, l]) => [k, evaluate(model, l, EVAL_BATCHES)]));
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
      ...(o.quiet ? {} : { progress: { label: 'finetune ', format: 'loss {loss} | {tps} tok/s', fields: (m) => ({ loss: m.loss.toFixed(3), tps: Math.round(m.tokensPerSecond) }) } }),
    });
  } finally {
    train.close();
  }
  const after = evaluate(model, val, EVAL_BATCHES);
  val.close();
  const alsoValLoss: Record<string, { before: number; after: number }> = {};
  for (const [k, l] of also) {
    alsoValLoss[k] = { before: alsoBefore.get(k)!, after: evaluate(model, l, EVAL_BATCHES) };
    l.close();
  }

  const flops = adapter ? loraTrainingFlops(model.config, result.tokens, seqLen, adapter.numParameters()) : trainingFlops(model.config, result.tokens, seqLen);
  const m = data.manifest;
  const now = new Date().toISOString();
  const measuredBy = `measured by genlab finetune before and after training: mean over the first ${EVAL_BATCHES} validation batches`;
  const evaluations: Evaluation[] = [
    { name: 'validation-loss', data: `held-out documents of ${o.data.join(' + ')} (${m.val.documents} documents, ${m.val.tokens} tokens)`, metrics: { loss: after, perplexity: Math.exp(after), lossBefore: before }, createdAt: now, command: measuredBy },
    ...Object.entries(alsoValLoss).map(([k, v]) => ({ name: 'corpus-loss', data: `${k} (held-out documents)`, metrics: { loss: v.after, perplexity: Math.exp(v.after), lossBefore: v.before }, createdAt: now, command: measuredBy })),
  ];
  const lora = adapter ? adapter.config : null;
  const facts: RecordFacts = {
    kind: 'fine-tuning',
    method: adapter ? `LoRA (r ${o.loraR}, α ${o.loraAlpha}, on ${target.join(', ')})` : 'full fine-tuning',
    command: [
      `genlab finetune --model ${o.model} --data ${o.data.join(' ')} --out ${o.out} --lora-r ${o.loraR}`,
      adapter ? ` --lora-alpha ${o.loraAlpha} --lora-dropout ${o.loraDropout} --target ${target.join(',')}${o.rsLora ? ' --rslora' : ''}` : '',
      ` --steps ${o.steps} --batch ${o.batch} --seq-len ${seqLen} --lr ${o.lr} --seed ${o.seed}${o.evalAlso?.length ? ` --eval-also ${o.evalAlso.join(' ')}` : ''}`,
    ].join(''),
    parent: { model: await modelParentRef(lm), adapters: [], resumedFromStep: result.resumedFrom },
    data: datasetFacts(m, data.dir),
    tokenizer: { type: 'byte-level BPE', vocabSize: tokenizer.vocabSize, sha256: m.tokenizer.hash, trainedOn: `kept from the base model ${o.model}` },
    config: model.config,
    hyperparameters: { steps: o.steps, batch: o.batch, seqLen, lr: o.lr, weightDecay: adapter ? 0 : 0.1, seed: o.seed, valFraction: o.valFraction ?? 0.05, lora },
    seeds: { init: o.seed, dataOrder: o.seed, dropout: o.seed, validationSplit: o.seed },
    parameters: { trainable: trainableCount, total },
    training: { steps: result.steps, tokensSeen: result.tokens, trainingFlops: flops, trainSeconds: result.seconds, finalTrainLoss: result.finalLoss, finalValLoss: after, resumedFromStep: result.resumedFrom },
    compute: {
      method: adapter
        ? 'counted from the model shapes (src/models/flops.ts): frozen matmuls 2× forward (gradients w.r.t. inputs only), attention 3×, the adapter 3× its forward; evaluation passes not counted'
        : 'counted from the model shapes (src/models/flops.ts): 2·m·n·k per matmul including causal attention, backward = 2× forward; evaluation passes not counted',
      forwardFlopsPerToken: forwardFlopsPerToken(model.config, seqLen),
    },
    device: { name: model.device.name, threads: model.device.threads },
    evaluations,
    mitigations: [
      ...(adapter ? [`LoRA: ${trainableCount.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} parameters trained, so the frozen weights need no weight gradients or optimizer state`] : []),
      ...(data.reused ? [`the token shards were reused from the cache (${data.dir})`] : []),
      ...(result.resumedFrom > 0 ? [`resumed from step ${result.resumedFrom} instead of starting over`] : []),
    ],
    files: { [adapter ? 'adapter' : 'weights']: adapter ? 'adapter_model.safetensors' : 'model.safetensors', summary: 'finetune-summary.txt' },
    // The before/after losses in the shape the first fine-tuning records had (scripts read it).
    extra: { evaluation: { valLoss: { before, after }, alsoValLoss } },
  };
  if (adapter) await saveAdapter(o.out, adapter, model, { baseModel: adapterBaseName(lm) });
  else if (model instanceof Gpt) await saveModel(o.out, { model, tokenizer });
  await recorder.write(o.out, facts);
  const lines = [`validation loss on ${o.data.join(', ')}: ${before.toFixed(4)} → ${after.toFixed(4)}`];
  for (const [k, v] of Object.entries(alsoValLoss)) lines.push(`validation loss on ${k}: ${v.before.toFixed(4)} → ${v.after.toFixed(4)}`);
  say(lines.join('\n') + `\nsaved ${adapter ? 'adapter' : 'model'} to ${o.out}`);
  await writeFile(path.join(o.out, 'finetune-summary.txt'), lines.join('\n') + '\n');
  return { train: result, trainableParameters: trainableCount, totalParameters: total, valLoss: { before, after }, alsoValLoss };
}

/** `genlab merge`: base + adapter → a plain model folder (outputs equal the adapted model's). */
export async function mergeCommand(o: { model: string; adapter: string; out: string }): Promise<void> {
  const recorder = RunRecorder.start();
  const lm = await loadLanguageModel(o.model);
  const adapter = await loadAdapter(o.adapter, lm.model).catch((err: Error) => {
    throw new Error(`--adapter ${o.adapter}: ${err.message}`);
  });
  const t0 = performance.now();
  mergeAdapter(lm.model, adapter);
  const seconds = (performance.now() - t0) / 1000;
  // W += scaling · Aᵀ Bᵀ per adapted matrix: an (in × r)·(r × out) matmul each.
  let flops = 0;
  for (const m of adapter.modules.values()) flops += 2 * m.a.shape[1]! * m.a.shape[0]! * m.b.shape[0]!;
  await saveModel(o.out, lm);
  await recorder.write(o.out, {
    kind: 'merge',
    method: `LoRA merge (r ${adapter.config.r}, α ${adapter.config.alpha}, ${adapter.modules.size} matrices)`,
    command: `genlab merge --model ${o.model} --adapter ${o.adapter} --out ${o.out}`,
    parent: { model: await modelParentRef(lm), adapters: [await parentRef(o.adapter)] },
    data: null,
    config: lm.model.config,
    hyperparameters: { lora: adapter.config },
    parameters: { total: lm.model.numParameters(), trainable: 0 },
    training: { steps: 0, tokensSeen: 0, trainingFlops: 0, trainSeconds: 0, mergeFlops: flops, mergeSeconds: seconds },
    compute: { method: 'no training: the merge adds scaling·AᵀBᵀ to each adapted weight, 2·in·r·out FLOPs per matrix (training.mergeFlops); the compute that made the weights is in the parents\' records' },
    device: { name: lm.model.device.name, threads: lm.model.device.threads },
    mitigations: ['no training: the adapter is folded into the weights, so serving needs no adapter pass'],
    files: { weights: 'model.safetensors' },
  });
  process.stderr.write(`merged ${o.adapter} into ${o.model} → ${o.out}\n`);
}
