// `genlab reward train`: a reward model (GPT backbone from a base model + scalar head) trained with
// the Bradley–Terry loss on preference pairs. `genlab reward --model RM --prompt P --completion C`:
// the reward of completions.

import path from 'node:path';
import { loadModel } from '../io/model-folder.ts';
import { forwardFlopsPerToken } from '../models/flops.ts';
import { modelParentRef, RunRecorder } from '../record/record-writer.ts';
import type { LoopResult } from './pair-loop.ts';
import { readPreferences, splitPairs, tokenizePairs } from './preferences.ts';
import { loadRewardModel, rewardEvaluate, RewardModel, saveRewardModel, scoreCompletions, trainRewardModel } from './reward-model.ts';
import { preferenceDataFacts } from './run-facts.ts';

export interface RewardTrainCommandOptions {
  model: string;
  data: string;
  out: string;
  ratings?: boolean;
  steps?: number;
  epochs?: number;
  batch: number;
  lr: number;
  center?: number;
  maxLength?: number;
  valFraction?: number;
  seed: number;
  quiet?: boolean;
}

export async function rewardTrainCommand(o: RewardTrainCommandOptions): Promise<{ train: LoopResult; val: Record<string, number> | null }> {
  const say = (s: string): void => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  const recorder = RunRecorder.start();
  const lm = await loadModel(o.model);
  const { tokenizer } = lm;
  const pad = tokenizer.eotId ?? 0;
  const raw = await readPreferences(o.data, { ratings: o.ratings ?? true });
  const tokenized = tokenizePairs(raw, tokenizer, { maxLength: Math.min(o.maxLength ?? lm.model.config.nPositions, lm.model.config.nPositions) });
  const valFraction = o.valFraction ?? 0.1;
  const maxLength = Math.min(o.maxLength ?? lm.model.config.nPositions, lm.model.config.nPositions);
  const { train, val } = splitPairs(tokenized, valFraction, o.seed);
  const rm = new RewardModel(lm.model, { seed: o.seed });
  const steps = o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 2) * train.length) / o.batch));
  say(`${raw.length} preference pairs (${train.length} train, ${val.length} held out); reward model on ${o.model}: ${rm.numParameters().toLocaleString()} parameters, ${steps} steps`);
  const result: LoopResult = await trainRewardModel({
    rm,
    train,
    val,
    steps,
    batchSize: o.batch,
    lr: o.lr,
    ...(o.center !== undefined ? { center: o.center } : {}),
    seed: o.seed,
    pad,
    logFile: path.join(o.out, 'reward-log.jsonl'),
    ...(o.quiet ? {} : { progress: { label: 'reward   ', format: 'loss {loss} | acc {acc} | margin {margin}', fields: (m) => ({ loss: m.loss.toFixed(3), acc: Number(m['accuracy']).toFixed(2), margin: Number(m['margin']).toFixed(2) }) } }),
    onEvent: (e) => say(`\nstep ${e.step}: ${e.message}`),
  });
  const valMetrics = val.length > 0 ? rewardEvaluate(rm, val, pad) : null;
  await saveRewardModel(o.out, rm, tokenizer);
  const config = lm.model.config;
  const center = o.center ?? 0.01;
  await recorder.write(o.out, {
    kind: 'reward-model',
    method: 'Bradley–Terry reward model: the base model\'s backbone and a scalar head, all trained',
    command: `genlab reward train --model ${o.model} --data ${o.data} --out ${o.out} --steps ${steps} --batch ${o.batch} --lr ${o.lr} --center ${center} --max-length ${maxLength}${o.ratings === false ? ' --no-ratings' : ''} --val-fraction ${valFraction} --seed ${o.seed}`,
    parent: { model: await modelParentRef(lm) },
    data: preferenceDataFacts({ name: o.data, path: path.resolve(o.data), raw, train, val, valFraction, seed: o.seed }),
    config,
    hyperparameters: { steps, batch: o.batch, lr: o.lr, center, maxLength, seed: o.seed, valFraction, ratings: o.ratings ?? true },
    seeds: { init: o.seed, dataOrder: o.seed, validationSplit: o.seed },
    parameters: { total: rm.numParameters(), trainable: rm.numParameters() },
    training: { steps: result.steps, tokensSeen: result.tokens, trainingFlops: result.flops, trainSeconds: result.seconds, skippedSteps: result.skipped, last: result.last },
    compute: { method: 'counted from the model shapes (src/models/flops.ts): every step\'s forward + backward (3× forward) over its padded pair batch, the GPT backbone without its LM head; the scalar head (2·C per row) and evaluation passes not counted', forwardFlopsPerToken: forwardFlopsPerToken(config, maxLength, { head: false }) },
    device: { name: lm.model.device.name, threads: lm.model.device.threads },
    evaluations: valMetrics ? [{ name: 'preference-pairs', data: `${val.length} held-out pairs of ${o.data}`, metrics: valMetrics, createdAt: new Date().toISOString(), command: 'measured by genlab reward train at the end: Bradley–Terry loss, accuracy and margin of the held-out pairs' }] : [],
    files: { log: 'reward-log.jsonl', weights: 'model.safetensors' },
  });
  if (valMetrics) say(`held-out pairs: accuracy ${(100 * valMetrics['accuracy']!).toFixed(1)}%, mean margin ${valMetrics['margin']!.toFixed(3)}`);
  say(`saved reward model to ${o.out} (score text with: genlab reward --model ${o.out} --prompt P --completion C)`);
  return { train: result, val: valMetrics };
}

export async function rewardScoreCommand(o: { model: string; prompt: string; completion: string[]; json?: boolean }): Promise<number[]> {
  if (o.completion.length === 0) throw new Error('give at least one --completion to score');
  const loaded = await loadRewardModel(o.model);
  const scores = scoreCompletions(loaded, o.prompt, o.completion);
  if (o.json) console.log(JSON.stringify({ prompt: o.prompt, rewards: o.completion.map((c, i) => ({ completion: c, reward: scores[i] })) }));
  else o.completion.forEach((c, i) => console.log(`${scores[i]!.toFixed(4).padStart(9)}  ${JSON.stringify(c)}`));
  return scores;
}
