// How well a language model predicts a text: cross-entropy per token (nats), perplexity, and bits
// per byte, which does not depend on the tokenizer, so models with different vocabularies (or a
// GPT-2 and a Llama trained on different corpus mixes) compare on the same text. Each document is
// scored after the tokens a document starts with (documentStart: BOS for tokenizers that add one,
// else the end-of-text token genlab's training puts between documents), in windows of the model's
// context; every token of the document is predicted once.

import { noGrad } from '../autograd/tape.ts';
import type { Document } from '../data/corpus.ts';
import { documentStart, type CausalLm, type LanguageModel } from '../generate/generate.ts';
import { empty } from '../tensor/tensor.ts';

export interface CorpusLoss {
  /** Tokens predicted. */
  tokens: number;
  /** UTF-8 bytes of the text those tokens spell. */
  bytes: number;
  documents: number;
  /** Total cross-entropy in nats. */
  nats: number;
  /** Mean cross-entropy per token (nats/token). */
  loss: number;
  perplexity: number;
  bitsPerByte: number;
}

/**
 * Bits per byte of a text: the total cross-entropy converted from nats to bits, over the text's
 * UTF-8 bytes: nats / (bytes · ln 2).
 */
export function bitsPerByte(nats: number, bytes: number): number {
  if (!(bytes > 0)) throw new Error(`bits per byte needs a text of at least one byte, got ${bytes}`);
  return nats / (bytes * Math.LN2);
}

/** The summary of `nats` over `tokens` predictions of a text of `bytes` bytes. */
export function corpusLoss(t: { nats: number; tokens: number; bytes: number; documents: number }): CorpusLoss {
  if (t.tokens === 0) throw new Error('no tokens to score: the documents are empty; check --data (and --held-out)');
  const loss = t.nats / t.tokens;
  return { tokens: t.tokens, bytes: t.bytes, documents: t.documents, nats: t.nats, loss, perplexity: Math.exp(loss), bitsPerByte: bitsPerByte(t.nats, t.bytes) };
}

export interface ScoreOptions {
  /** Stop after about this many predictions (the window that reaches it is finished). */
  maxTokens?: number;
  /** Full-context windows scored together (default 8). */
  batch?: number;
  /** After each document: predictions scored so far, their nats, and the bytes of the documents begun. */
  onProgress?: (p: { tokens: number; bytes: number; nats: number }) => void;
}

/** Scores `docs` with the model; the model is left in the mode it was in. */
export async function scoreDocuments(lm: LanguageModel<CausalLm>, docs: AsyncIterable<Document>, o: ScoreOptions = {}): Promise<CorpusLoss> {
  const { model, tokenizer } = lm;
  const dev = model.device;
  const T = model.contextLength;
  const B = o.batch ?? 8;
  const limit = o.maxTokens ?? Infinity;
  // A tokenizer with neither BOS nor an end-of-text token starts at the document's first token,
  // which is then context only: its bytes still count, so bits per byte errs high.
  const start0 = documentStart(tokenizer);
  const encoder = new TextEncoder();
  let nats = 0;
  /** Predictions queued (the budget counts these) and those already scored (in nats). */
  let tokens = 0;
  let scored = 0;
  let bytes = 0;
  let documents = 0;
  const pending: { inputs: number[]; targets: number[] }[] = [];
  const run = (windows: { inputs: number[]; targets: number[] }[]): void => {
    const n = windows[0]!.inputs.length;
    const loss = dev.scope(() =>
      noGrad(() => {
        const x = empty(dev, [windows.length, n], 'int32').set(windows.flatMap((w) => w.inputs));
        const y = empty(dev, [windows.length, n], 'int32').set(windows.flatMap((w) => w.targets));
        return model.forward(x, y).loss!.item();
      }),
    );
    // The loss is the mean over every position of the batch.
    nats += loss * windows.length * n;
    scored += windows.length * n;
  };
  const wasTraining = model.training;
  model.eval();
  try {
    for await (const doc of docs) {
      if (tokens >= limit) break;
      const ids = tokenizer.encode(doc.text, { allowSpecial: false });
      const seq = [...start0, ...ids];
      if (seq.length < 2) continue;
      documents++;
      let predicted = 0;
      for (let start = 0; start + 1 < seq.length && tokens < limit; start += T) {
        const end = Math.min(seq.length - 1, start + T);
        const w = { inputs: seq.slice(start, end), targets: seq.slice(start + 1, end + 1) };
        // Full windows wait to be scored several at a time; a document's short last one runs alone.
        if (w.inputs.length === T) pending.push(w);
        else run([w]);
        if (pending.length === B) run(pending.splice(0));
        tokens += end - start;
        predicted = end;
      }
      const whole = predicted === seq.length - 1;
      // A document cut short by maxTokens counts the bytes of the part that was scored.
      bytes += encoder.encode(whole ? doc.text : tokenizer.decode(seq.slice(start0.length, predicted + 1))).length;
      o.onProgress?.({ tokens: scored, bytes, nats });
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (pending.length > 0) run(pending.splice(0));
  } finally {
    model.train(wasTraining);
  }
  return corpusLoss({ nats, tokens, bytes, documents });
}
