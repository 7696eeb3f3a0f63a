// `genlab align`: DPO on preference pairs (JSONL or the app's SQLite database) with LoRA (writes a
// PEFT adapter folder; the reference is the base model with the adapter detached) or fully
// (--lora-r 0; writes a model folder). Logs every step to align-log.jsonl and draws loss, reward
// margin and accuracy on the progress bar.

import path from 'node:path';
import { adapterBaseName, loadLanguageModel, saveModel } from '../io/model-folder.ts';
import { Gpt } from '../models/gpt.ts';
import { saveAdapter } from '../io/peft.ts';
import { forwardFlopsPerToken } from '../models/flops.ts';
import { attachAdapter, freezeBase, LoraAdapter, type LoraConfig } from '../nn/lora.ts';
import { modelParentRef, RunRecorder } from '../record/record-writer.ts';
import type { Evaluation } from '../record/run-record.ts';
import { dpoEvaluate, dpoFlopsMethod, referenceFlops, referenceLogprobs, trainDpo } from './dpo.ts';
import type { LoopEvent, LoopResult } from './pair-loop.ts';
import { readPreferences, splitPairs, tokenizePairs } from './preferences.ts';
import { preferenceDataFacts } from './run-facts.ts';

export interface AlignCommandOptions {
  model: string;
  /** JSONL file or the app's feedback.sqlite. */
  data: string;
  out: string;
  /** With the SQLite database: also pair 👍 and 👎 ratings of the same prompt (default true). */
  ratings?: boolean;
  /** LoRA rank; 0 trains the whole model. */
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module-name suffixes to adapt (default: the architecture's loraTargets). */
  target?: string[];
  beta: number;
  /** Optimizer steps (default: epochs × pairs / batch). */
  steps?: number;
  epochs?: number;
  batch: number;
  lr: number;
  /** Longest prompt + completion in tokens (default: the model's context). */
  maxLength?: number;
  sftWeight?: number;
  labelSmoothing?: number;
  valFraction?: number;
  evalEvery?: number;
  seed: number;
  quiet?: boolean;
}

export interface AlignCommandResult {
  pairs: { train: number; val: number };
  train: LoopResult;
  /** Held-out DPO metrics at the start (policy = reference) and at the end. */
  val: { before: Record<string, number>; after: Record<string, number> } | null;
}

const fmt = (x: number | undefined, d = 3): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));

export async function alignCommand(o: AlignCommandOptions): Promise<AlignCommandResult> {
  const say = (s: string): void => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  const recorder = RunRecorder.start();
  const lm = await loadLanguageModel(o.model);
  const { model, tokenizer } = lm;
  if (o.loraR === 0 && !(model instanceof Gpt)) throw new Error(`--lora-r 0 (aligning the whole model) writes a GPT-2 model folder; ${o.model} is a Llama-family model, so align it with LoRA (--lora-r 8)`);
  const target = o.target ?? [...model.loraTargets];
  const pad = tokenizer.eotId ?? 0;
  const raw = await readPreferences(o.data, { ratings: o.ratings ?? true });
  const maxLength = Math.min(o.maxLength ?? model.contextLength, model.contextLength);
  const tokenized = tokenizePairs(raw, tokenizer, { maxLength });
  const { train: trainPairs, val: valPairs } = splitPairs(tokenized, o.valFraction ?? 0.1, o.seed);

  let adapter: LoraAdapter | null = null;
  if (o.loraR > 0) {
    const config: LoraConfig = { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targetModules: target, rsLora: false };
    freezeBase(model);
    adapter = LoraAdapter.create(model, config, { seed: o.seed });
    attachAdapter(model, adapter);
  }
  const trainable = adapter ? adapter.numParameters() : model.numParameters();
  const steps = o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 2) * trainPairs.length) / o.batch));
  say(`${raw.length} preference pairs (${trainPairs.length} train, ${valPairs.length} held out) from ${o.data}`);
  say(`DPO β=${o.beta}, ${adapter ? `LoRA r=${o.loraR} α=${o.loraAlpha} on ${target.join(', ')}` : 'full fine-tuning'}: ${trainable.toLocaleString()} trainable parameters; ${steps} steps of ${Math.min(o.batch, trainPairs.length)} pairs`);

  // The reference log-probabilities, once, before any update.
  const train = referenceLogprobs(model, trainPairs, { adapter, pad });
  const val = referenceLogprobs(model, valPairs, { adapter, pad });
  const lossOpts = { beta: o.beta, labelSmoothing: o.labelSmoothing ?? 0, sftWeight: o.sftWeight ?? 0 };
  const valBefore = val.length > 0 ? dpoEvaluate(model, val, { ...lossOpts, pad }) : null;

  const events: LoopEvent[] = [];
  let result: LoopResult;
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    result = await trainDpo({
      model,
      adapter,
      train,
      val,
      steps,
      batchSize: o.batch,
      lr: o.lr,
      ...lossOpts,
      seed: o.seed,
      pad,
      logFile: path.join(o.out, 'align-log.jsonl'),
      ...(o.evalEvery ? { evalEvery: o.evalEvery } : {}),
      signal: stop.signal,
      ...(o.quiet
        ? {}
        : { progress: { label: 'align    ', format: 'loss {loss} | margin {margin} | acc {acc} | chosen {chosen}', fields: (m) => ({ loss: fmt(m.loss), margin: fmt(m['rewards/margins'] as number), acc: fmt(m['rewards/accuracies'] as number, 2), chosen: fmt(m['rewards/chosen'] as number) }) } }),
      onEvent: (e) => {
        events.push(e);
        if (!o.quiet) process.stderr.write(`\nstep ${e.step}: ${e.message}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const valAfter = result.eval;
  const valFraction = o.valFraction ?? 0.1;
  const evaluations: Evaluation[] = valAfter
    ? [{ name: 'preference-pairs', data: `${val.length} held-out pairs of ${o.data}`, metrics: { ...valAfter, ...(valBefore ? { lossBefore: valBefore['loss']!, accuracyBefore: valBefore['rewards/accuracies']! } : {}) }, createdAt: new Date().toISOString(), command: 'measured by genlab align at the start and the end: DPO loss, reward accuracy and margin of the held-out pairs' }]
    : [];
  const refFlops = referenceFlops(model.config, trainPairs, pad) + referenceFlops(model.config, valPairs, pad);
  const lora = adapter ? adapter.config : null;
  if (adapter) await saveAdapter(o.out, adapter, model, { baseModel: adapterBaseName(lm) });
  else if (model instanceof Gpt) await saveModel(o.out, { model, tokenizer });
  await recorder.write(o.out, {
    kind: 'alignment',
    method: adapter ? `DPO with LoRA (r ${o.loraR}, α ${o.loraAlpha}, on ${target.join(', ')})` : 'DPO, full fine-tuning',
    command: [
      `genlab align --model ${o.model} --data ${o.data} --out ${o.out} --lora-r ${o.loraR}`,
      adapter ? ` --lora-alpha ${o.loraAlpha} --lora-dropout ${o.loraDropout} --target ${target.join(',')}` : '',
      ` --beta ${o.beta} --steps ${steps} --batch ${o.batch} --lr ${o.lr} --max-length ${maxLength}${o.sftWeight ? ` --sft-weight ${o.sftWeight}` : ''}${o.labelSmoothing ? ` --label-smoothing ${o.labelSmoothing}` : ''}${o.ratings === false ? ' --no-ratings' : ''} --val-fraction ${valFraction} --seed ${o.seed}`,
    ].join(''),
    parent: { model: await modelParentRef(lm) },
    data: preferenceDataFacts({ name: o.data, path: path.resolve(o.data), raw, train: trainPairs, val: valPairs, valFraction, seed: o.seed }),
    config: model.config,
    hyperparameters: { beta: o.beta, labelSmoothing: o.labelSmoothing ?? 0, sftWeight: o.sftWeight ?? 0, steps, batch: o.batch, lr: o.lr, maxLength, seed: o.seed, valFraction, ratings: o.ratings ?? true, lora },
    seeds: { init: o.seed, dataOrder: o.seed, validationSplit: o.seed },
    parameters: { trainable, total: model.numParameters() + (adapter?.numParameters() ?? 0) },
    training: { steps: result.steps, tokensSeen: result.tokens, trainingFlops: result.flops + refFlops, trainSeconds: result.seconds, referenceFlops: refFlops, skippedSteps: result.skipped, last: result.last, events },
    compute: {
      method: dpoFlopsMethod(adapter !== null),
      forwardFlopsPerToken: forwardFlopsPerToken(model.config, maxLength),
    },
    device: { name: model.device.name, threads: model.device.threads },
    evaluations,
    mitigations: [
      'the reference log-probabilities were computed once before training, not at every step',
      ...(adapter ? [`LoRA: ${trainable.toLocaleString('en-US')} trainable parameters; the reference is the base with the adapter detached, not a second copy of the model`] : []),
    ],
    files: { log: 'align-log.jsonl', ...(adapter ? { adapter: 'adapter_model.safetensors' } : { weights: 'model.safetensors' }) },
  });
  const l = result.last;
  say(`last step: loss ${fmt(l?.loss)}, reward margin ${fmt(l?.['rewards/margins'] as number)}, accuracy ${fmt(l?.['rewards/accuracies'] as number, 2)}`);
  if (valBefore && valAfter) {
    say(`held-out pairs: loss ${fmt(valBefore['loss'])} → ${fmt(valAfter['loss'])}, accuracy ${fmt(valBefore['rewards/accuracies'], 2)} → ${fmt(valAfter['rewards/accuracies'], 2)}, margin ${fmt(valAfter['rewards/margins'])}`);
  }
  say(`saved ${adapter ? 'adapter' : 'model'} to ${o.out}${adapter ? ` (serve it with: genlab serve --model ${o.model} --adapter aligned=${o.out})` : ''}`);
  return { pairs: { train: train.length, val: val.length }, train: result, val: valBefore && valAfter ? { before: valBefore, after: valAfter } : null };
}
