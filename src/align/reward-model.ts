// A reward model: the GPT backbone (final LayerNorm output) and a scalar head read at the last
// token, trained with the Bradley–Terry loss −log σ(r_chosen − r_rejected) on preference pairs
// (Ouyang et al. 2022), plus an optional small penalty on (r_chosen + r_rejected)² that keeps the
// rewards centred on 0 (Eisenstein et al. 2023). The folder is Hugging Face's
// GPT2ForSequenceClassification layout: config.json with that architecture and num_labels 1,
// model.safetensors with `transformer.*` backbone names and `score.weight` (1, n_embd).

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { readyDefaultDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { resolveModelSource } from '../io/hub.ts';
import { generationConfigFromModel, makeGpt2Config, readGpt2Config, writeGenerationConfig, writeGpt2Config } from '../io/hf-config.ts';
import { openSafetensors, writeSafetensors } from '../io/safetensors.ts';
import { trainStepFlops } from '../models/flops.ts';
import { Gpt } from '../models/gpt.ts';
import { Module, createParameter } from '../nn/module.ts';
import { add } from '../ops/elementwise.ts';
import { matmul } from '../ops/matmul.ts';
import { slice } from '../ops/views.ts';
import { empty, formatShape, type Tensor } from '../tensor/tensor.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { backwardThroughScalars, logSigmoid, sigmoid, type ScalarOutputs } from './logprobs.ts';
import { runPairLoop, type LoopEvent, type LoopResult, type LoopStep, type PairLoopOptions } from './pair-loop.ts';
import type { TokenizedPair } from './preferences.ts';

export const REWARD_ARCHITECTURE = 'GPT2ForSequenceClassification';

/** The scalar head; a module of its own so its parameter is named score.weight, as in transformers. */
class ScoreHead extends Module {
  readonly weight: Tensor;
  constructor(width: number, device: Device, std: number, seed: number) {
    super();
    this.weight = this.param('weight', createParameter([1, width], { device, std, rng: new Rng(seed) }));
  }
}

export class RewardModel extends Module {
  readonly transformer: Gpt;
  /** (1, n_embd): Hugging Face's score.weight (out, in). */
  readonly score: Tensor;

  constructor(backbone: Gpt, opts: { seed?: number } = {}) {
    super();
    this.transformer = this.module('transformer', backbone);
    this.score = this.module('score', new ScoreHead(backbone.config.nEmbd, backbone.device, backbone.config.initializerRange, opts.seed ?? 0)).weight;
  }

  get device(): Device {
    return this.transformer.device;
  }

  /** Final hidden states (B, T, C): the GPT's blocks and final LayerNorm, without the LM head. */
  hidden(ids: Tensor): Tensor {
    const g = this.transformer;
    const [, T] = ids.shape as [number, number];
    if (T > g.config.nPositions) throw new Error(`reward model: ${T} positions exceed the context of ${g.config.nPositions}; shorten the text`);
    const pos = empty(g.device, [T], 'int32');
    const pv = pos.unsafeView();
    for (let t = 0; t < T; t++) pv[t] = t;
    let x = g.drop.forward(add(g.wte.forward(ids), g.wpe.forward(pos)));
    for (let i = 0; i < g.h.length; i++) x = g.h[i]!.forward(x, null, i);
    return g.lnF.forward(x);
  }

  /** Rewards of right-padded rows, read at each row's last token (graph scalars; call inside a scope). */
  rewards(ids: Tensor, lengths: readonly number[]): ScalarOutputs {
    const s = matmul(this.hidden(ids), this.score, { transB: true }); // (B, T, 1)
    const tensors: Tensor[] = [];
    const values = new Float64Array(lengths.length);
    lengths.forEach((len, r) => {
      if (!(len >= 1)) throw new Error(`reward model: row ${r} is empty; score at least one token`);
      const v = slice(slice(s, 0, r, r + 1), 1, len - 1, len);
      tensors.push(v);
      values[r] = v.item();
    });
    return { tensors, values };
  }
}

/** Right-padded rows of token sequences. */
export function packRows(seqs: readonly (readonly number[])[], pad: number): { ids: Int32Array; width: number; lengths: number[] } {
  const width = seqs.reduce((w, s) => Math.max(w, s.length), 1);
  const ids = new Int32Array(seqs.length * width).fill(pad);
  seqs.forEach((s, r) => ids.set(s, r * width));
  return { ids, width, lengths: seqs.map((s) => s.length) };
}

export interface BradleyTerryResult {
  loss: number;
  gradChosen: Float64Array;
  gradRejected: Float64Array;
  metrics: { accuracy: number; margin: number; 'rewards/chosen': number; 'rewards/rejected': number };
}

/** Mean −log σ(r_c − r_r) + center·(r_c + r_r)² over pairs, with derivatives per reward. */
export function bradleyTerryLoss(chosen: ArrayLike<number>, rejected: ArrayLike<number>, center = 0): BradleyTerryResult {
  const B = chosen.length;
  if (B === 0 || rejected.length !== B) throw new Error(`Bradley–Terry loss: expected equally many chosen and rejected rewards, got ${chosen.length} and ${rejected.length}`);
  const gradChosen = new Float64Array(B);
  const gradRejected = new Float64Array(B);
  let loss = 0;
  let acc = 0;
  let rc = 0;
  let rr = 0;
  for (let i = 0; i < B; i++) {
    const z = chosen[i]! - rejected[i]!;
    const sum = chosen[i]! + rejected[i]!;
    loss += -logSigmoid(z) + center * sum * sum;
    const dz = -sigmoid(-z);
    gradChosen[i] = (dz + 2 * center * sum) / B;
    gradRejected[i] = (-dz + 2 * center * sum) / B;
    if (z > 0) acc++;
    rc += chosen[i]!;
    rr += rejected[i]!;
  }
  return { loss: loss / B, gradChosen, gradRejected, metrics: { accuracy: acc / B, margin: (rc - rr) / B, 'rewards/chosen': rc / B, 'rewards/rejected': rr / B } };
}

const pairRows = (pairs: readonly TokenizedPair[]): number[][] => [...pairs.map((p) => [...p.prompt, ...p.chosen]), ...pairs.map((p) => [...p.prompt, ...p.rejected])];

/** Rewards of token sequences (no gradients, evaluation mode). */
export function rewardsOf(rm: RewardModel, seqs: readonly (readonly number[])[], pad: number, batchSize = 8): number[] {
  const out: number[] = [];
  const wasTraining = rm.training;
  rm.eval();
  try {
    for (let i = 0; i < seqs.length; i += batchSize) {
      const chunk = seqs.slice(i, i + batchSize);
      const packed = packRows(chunk, pad);
      const dev = rm.device;
      const v = dev.scope(() => noGrad(() => rm.rewards(empty(dev, [chunk.length, packed.width], 'int32').set(packed.ids), packed.lengths).values));
      out.push(...v);
    }
  } finally {
    rm.train(wasTraining);
  }
  return out;
}

/** Accuracy and mean margin of the reward model on pairs. */
export function rewardEvaluate(rm: RewardModel, pairs: readonly TokenizedPair[], pad: number): Record<string, number> {
  const r = rewardsOf(rm, pairRows(pairs), pad);
  const res = bradleyTerryLoss(r.slice(0, pairs.length), r.slice(pairs.length));
  return { loss: res.loss, ...res.metrics };
}

export interface RewardTrainOptions {
  rm: RewardModel;
  train: readonly TokenizedPair[];
  val?: readonly TokenizedPair[];
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  pad: number;
  /** Weight of the (r_c + r_r)² centring term (default 0.01). */
  center?: number;
  weightDecay?: number;
  logFile: string | null;
  evalEvery?: number;
  progress?: PairLoopOptions<TokenizedPair>['progress'];
  onStep?: (m: LoopStep) => void;
  onEvent?: (e: LoopEvent) => void;
  signal?: AbortSignal;
}

export async function trainRewardModel(o: RewardTrainOptions): Promise<LoopResult> {
  const { rm } = o;
  const center = o.center ?? 0.01;
  return runPairLoop<TokenizedPair>({
    model: rm.transformer,
    parameters: rm.parameters(),
    train: o.train,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    weightDecay: o.weightDecay ?? 0,
    seed: o.seed,
    step: (batch) => {
      rm.train();
      const packed = packRows(pairRows(batch), o.pad);
      const B = batch.length;
      const dev = rm.device;
      const res = dev.scope(() => {
        const r = rm.rewards(empty(dev, [2 * B, packed.width], 'int32').set(packed.ids), packed.lengths);
        const bt = bradleyTerryLoss(r.values.subarray(0, B), r.values.subarray(B), center);
        if (Number.isFinite(bt.loss)) backwardThroughScalars(r.tensors, [...bt.gradChosen, ...bt.gradRejected]);
        return bt;
      });
      // The backbone without the LM head, trained fully; the scalar head is 2·C FLOPs per row.
      return { loss: res.loss, metrics: { ...res.metrics }, flops: trainStepFlops(rm.transformer.config, 2 * B, packed.width, null, { head: false }), tokens: 2 * B * packed.width };
    },
    ...(o.val && o.val.length > 0 ? { evaluate: () => rewardEvaluate(rm, o.val!, o.pad) } : {}),
    ...(o.evalEvery !== undefined ? { evalEvery: o.evalEvery } : {}),
    logFile: o.logFile,
    ...(o.progress ? { progress: o.progress } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

export interface LoadedRewardModel {
  rm: RewardModel;
  tokenizer: Tokenizer;
  dir: string;
}

/** Writes the reward model as a GPT2ForSequenceClassification folder. */
export async function saveRewardModel(dir: string, rm: RewardModel, tokenizer: Tokenizer): Promise<void> {
  await mkdir(dir, { recursive: true });
  const c = rm.transformer.config;
  const config = makeGpt2Config({
    vocabSize: c.vocabSize,
    nPositions: c.nPositions,
    nEmbd: c.nEmbd,
    nLayer: c.nLayer,
    nHead: c.nHead,
    nInner: c.nInner,
    layerNormEpsilon: c.layerNormEpsilon,
    embdPdrop: c.embdPdrop,
    residPdrop: c.residPdrop,
    attnPdrop: c.attnPdrop,
    initializerRange: c.initializerRange,
    bosTokenId: tokenizer.eotId,
    eosTokenId: tokenizer.eotId,
    architectures: [REWARD_ARCHITECTURE],
    extra: { num_labels: 1, pad_token_id: tokenizer.eotId, problem_type: 'regression' },
  });
  await writeSafetensors(
    path.join(dir, 'model.safetensors'),
    rm.namedParameters().map(([name, t]) => ({ name, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array })),
    { format: 'pt' },
  );
  await saveTokenizer(dir, tokenizer);
  await writeGpt2Config(dir, config);
  await writeGenerationConfig(dir, generationConfigFromModel(config));
}

/** Loads a reward model folder, or `hf:ORG/NAME[@REV]` (read only, so the Hub cache snapshot serves as is). */
export async function loadRewardModel(source: string, opts: { device?: Device } = {}): Promise<LoadedRewardModel> {
  const dir = await resolveModelSource(source);
  const config = readGpt2Config(dir);
  if (!config.architectures.includes(REWARD_ARCHITECTURE)) {
    throw new Error(`${path.join(dir, 'config.json')}: architectures ${JSON.stringify(config.architectures)} is not a reward model (${REWARD_ARCHITECTURE}); train one with \`genlab reward train --model BASE --data PAIRS --out ${dir}\``);
  }
  const labels = config.extra['num_labels'] ?? 1;
  if (labels !== 1) throw new Error(`${path.join(dir, 'config.json')}: num_labels is ${JSON.stringify(labels)}; a reward model has one output (num_labels 1)`);
  const tokenizer = await loadTokenizer(dir);
  const rm = new RewardModel(new Gpt(config, { device: opts.device ?? (await readyDefaultDevice()) }));
  const file = path.join(dir, 'model.safetensors');
  const reader = openSafetensors(file);
  try {
    const stored = new Map(reader.names.map((n) => [n.startsWith('transformer.') || n.startsWith('score.') ? n : `transformer.${n}`, n]));
    for (const [name, t] of rm.namedParameters()) {
      const key = stored.get(name);
      if (!key) throw new Error(`${file}: has no tensor ${name}; is this a ${REWARD_ARCHITECTURE} folder genlab or transformers wrote?`);
      const info = reader.info(key);
      if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
        throw new Error(`${file}: ${key} has shape ${formatShape(info.shape)}, the config implies ${formatShape(t.shape)}`);
      }
      t.set(reader.readF32(key));
    }
  } finally {
    reader.close();
  }
  rm.eval();
  return { rm, tokenizer, dir };
}

/**
 * Token ids of prompt + completion as the reward model reads them (the same encoding as the
 * preference pairs: a prompt's trailing spaces move to the completion), cut from the left to fit
 * the context.
 */
export function rewardInput(tokenizer: Tokenizer, prompt: string, completion: string, context: number): number[] {
  const space = /[ ]+$/.exec(prompt)?.[0] ?? '';
  let p = tokenizer.encode(prompt.slice(0, prompt.length - space.length), { allowSpecial: false });
  if (p.length === 0 && tokenizer.eotId !== null) p = [tokenizer.eotId];
  const ids = [...p, ...tokenizer.encode(space + completion, { allowSpecial: false })];
  if (ids.length === 0) throw new Error('reward model: the prompt and the completion are both empty; give some text to score');
  return ids.length > context ? ids.slice(ids.length - context) : ids;
}

/** Rewards of completions of one prompt. */
export function scoreCompletions(loaded: { rm: RewardModel; tokenizer: Tokenizer }, prompt: string, completions: readonly string[]): number[] {
  const ctx = loaded.rm.transformer.config.nPositions;
  const seqs = completions.map((c) => rewardInput(loaded.tokenizer, prompt, c, ctx));
  return rewardsOf(loaded.rm, seqs, loaded.tokenizer.eotId ?? 0);
}
