// `genlab align`: DPO on preference pairs (JSONL or the app's SQLite database) with LoRA (writes a
// PEFT adapter folder; the reference is the base model with the adapter detached) or fully
// (--lora-r 0; writes a model folder). Logs every step to align-log.jsonl and draws loss, reward
// margin and accuracy on the progress bar.

import path from 'node:path';
import { progressBar } from '../cli/progress.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { loadModel, saveModel } from '../io/model-folder.ts';
import { saveAdapter } from '../io/peft.ts';
import { attachAdapter, freezeBase, LoraAdapter, type LoraConfig } from '../nn/lora.ts';
import { dpoEvaluate, referenceLogprobs, trainDpo } from './dpo.ts';
import type { LoopEvent, LoopResult } from './pair-loop.ts';
import { readPreferences, splitPairs, tokenizePairs } from './preferences.ts';

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
  target: string[];
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
  const lm = await loadModel(o.model);
  const { model, tokenizer } = lm;
  const pad = tokenizer.eotId ?? 0;
  const raw = await readPreferences(o.data, { ratings: o.ratings ?? true });
  const maxLength = Math.min(o.maxLength ?? model.config.nPositions, model.config.nPositions);
  const tokenized = tokenizePairs(raw, tokenizer, { maxLength });
  const { train: trainPairs, val: valPairs } = splitPairs(tokenized, o.valFraction ?? 0.1, o.seed);

  let adapter: LoraAdapter | null = null;
  if (o.loraR > 0) {
    const config: LoraConfig = { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targetModules: o.target, rsLora: false };
    freezeBase(model);
    adapter = LoraAdapter.create(model, config, { seed: o.seed });
    attachAdapter(model, adapter);
  }
  const trainable = adapter ? adapter.numParameters() : model.numParameters();
  const steps = o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 2) * trainPairs.length) / o.batch));
  say(`${raw.length} preference pairs (${trainPairs.length} train, ${valPairs.length} held out) from ${o.data}`);
  say(`DPO β=${o.beta}, ${adapter ? `LoRA r=${o.loraR} α=${o.loraAlpha} on ${o.target.join(', ')}` : 'full fine-tuning'}: ${trainable.toLocaleString()} trainable parameters; ${steps} steps of ${Math.min(o.batch, trainPairs.length)} pairs`);

  // The reference log-probabilities, once, before any update.
  const train = referenceLogprobs(model, trainPairs, { adapter, pad });
  const val = referenceLogprobs(model, valPairs, { adapter, pad });
  const lossOpts = { beta: o.beta, labelSmoothing: o.labelSmoothing ?? 0, sftWeight: o.sftWeight ?? 0 };
  const valBefore = val.length > 0 ? dpoEvaluate(model, val, { ...lossOpts, pad }) : null;

  const bar = o.quiet ? null : progressBar(steps, 'align    ', 'loss {loss} | margin {margin} | acc {acc} | chosen {chosen}');
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
      onStep: (m) =>
        bar?.update(m.step, { loss: fmt(m.loss), margin: fmt(m['rewards/margins'] as number), acc: fmt(m['rewards/accuracies'] as number, 2), chosen: fmt(m['rewards/chosen'] as number) }),
      onEvent: (e) => {
        events.push(e);
        if (!o.quiet) process.stderr.write(`\nstep ${e.step}: ${e.message}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
    bar?.stop();
  }
  const valAfter = result.eval;
  const record = {
    genlab: { version: '0.1.0', kind: adapter ? 'dpo-lora' : 'dpo-full' },
    createdAt: new Date().toISOString(),
    parent: { model: path.resolve(o.model), runRecord: lm.runRecord },
    data: { source: path.resolve(o.data), pairs: raw.length, train: train.length, val: val.length, ratings: o.ratings ?? true },
    hyperparameters: { beta: o.beta, labelSmoothing: o.labelSmoothing ?? 0, sftWeight: o.sftWeight ?? 0, steps, batch: o.batch, lr: o.lr, maxLength, seed: o.seed, lora: adapter ? adapter.config : null },
    parameters: { trainable, total: model.numParameters() + (adapter?.numParameters() ?? 0) },
    training: { steps: result.steps, seconds: result.seconds, skippedSteps: result.skipped, last: result.last, events },
    evaluation: { before: valBefore, after: valAfter },
  };
  if (adapter) {
    await saveAdapter(o.out, adapter, { baseModel: path.resolve(o.model) });
    await writeJsonAtomic(path.join(o.out, 'run.json'), record);
  } else {
    await saveModel(o.out, { model, tokenizer }, { runRecord: record });
  }
  const l = result.last;
  say(`last step: loss ${fmt(l?.loss)}, reward margin ${fmt(l?.['rewards/margins'] as number)}, accuracy ${fmt(l?.['rewards/accuracies'] as number, 2)}`);
  if (valBefore && valAfter) {
    say(`held-out pairs: loss ${fmt(valBefore['loss'])} → ${fmt(valAfter['loss'])}, accuracy ${fmt(valBefore['rewards/accuracies'], 2)} → ${fmt(valAfter['rewards/accuracies'], 2)}, margin ${fmt(valAfter['rewards/margins'])}`);
  }
  say(`saved ${adapter ? 'adapter' : 'model'} to ${o.out}${adapter ? ` (serve it with: genlab serve --model ${o.model} --adapter aligned=${o.out})` : ''}`);
  return { pairs: { train: train.length, val: val.length }, train: result, val: valBefore && valAfter ? { before: valBefore, after: valAfter } : null };
}
