// `genlab reward train`: a reward model (GPT backbone from a base model + scalar head) trained with
// the Bradley–Terry loss on preference pairs. `genlab reward --model RM --prompt P --completion C`:
// the reward of completions.

import path from 'node:path';
import { progressBar } from '../cli/progress.ts';
import { loadModel } from '../io/model-folder.ts';
import type { LoopResult } from './pair-loop.ts';
import { readPreferences, splitPairs, tokenizePairs } from './preferences.ts';
import { loadRewardModel, rewardEvaluate, RewardModel, saveRewardModel, scoreCompletions, trainRewardModel } from './reward-model.ts';

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
  const lm = await loadModel(o.model);
  const { tokenizer } = lm;
  const pad = tokenizer.eotId ?? 0;
  const raw = await readPreferences(o.data, { ratings: o.ratings ?? true });
  const tokenized = tokenizePairs(raw, tokenizer, { maxLength: Math.min(o.maxLength ?? lm.model.config.nPositions, lm.model.config.nPositions) });
  const { train, val } = splitPairs(tokenized, o.valFraction ?? 0.1, o.seed);
  const rm = new RewardModel(lm.model, { seed: o.seed });
  const steps = o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 2) * train.length) / o.batch));
  say(`${raw.length} preference pairs (${train.length} train, ${val.length} held out); reward model on ${o.model}: ${rm.numParameters().toLocaleString()} parameters, ${steps} steps`);
  const bar = o.quiet ? null : progressBar(steps, 'reward   ', 'loss {loss} | acc {acc} | margin {margin}');
  let result: LoopResult;
  try {
    result = await trainRewardModel({
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
      onStep: (m) => bar?.update(m.step, { loss: m.loss.toFixed(3), acc: Number(m['accuracy']).toFixed(2), margin: Number(m['margin']).toFixed(2) }),
      onEvent: (e) => say(`\nstep ${e.step}: ${e.message}`),
    });
  } finally {
    bar?.stop();
  }
  const valMetrics = val.length > 0 ? rewardEvaluate(rm, val, pad) : null;
  await saveRewardModel(o.out, rm, tokenizer, {
    genlab: { version: '0.1.0', kind: 'reward-model' },
    createdAt: new Date().toISOString(),
    parent: { model: path.resolve(o.model) },
    data: { source: path.resolve(o.data), pairs: raw.length, train: train.length, val: val.length },
    hyperparameters: { steps, batch: o.batch, lr: o.lr, center: o.center ?? 0.01, seed: o.seed },
    training: { seconds: result.seconds, last: result.last },
    evaluation: valMetrics,
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
