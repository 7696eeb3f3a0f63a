// Evidence that alignment works, end to end: pick a measurable property of completions (mentions a
// topic, avoids a word), sample completions from the model itself, pair those with the property
// (chosen) against those without (rejected), run DPO with LoRA, then sample fresh completions of
// held-out prompts and compare the property's rate before and after — together with the KL
// divergence of the aligned policy from the reference on those samples, which says how far DPO
// moved the model to get there. Optionally a reward model trained on the same pairs picks the best
// of n samples of the unchanged model, the other way to buy the property.

import { noGrad } from '../autograd/tape.ts';
import { generate, type LanguageModel } from '../generate/generate.ts';
import { generateBestOf } from '../generate/best-of.ts';
import { logSoftmax } from '../generate/sampling.ts';
import { Gpt } from '../models/gpt.ts';
import { attachAdapter, freezeBase, LoraAdapter, type LoraConfig } from '../nn/lora.ts';
import { empty } from '../tensor/tensor.ts';
import { referenceLogprobs, trainDpo } from './dpo.ts';
import type { LoopEvent, LoopResult, LoopStep } from './pair-loop.ts';
import type { TokenizedPair } from './preferences.ts';
import { RewardModel, rewardEvaluate, rewardsOf, trainRewardModel } from './reward-model.ts';

export interface Sample {
  prompt: string;
  text: string;
  /** Generated token ids (end-of-text included when it was sampled). */
  ids: number[];
  has: boolean;
}

export interface SamplingSpec {
  maxTokens: number;
  temperature: number;
  topK?: number;
  seed: number;
}

/** n samples per prompt and the share that has the property. */
export async function sampleProperty(lm: LanguageModel, prompts: readonly string[], n: number, property: (text: string) => boolean, s: SamplingSpec): Promise<{ samples: Sample[]; rate: number }> {
  const samples: Sample[] = [];
  for (let i = 0; i < prompts.length; i++) {
    const r = await generate(lm, prompts[i]!, { n, maxTokens: s.maxTokens, temperature: s.temperature, topK: s.topK ?? 0, seed: s.seed + 7919 * i });
    for (const c of r.completions) samples.push({ prompt: prompts[i]!, text: c.text, ids: c.tokens.map((t) => t.id), has: property(c.text) });
  }
  return { samples, rate: samples.filter((x) => x.has).length / Math.max(1, samples.length) };
}

/**
 * Pairs (a sample with the property, one without) of the same prompt, at most `perPrompt` per
 * prompt. The pairs keep the sampled token ids rather than re-encoding the text, so they are
 * exactly the model's own samples even where the text does not round-trip (invalid UTF-8).
 */
export function propertyPairs(samples: readonly Sample[], perPrompt: number, tokenizer: LanguageModel['tokenizer'], context: number): TokenizedPair[] {
  const byPrompt = new Map<string, Sample[]>();
  for (const s of samples) byPrompt.set(s.prompt, [...(byPrompt.get(s.prompt) ?? []), s]);
  const out: TokenizedPair[] = [];
  const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const [prompt, group] of byPrompt) {
    let ids = tokenizer.encode(prompt, { allowSpecial: false });
    if (ids.length === 0 && tokenizer.eotId !== null) ids = [tokenizer.eotId];
    const room = context - ids.length;
    const yes = group.filter((s) => s.has && s.ids.length > 0);
    const no = group.filter((s) => !s.has && s.ids.length > 0);
    let made = 0;
    for (let i = 0; made < perPrompt && i < yes.length * no.length; i++) {
      const c = yes[i % yes.length]!.ids.slice(0, room);
      const r = no[Math.floor(i / yes.length) % no.length]!.ids.slice(0, room);
      if (same(c, r)) continue;
      out.push({ prompt: ids, chosen: c, rejected: r, source: `sample pair ${out.length + 1} (prompt ${JSON.stringify(prompt)})` });
      made++;
    }
  }
  return out;
}

/** Runs a forward pass of the policy or of the reference (attaching or detaching an adapter, or using a second model). */
export interface PolicyPair {
  policy: <T>(fn: (model: Gpt) => T) => T;
  reference: <T>(fn: (model: Gpt) => T) => T;
}

/** The policy is the model with `adapter` attached; the reference the same weights without it. */
export function adapterPair(model: Gpt, adapter: LoraAdapter): PolicyPair {
  return {
    policy: (fn) => {
      attachAdapter(model, adapter);
      return fn(model);
    },
    reference: (fn) => {
      attachAdapter(model, null);
      try {
        return fn(model);
      } finally {
        attachAdapter(model, adapter);
      }
    },
  };
}

/**
 * KL(π ‖ π_ref) on the policy's own samples: for each sample, the exact KL of the next-token
 * distributions summed over its generated positions (an unbiased estimate of the sequence KL).
 */
export function heldOutKl(tokenizer: LanguageModel['tokenizer'], models: PolicyPair, samples: readonly Sample[]): { perSequence: number; perToken: number } {
  const logitsOf = (model: Gpt, ids: number[]): Float32Array => {
    const dev = model.device;
    const wasTraining = model.training;
    model.eval();
    try {
      return dev.scope(() => noGrad(() => model.forward(empty(dev, [1, ids.length], 'int32').set(ids)).logits.toArray() as Float32Array));
    } finally {
      model.train(wasTraining);
    }
  };
  let total = 0;
  let tokens = 0;
  let p: Float64Array | null = null;
  let q: Float64Array | null = null;
  for (const s of samples) {
    if (s.ids.length === 0) continue;
    let prompt = tokenizer.encode(s.prompt, { allowSpecial: false });
    if (prompt.length === 0 && tokenizer.eotId !== null) prompt = [tokenizer.eotId];
    const [pol, V, ctx] = models.policy((m) => [logitsOf(m, [...prompt, ...s.ids].slice(0, m.config.nPositions)), m.config.vocabSize, m.config.nPositions] as const);
    const ids = [...prompt, ...s.ids].slice(0, ctx);
    const ref = models.reference((m) => logitsOf(m, ids));
    p ??= new Float64Array(V);
    q ??= new Float64Array(V);
    for (let t = prompt.length - 1; t < ids.length - 1; t++) {
      logSoftmax(pol.subarray(t * V, (t + 1) * V), p);
      logSoftmax(ref.subarray(t * V, (t + 1) * V), q);
      let kl = 0;
      for (let v = 0; v < V; v++) if (p[v]! > -Infinity) kl += Math.exp(p[v]!) * (p[v]! - q[v]!);
      total += kl;
      tokens++;
    }
  }
  const seqs = samples.filter((s) => s.ids.length > 0).length;
  return { perSequence: total / Math.max(1, seqs), perToken: total / Math.max(1, tokens) };
}

/** A second model with the same weights (the frozen reference of full fine-tuning). */
export function copyModel(model: Gpt): Gpt {
  const copy = new Gpt(model.config, { device: model.device });
  copy.loadStateDict(new Map(model.namedParameters().map(([n, t]) => [n, t.toArray() as Float32Array])));
  copy.eval();
  return copy;
}

export interface PropertyExperimentOptions {
  lm: LanguageModel;
  property: (text: string) => boolean;
  trainPrompts: readonly string[];
  evalPrompts: readonly string[];
  /** Samples per training prompt from which pairs are made. */
  samplesPerPrompt: number;
  pairsPerPrompt: number;
  /** Samples per held-out prompt for the rates. */
  evalSamplesPerPrompt: number;
  sampling: SamplingSpec;
  /** LoRA settings, or null for full fine-tuning (then a copy of the starting weights is the reference for the KL). */
  lora: LoraConfig | null;
  dpo: { beta: number; lr: number; steps: number; batchSize: number; sftWeight?: number };
  /** Also train a reward model on the pairs and measure best-of-n sampling of the base model. */
  reward?: { steps: number; lr: number; bestOf: number; batchSize: number };
  seed: number;
  logFile?: string | null;
  onStep?: (m: LoopStep, phase: 'dpo' | 'reward') => void;
  onEvent?: (e: LoopEvent) => void;
  say?: (line: string) => void;
}

export interface PropertyExperimentResult {
  pairs: number;
  before: { rate: number; samples: number };
  after: { rate: number; samples: number };
  kl: { perSequence: number; perToken: number };
  dpo: LoopResult;
  bestOf?: { n: number; rate: number; rewardAccuracy: number };
  examples: { before: Sample[]; after: Sample[] };
  adapter: LoraAdapter | null;
}

/** The whole experiment on `lm` (with LoRA its base weights are frozen and the trained adapter is returned attached; fully, its weights change). */
export async function runPropertyExperiment(o: PropertyExperimentOptions): Promise<PropertyExperimentResult> {
  const say = o.say ?? (() => {});
  const { lm } = o;
  const { model, tokenizer } = lm;
  const pad = tokenizer.eotId ?? 0;
  attachAdapter(model, null);
  const evalSpec = { ...o.sampling, seed: o.sampling.seed + 1_000_003 };
  const before = await sampleProperty(lm, o.evalPrompts, o.evalSamplesPerPrompt, o.property, evalSpec);
  say(`before: ${(100 * before.rate).toFixed(1)}% of ${before.samples.length} held-out samples have the property`);
  const pool = await sampleProperty(lm, o.trainPrompts, o.samplesPerPrompt, o.property, o.sampling);
  const tokenized = propertyPairs(pool.samples, o.pairsPerPrompt, tokenizer, model.config.nPositions);
  say(`pairs: ${tokenized.length} from ${pool.samples.length} samples of ${o.trainPrompts.length} prompts (${(100 * pool.rate).toFixed(1)}% had the property)`);
  if (tokenized.length < 2) throw new Error(`only ${tokenized.length} preference pair(s) could be made: the property is (almost) never or always present in the samples; pick a property with a rate between 5% and 95%, or sample more`);

  let adapter: LoraAdapter | null = null;
  let reference: Gpt | null = null;
  if (o.lora) {
    freezeBase(model);
    adapter = LoraAdapter.create(model, o.lora, { seed: o.seed });
    attachAdapter(model, adapter);
  } else {
    reference = copyModel(model);
  }
  const referenced = referenceLogprobs(model, tokenized, { adapter, pad });
  const dpo = await trainDpo({
    model,
    adapter,
    train: referenced,
    steps: o.dpo.steps,
    batchSize: o.dpo.batchSize,
    lr: o.dpo.lr,
    beta: o.dpo.beta,
    sftWeight: o.dpo.sftWeight ?? 0,
    seed: o.seed,
    pad,
    logFile: o.logFile ?? null,
    ...(o.onStep ? { onStep: (m: LoopStep) => o.onStep!(m, 'dpo') } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  model.eval();
  const after = await sampleProperty(lm, o.evalPrompts, o.evalSamplesPerPrompt, o.property, evalSpec);
  const pair: PolicyPair = adapter ? adapterPair(model, adapter) : { policy: (fn) => fn(model), reference: (fn) => fn(reference!) };
  const kl = heldOutKl(tokenizer, pair, after.samples);
  say(`after DPO: ${(100 * after.rate).toFixed(1)}% (KL to the reference ${kl.perSequence.toFixed(3)} nats per sample, ${kl.perToken.toFixed(4)} per token)`);

  let bestOf: PropertyExperimentResult['bestOf'];
  if (o.reward) {
    // A separate copy of the starting weights as the reward model's backbone.
    const backbone = copyModel(reference ?? model);
    for (const p of backbone.parameters()) p.requiresGrad = true;
    const rm = new RewardModel(backbone, { seed: o.seed });
    const split = Math.max(1, Math.floor(tokenized.length * 0.8));
    await trainRewardModel({
      rm,
      train: tokenized.slice(0, split),
      steps: o.reward.steps,
      batchSize: o.reward.batchSize,
      lr: o.reward.lr,
      seed: o.seed,
      pad,
      logFile: null,
      ...(o.onStep ? { onStep: (m: LoopStep) => o.onStep!(m, 'reward') } : {}),
    });
    const held = tokenized.slice(split);
    const heldEval = held.length > 0 ? rewardEvaluate(rm, held, pad) : null;
    const promptOf = (p: string): number[] => {
      const ids = tokenizer.encode(p, { allowSpecial: false });
      return ids.length === 0 && tokenizer.eotId !== null ? [tokenizer.eotId] : ids;
    };
    const clip = (ids: number[]): number[] => ids.slice(Math.max(0, ids.length - model.config.nPositions));
    // Best-of-n draws from the starting policy.
    const start: LanguageModel = reference ? { model: reference, tokenizer } : lm;
    attachAdapter(model, null);
    let has = 0;
    let count = 0;
    for (let i = 0; i < o.evalPrompts.length; i++) {
      for (let j = 0; j < o.evalSamplesPerPrompt; j++) {
        const r = await generateBestOf(start, o.evalPrompts[i]!, {
          bestOf: o.reward.bestOf,
          maxTokens: o.sampling.maxTokens,
          temperature: o.sampling.temperature,
          topK: o.sampling.topK ?? 0,
          seed: evalSpec.seed + 7919 * i + 104729 * (j + 1),
          // Scored by token ids, like the pairs the reward model learned from.
          score: (_prompt, cs) => rewardsOf(rm, cs.map((c) => clip([...promptOf(o.evalPrompts[i]!), ...c.tokens.map((t) => t.id)])), pad),
        });
        if (o.property(r.completions[0]!.text)) has++;
        count++;
      }
    }
    if (adapter) attachAdapter(model, adapter);
    bestOf = { n: o.reward.bestOf, rate: has / Math.max(1, count), rewardAccuracy: heldEval ? heldEval['accuracy']! : NaN };
    say(`best-of-${o.reward.bestOf} with the reward model (base policy): ${(100 * bestOf.rate).toFixed(1)}%; reward model accuracy on ${held.length} held-out pairs ${(100 * bestOf.rewardAccuracy).toFixed(0)}%`);
  }
  return {
    pairs: tokenized.length,
    before: { rate: before.rate, samples: before.samples.length },
    after: { rate: after.rate, samples: after.samples.length },
    kl,
    dpo,
    ...(bestOf ? { bestOf } : {}),
    examples: { before: before.samples.slice(0, 6), after: after.samples.slice(0, 6) },
    adapter,
  };
}
