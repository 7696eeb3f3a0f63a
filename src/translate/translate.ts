// Translating text with a trained encoder–decoder: the source is encoded once, the decoder runs
// one token per step with its KV cache (one row per beam), and beam search or greedy decoding
// picks the output. Paragraphs are translated sentence by sentence (the model was trained on
// single sentences or verses).

import { noGrad } from '../autograd/tape.ts';
import { logSoftmax } from '../generate/sampling.ts';
import { empty } from '../tensor/tensor.ts';
import { beamSearch, greedySearch, type Hypothesis, type StepScorer } from './beam.ts';
import type { TranslationModel } from './folder.ts';
import type { DecoderCache } from '../models/translator.ts';

export interface TranslateOptions {
  /** 1 = greedy decoding; default 5. */
  beamSize?: number;
  /** Length penalty α (default 1.0: on the en-de validation set 1.0–1.5 beat 0.6, see docs/translation.md); ignored by greedy decoding. */
  lengthPenalty?: number;
  /** Longest output in tokens (default 2 × source + 10, at most the model's positions). */
  maxLength?: number;
}

export interface SentenceTranslation {
  source: string;
  translation: string;
  /** Source and output lengths in tokens. */
  sourceTokens: number;
  outputTokens: number;
  /** Sum of the output tokens' log-probabilities, and the length-normalised score beam search ranked by. */
  logprob: number;
  score: number;
  /** False when the output was cut at maxLength. */
  finished: boolean;
}

/** Encodes a sentence as the model's source: BPE ids + eos. Errors name the limit when it is too long. */
export function sourceIds(tm: TranslationModel, text: string): number[] {
  const ids = tm.tokenizer.encode(text, { allowSpecial: false });
  ids.push(tm.model.config.eosTokenId);
  if (ids.length > tm.model.config.nPositions) {
    throw new Error(`the sentence is ${ids.length} tokens long; this model reads at most ${tm.model.config.nPositions} (split it into shorter sentences)`);
  }
  return ids;
}

/** Runs the model's decoder over `rows` beams of one source sentence. */
class ModelScorer implements StepScorer {
  readonly vocabSize: number;
  private readonly cache: DecoderCache;
  private readonly row: Float64Array;

  constructor(
    private readonly tm: TranslationModel,
    src: readonly number[],
    private readonly rows: number,
    maxLength: number,
  ) {
    const { model } = tm;
    const dev = model.device;
    this.vocabSize = model.config.vocabSize;
    this.row = new Float64Array(this.vocabSize);
    this.cache = noGrad(() =>
      dev.scope(() => {
        const ids = empty(dev, [1, src.length], 'int32').set(src);
        return model.startDecoding(model.encode(ids), rows, maxLength);
      }),
    );
  }

  step(tokens: Int32Array): Float64Array {
    const { model } = this.tm;
    const dev = model.device;
    const V = this.vocabSize;
    const out = new Float64Array(this.rows * V);
    noGrad(() =>
      dev.scope(() => {
        const ids = empty(dev, [this.rows, 1], 'int32').set(tokens);
        const logits = model.decode(ids, null, this.cache).toArray(); // (rows, 1, V)
        for (let r = 0; r < this.rows; r++) {
          logSoftmax(logits.subarray(r * V, (r + 1) * V), this.row);
          out.set(this.row, r * V);
        }
      }),
    );
    return out;
  }

  reorder(parents: Int32Array): void {
    this.cache.reorder(parents);
  }
}

/** Translates one sentence; returns the best hypothesis, or all beams with `all`. */
export function translateIds(tm: TranslationModel, src: readonly number[], o: TranslateOptions = {}): Hypothesis[] {
  const beamSize = o.beamSize ?? 5;
  if (!Number.isInteger(beamSize) || beamSize < 1 || beamSize > 64) throw new Error(`beam size must be an integer from 1 to 64, got ${o.beamSize}`);
  const cfg = tm.model.config;
  const maxLength = Math.min(o.maxLength ?? 2 * src.length + 10, cfg.nPositions);
  if (!(maxLength >= 1)) throw new Error(`maxLength must be at least 1, got ${o.maxLength}`);
  const eos = cfg.eosTokenId;
  const common = { maxLength, eos, start: eos };
  if (beamSize === 1) return [greedySearch(new ModelScorer(tm, src, 1, maxLength), common)];
  return beamSearch(new ModelScorer(tm, src, beamSize, maxLength), { ...common, beamSize, lengthPenalty: o.lengthPenalty ?? 1.0 });
}

export function translateSentence(tm: TranslationModel, text: string, o: TranslateOptions = {}): SentenceTranslation {
  const src = sourceIds(tm, text);
  const best = translateIds(tm, src, o)[0]!;
  return {
    source: text,
    translation: tm.tokenizer.decode(best.tokens).trim(),
    sourceTokens: src.length,
    outputTokens: best.tokens.length,
    logprob: best.logprob,
    score: best.score,
    finished: best.finished,
  };
}

/**
 * Splits text into sentences: at line breaks, and after . ! ? … (and closing quotes) followed by
 * a space and an upper-case letter, digit or opening quote. Abbreviations like "Mr." are not
 * special-cased: splitting there costs little with a sentence-level model.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const parts = line.split(/(?<=[.!?…]["'”’»)]*)\s+(?=["'“„«¿¡(]*[\p{Lu}\d])/u);
    for (const p of parts) if (p.trim()) out.push(p.trim());
  }
  return out;
}

export interface TextTranslation {
  translation: string;
  sentences: SentenceTranslation[];
}

/** Translates a text sentence by sentence (keeping its line breaks); `check` runs between sentences (abort). */
export function translateText(tm: TranslationModel, text: string, o: TranslateOptions & { check?: () => void } = {}): TextTranslation {
  const sentences: SentenceTranslation[] = [];
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const parts: string[] = [];
    for (const s of splitSentences(line)) {
      o.check?.();
      const t = translateSentence(tm, s, o);
      sentences.push(t);
      parts.push(t.translation);
    }
    lines.push(parts.join(' '));
  }
  return { translation: lines.join('\n').trim(), sentences };
}
