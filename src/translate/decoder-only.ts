// The decoder-only alternative to the encoder–decoder, for the comparison in docs/translation.md:
// a GPT reads "source <eos> target <eos>" as one sequence and learns only the target half (the
// source positions' targets are the ignore index). Translation is continuation of
// "source <eos>" until the next eos. Same shared BPE vocabulary, training loop (src/train/loop.ts),
// optimizer and schedule as train.ts, so the two architectures differ only in the model.

import { noGrad } from '../autograd/tape.ts';
import { mix32, Rng } from '../backend/rng.ts';
import { Gpt, type GptConfig } from '../models/gpt.ts';
import { empty } from '../tensor/tensor.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { runTraining } from '../train/loop.ts';
import type { EncodedPair } from './train.ts';

export interface DecoderOnlyBatch {
  /** (B, T) inputs: source, eos, target, eos, padded with eos. */
  ids: Int32Array;
  /** (B, T) next tokens, -100 on the source half and the padding. */
  targets: Int32Array;
  b: number;
  t: number;
  tokens: number;
}

/** Batches of pairs of similar total length, at most batchTokens = sentences × longest sequence. */
export function decoderOnlyBatches(pairs: readonly EncodedPair[], batchTokens: number, eos: number, rng: Rng | null): DecoderOnlyBatch[] {
  // src already ends with eos; the sequence is src + tgt + eos, inputs drop the last token.
  const order = [...pairs].sort((a, b) => a.src.length + a.tgt.length - (b.src.length + b.tgt.length));
  const batches: DecoderOnlyBatch[] = [];
  let group: EncodedPair[] = [];
  const flush = (): void => {
    if (group.length === 0) return;
    const t = Math.max(...group.map((p) => p.src.length + p.tgt.length));
    const ids = new Int32Array(group.length * t).fill(eos);
    const targets = new Int32Array(group.length * t).fill(-100);
    let tokens = 0;
    group.forEach((p, i) => {
      const seq = [...p.src, ...p.tgt, eos];
      ids.set(seq.slice(0, -1), i * t);
      // Position j predicts seq[j + 1]; only the target half and its eos count.
      for (let j = p.src.length - 1; j < seq.length - 1; j++) targets[i * t + j] = seq[j + 1]!;
      tokens += p.tgt.length + 1;
    });
    batches.push({ ids, targets, b: group.length, t, tokens });
    group = [];
  };
  for (const p of order) {
    const len = p.src.length + p.tgt.length;
    if (group.length > 0 && (group.length + 1) * len > batchTokens) flush();
    group.push(p);
  }
  flush();
  if (rng) {
    for (let i = batches.length - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [batches[i], batches[j]] = [batches[j]!, batches[i]!];
    }
  }
  return batches;
}

export interface DecoderOnlyRun {
  model: Gpt;
  steps: number;
  seconds: number;
  finalLoss: number;
}

/** Trains a GPT on pairs with the encoder–decoder's loop and schedule (warmup, cosine to lr/10, AdamW β 0.9/0.98). */
export async function trainDecoderOnly(
  pairs: readonly EncodedPair[],
  o: { config: GptConfig; steps: number; batchTokens: number; lr: number; warmup: number; weightDecay: number; seed: number; eos: number; onLog?: (s: string) => void },
): Promise<DecoderOnlyRun> {
  const model = new Gpt(o.config, { seed: o.seed });
  const dev = model.device;
  const rng = new Rng(o.seed);
  let batches: DecoderOnlyBatch[] = [];
  let cursor = 0;
  const r = await runTraining({
    model,
    parameters: model.parameters(),
    step: () => {
      if (cursor >= batches.length) {
        batches = decoderOnlyBatches(pairs, o.batchTokens, o.eos, rng);
        cursor = 0;
      }
      const b = batches[cursor++]!;
      const ids = empty(dev, [b.b, b.t], 'int32').set(b.ids);
      const targets = empty(dev, [b.b, b.t], 'int32').set(b.targets);
      return { loss: model.forward(ids, targets).loss!, tokens: b.tokens };
    },
    steps: o.steps,
    schedule: { lr: o.lr, minLr: o.lr / 10, warmup: o.warmup, decayFromStart: true },
    optimizer: { beta1: 0.9, beta2: 0.98, eps: 1e-9, weightDecay: o.weightDecay },
    seed: o.seed,
    // The masks runs drew before the shared loop, so the documented results repeat.
    dropoutSeed: (step) => mix32(mix32(o.seed) ^ mix32(step)),
    logFile: null,
    onStep: (m) => {
      if (m.step % 100 === 0) o.onLog?.(`decoder-only step ${m.step}: loss ${m.loss.toFixed(3)}, ${m.elapsedSeconds.toFixed(0)} s`);
    },
  });
  model.eval();
  return { model, steps: r.steps, seconds: r.seconds, finalLoss: r.finalLoss };
}

/** Greedy translation: continue "source <eos>" until eos (or maxLength new tokens). */
export function decoderOnlyTranslate(model: Gpt, tok: Tokenizer, src: readonly number[], eos: number, maxLength: number): string {
  const dev = model.device;
  const room = model.config.nPositions - src.length;
  const limit = Math.min(maxLength, room);
  if (limit <= 0) throw new Error(`the source is ${src.length} tokens; the decoder-only model's context is ${model.config.nPositions}`);
  const cache = model.createCache(1, src.length + limit);
  const out: number[] = [];
  let input: readonly number[] = src;
  for (let i = 0; i < limit; i++) {
    const next = noGrad(() =>
      dev.scope(() => {
        const ids = empty(dev, [1, input.length], 'int32').set(input);
        const logits = model.forward(ids, null, cache).logits.toArray();
        const V = model.config.vocabSize;
        const last = logits.subarray((input.length - 1) * V, input.length * V);
        let best = 0;
        for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
        return best;
      }),
    );
    if (next === eos) break;
    out.push(next);
    input = [next];
  }
  return tok.decode(out).trim();
}
