// Text generation and scoring with a GPT and its tokenizer. Generation decodes n continuations of
// one prompt as a batch with a KV cache, streams events as tokens are chosen, stops on stop
// sequences or the end-of-text token, and reports each token's probability with the top
// alternatives. Scoring gives the same per-token view of any existing text.

import { noGrad } from '../autograd/tape.ts';
import { Rng } from '../backend/rng.ts';
import type { GenerationConfig } from './generation-config.ts';
import type { Device } from '../backend/device.ts';
import type { DecoderConfig } from '../models/flops.ts';
import type { Gpt } from '../models/gpt.ts';
import type { KvCache } from '../models/kv-cache.ts';
import type { DropoutSeeds } from '../nn/layers.ts';
import type { Module } from '../nn/module.ts';
import { empty, type Tensor } from '../tensor/tensor.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { logSoftmax, sampleFrom, topLogprobs, validateSampling, type SamplingOptions } from './sampling.ts';
import { Watermark, type WatermarkOptions } from './watermark.ts';

/** What generation and scoring need of a decoder: GPT-2 (Gpt) and the Llama family (Llama) both fit. */
export interface CausalLm extends Module {
  readonly device: Device;
  readonly config: DecoderConfig;
  /** Positions the model can attend over (GPT-2 n_positions, Llama max_position_embeddings). */
  readonly contextLength: number;
  /** Set by the trainer each micro-step so dropout masks (the model's, a LoRA adapter's) are reproducible. */
  readonly dropoutSeeds: DropoutSeeds;
  /** Module-name suffixes LoRA adapts unless told otherwise (--target). */
  readonly loraTargets: readonly string[];
  /** What transformers' *ForCausalLM puts before genlab's module names (PEFT adapter names carry it). */
  readonly hfNamePrefix: string;
  /** Logits (B, T, V), and the mean cross-entropy when targets are given. */
  forward(ids: Tensor, targets?: Tensor | null, cache?: KvCache | null): { logits: Tensor; loss: Tensor | null };
  createCache(batch: number, maxLength?: number): KvCache;
}

export interface LanguageModel<M extends CausalLm = Gpt> {
  model: M;
  tokenizer: Tokenizer;
  /** The folder's generation_config.json, when it has one (defaults: generation-defaults.ts). */
  generationConfig?: GenerationConfig | null;
}

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most per completion (default 64). */
  maxTokens?: number;
  /** Completions of the same prompt, decoded together (default 1). */
  n?: number;
  /** Seed of the sampler (default: random). */
  seed?: number;
  /** Generation of a completion ends before any of these strings; it is not part of the text. */
  stop?: readonly string[];
  /** Alternatives to report per token (0–20, default 0). */
  logprobs?: number;
  /** End a completion at the end-of-text token (default true). */
  stopAtEndOfText?: boolean;
  /**
   * The tokens that end a completion (default: the tokenizer's end-of-text token). Chat models end
   * a turn with their own (Llama 3: <|eot_id|>); generation-defaults.ts reads them from the model.
   * Ignored when stopAtEndOfText is false.
   */
  stopTokenIds?: readonly number[];
  /** Aborting ends generation after the current step. */
  signal?: AbortSignal;
  /**
   * Watermark the text (Kirchenbauer et al. 2023): δ is added to the logits of a green list seeded
   * by the previous token before sampling (true = default γ 0.25, δ 2). Reported logprobs stay the
   * model's own.
   */
  watermark?: boolean | WatermarkOptions;
}

export interface TokenAlternative {
  id: number;
  text: string;
  logprob: number;
}

export interface GeneratedToken extends TokenAlternative {
  /** The most likely alternatives at this position (length = options.logprobs). */
  top: TokenAlternative[];
  /** Entropy (nats) of the model's next-token distribution here: high means the model was unsure. */
  entropy: number;
}

export type FinishReason = 'stop' | 'length';

export type GenerateEvent =
  /** A token was chosen; `text` is the text it releases (held back while it may start a stop sequence). */
  | { type: 'token'; index: number; token: GeneratedToken; text: string }
  | { type: 'done'; index: number; finishReason: FinishReason; text: string };

export interface Completion {
  text: string;
  tokens: GeneratedToken[];
  finishReason: FinishReason;
}

export interface GenerateResult {
  promptTokens: number[];
  completions: Completion[];
}

const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * The token a text is read after: the one the tokenizer puts in front of every text (Llama's BOS),
 * else its end-of-text token (GPT-2 separates documents with it), else null.
 */
export function startOfTextId(tokenizer: Tokenizer): number | null {
  const wrap = tokenizer.encode('', { addSpecialTokens: true });
  return wrap.length > 0 ? wrap[0]! : tokenizer.eotId;
}

/**
 * Token ids of a prompt, with the tokens the tokenizer adds in front (Llama's BOS, from
 * add_bos_token or the post-processor; GPT-2 adds none); an empty prompt without them starts from
 * the end-of-text token, as GPT-2 does.
 */
/**
 * The ids a scored document starts after: the tokenizer's own prefix when it adds one (Llama's
 * BOS, as the model saw documents in pre-training), else the end-of-text token GPT-2-style
 * training puts between documents, else none (the first token is then context only).
 */
export function documentStart(tokenizer: Tokenizer): number[] {
  const prefix = tokenizer.encode('', { allowSpecial: false, addSpecialTokens: true });
  if (prefix.length > 0) return prefix;
  return tokenizer.eotId === null ? [] : [tokenizer.eotId];
}

export function promptIds(tokenizer: Tokenizer, prompt: string | readonly number[]): number[] {
  const ids = typeof prompt === 'string' ? tokenizer.encode(prompt, { allowSpecial: false, addSpecialTokens: true }) : [...prompt];
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) throw new Error(`prompt token id ${id} is outside the vocabulary (0..${tokenizer.vocabSize - 1})`);
  }
  if (ids.length === 0) {
    if (tokenizer.eotId === null) throw new Error('the prompt is empty and the tokenizer has no end-of-text token to start from; give a prompt');
    ids.push(tokenizer.eotId);
  }
  return ids;
}

interface RowState {
  decoder: ReturnType<Tokenizer['streamDecoder']>;
  /** Text decoded so far that has not been released. */
  pending: string;
  released: string;
  count: number;
  done: boolean;
}

/** Streams the generation of opts.n completions of `prompt`. */
export async function* generateStream(lm: LanguageModel<CausalLm>, prompt: string | readonly number[], opts: GenerateOptions = {}): AsyncGenerator<GenerateEvent> {
  const { model, tokenizer } = lm;
  validateSampling(opts);
  const maxTokens = opts.maxTokens ?? 64;
  const n = opts.n ?? 1;
  const k = opts.logprobs ?? 0;
  const stop = (opts.stop ?? []).filter((s) => s.length > 0);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error(`maxTokens must be a positive integer, got ${opts.maxTokens}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${opts.n}`);
  if (!Number.isInteger(k) || k < 0 || k > 20) throw new Error(`logprobs must be an integer from 0 to 20, got ${opts.logprobs}`);
  const ids = promptIds(tokenizer, prompt);
  const context = model.contextLength;
  if (ids.length + maxTokens > context) {
    throw new Error(`the prompt has ${ids.length} tokens; with maxTokens ${maxTokens} that exceeds the model's context of ${context} tokens — shorten the prompt or lower maxTokens`);
  }
  const dev = model.device;
  const rng = new Rng(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  const V = model.config.vocabSize;
  const stopIds = new Set(opts.stopAtEndOfText === false ? [] : (opts.stopTokenIds ?? (tokenizer.eotId === null ? [] : [tokenizer.eotId])));
  const pad = stopIds.size > 0 ? stopIds.values().next().value! : 0; // fed to rows that are done
  const maxStop = stop.reduce((m, s) => Math.max(m, s.length), 0);
  const rows: RowState[] = Array.from({ length: n }, () => ({ decoder: tokenizer.streamDecoder(), pending: '', released: '', count: 0, done: false }));
  const logprobs = new Float64Array(V);
  const watermark = opts.watermark ? new Watermark(opts.watermark === true ? {} : opts.watermark) : null;
  const biased = watermark ? new Float64Array(V) : null;
  const prev = new Array<number>(n).fill(ids[ids.length - 1]!);
  const cache = model.createCache(n, ids.length + maxTokens);
  const wasTraining = model.training;
  model.eval();
  try {
    let input: number[] = [];
    for (let b = 0; b < n; b++) input.push(...ids);
    let width = ids.length;
    for (let step = 0; step < maxTokens; step++) {
      const last = dev.scope(() =>
        noGrad(() => {
          const t = empty(dev, [n, width], 'int32').set(input);
          const logits = model.forward(t, null, cache).logits; // (n, width, V)
          const all = logits.unsafeView();
          const out = new Float32Array(n * V);
          for (let b = 0; b < n; b++) out.set(all.subarray((b * width + width - 1) * V, (b * width + width) * V), b * V);
          return out;
        }),
      );
      const next: number[] = [];
      for (let b = 0; b < n; b++) {
        const row = rows[b]!;
        if (row.done) {
          next.push(pad);
          continue;
        }
        logSoftmax(last.subarray(b * V, (b + 1) * V), logprobs);
        const id = sampleFrom(watermark ? watermark.bias(logprobs, prev[b]!, biased!) : logprobs, opts, rng);
        prev[b] = id;
        next.push(id);
        row.count++;
        const token: GeneratedToken = {
          id,
          text: tokenizer.tokenText(id),
          logprob: logprobs[id]!,
          top: topLogprobs(logprobs, k).map((c) => ({ id: c.id, text: tokenizer.tokenText(c.id), logprob: c.logprob })),
          entropy: entropy(logprobs),
        };
        if (stopIds.has(id)) {
          row.done = true;
          yield { type: 'token', index: b, token, text: '' };
          yield { type: 'done', index: b, finishReason: 'stop', text: row.pending + row.decoder.flush().replace(/\uFFFD$/, '') };
          continue;
        }
        row.pending += row.decoder.push(id);
        const hit = firstStop(row.released + row.pending, stop, row.released.length - maxStop);
        if (hit >= 0) {
          row.done = true;
          const keep = hit - row.released.length;
          yield { type: 'token', index: b, token, text: '' };
          yield { type: 'done', index: b, finishReason: 'stop', text: keep > 0 ? row.pending.slice(0, keep) : '' };
          continue;
        }
        // Release all text that cannot be the beginning of a stop sequence.
        const safe = row.pending.length - stopPrefixLength(row.pending, stop);
        const text = row.pending.slice(0, safe);
        row.pending = row.pending.slice(safe);
        row.released += text;
        yield { type: 'token', index: b, token, text };
      }
      if (rows.every((r) => r.done)) return;
      if (opts.signal?.aborted) return;
      input = next;
      width = 1;
      await yieldToEventLoop();
      if (opts.signal?.aborted) return;
    }
    for (let b = 0; b < n; b++) {
      const row = rows[b]!;
      if (!row.done) yield { type: 'done', index: b, finishReason: 'length', text: row.pending + row.decoder.flush() };
    }
  } finally {
    model.train(wasTraining);
    cache.free();
  }
}

/** Shannon entropy (nats) of a distribution given by its log-probabilities. */
function entropy(logprobs: Float64Array): number {
  let h = 0;
  for (let i = 0; i < logprobs.length; i++) if (logprobs[i]! > -Infinity) h -= Math.exp(logprobs[i]!) * logprobs[i]!;
  return h;
}

/** Index of the earliest stop string in text at or after `from`, or -1. */
function firstStop(text: string, stop: readonly string[], from: number): number {
  let best = -1;
  for (const s of stop) {
    const i = text.indexOf(s, Math.max(0, from));
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of text that is a proper prefix of a stop string. */
function stopPrefixLength(text: string, stop: readonly string[]): number {
  let best = 0;
  for (const s of stop) {
    for (let len = Math.min(s.length - 1, text.length); len > best; len--) {
      if (text.endsWith(s.slice(0, len))) {
        best = len;
        break;
      }
    }
  }
  return best;
}

/** Runs generateStream to the end and collects the completions. */
export async function generate(lm: LanguageModel<CausalLm>, prompt: string | readonly number[], opts: GenerateOptions = {}): Promise<GenerateResult> {
  const n = opts.n ?? 1;
  const completions: Completion[] = Array.from({ length: n }, () => ({ text: '', tokens: [], finishReason: 'length' as FinishReason }));
  for await (const ev of generateStream(lm, prompt, opts)) {
    const c = completions[ev.index]!;
    if (ev.type === 'token') c.tokens.push(ev.token);
    else c.finishReason = ev.finishReason;
    c.text += ev.text;
  }
  return { promptTokens: promptIds(lm.tokenizer, prompt), completions };
}

export interface ScoredToken extends TokenAlternative {
  /** Offset of the token's text in the scored string (UTF-16 units). */
  offset: number;
  /** Probability under the model given everything before it; null for the first token. */
  logprob: number;
  top: TokenAlternative[];
}

/**
 * Every token of `text` with the model's probability of it given the preceding tokens, and the
 * top-k alternatives at that position (what the app's likelihood view shows). The first token is
 * scored after startOfTextId (BOS or end-of-text) when the tokenizer has one, else it has logprob NaN.
 */
export function scoreText(lm: LanguageModel<CausalLm>, text: string, topK = 5): ScoredToken[] {
  const { tokenizer } = lm;
  const ids = tokenizer.encode(text, { allowSpecial: false });
  if (ids.length === 0) return [];
  const bos = startOfTextId(tokenizer);
  const scored = scoreIds(lm, bos === null ? ids : [bos, ...ids], topK);
  return bos === null ? scored : scored.slice(1);
}

/**
 * Scores a sequence of ids: entry i has the model's log-probability of ids[i] given ids[0..i) and
 * the top-k alternatives there (entry 0 has logprob NaN and no alternatives). Texts and offsets
 * are those of the decoded pieces.
 */
export function scoreIds(lm: LanguageModel<CausalLm>, ids: readonly number[], topK = 5): ScoredToken[] {
  const { model, tokenizer } = lm;
  const context = model.contextLength;
  if (ids.length > context) throw new Error(`the text has ${ids.length} tokens, more than the model's context of ${context}; score a shorter text`);
  const V = model.config.vocabSize;
  const dev = model.device;
  const wasTraining = model.training;
  model.eval();
  try {
    const logits = dev.scope(() => noGrad(() => model.forward(empty(dev, [1, ids.length], 'int32').set(ids)).logits.toArray()));
    const pieces = tokenizer.tokenPieces(ids.map((id) => (tokenizer.isSpecial(id) ? -1 : id)).filter((id) => id >= 0));
    const lp = new Float64Array(V);
    const out: ScoredToken[] = [];
    let offset = 0;
    let piece = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      let logprob = NaN;
      let top: TokenAlternative[] = [];
      if (i > 0) {
        logSoftmax(logits.subarray((i - 1) * V, i * V), lp);
        logprob = lp[id]!;
        top = topLogprobs(lp, topK).map((c) => ({ id: c.id, text: tokenizer.tokenText(c.id), logprob: c.logprob }));
      }
      // Special tokens (end-of-text) are markers, not text: they contribute no characters.
      const text = tokenizer.isSpecial(id) ? '' : pieces[piece++]!;
      out.push({ id, text, offset, logprob, top });
      offset += text.length;
    }
    return out;
  } finally {
    model.train(wasTraining);
  }
}
