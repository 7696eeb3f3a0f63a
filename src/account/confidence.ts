// Hallucination signals for the API and the app: spans of text whose tokens the model itself found
// unlikely. A token the model gave probability p is, if the model is calibrated (see calibration.ts
// and `genlab eval --calibration`), one it expected to be wrong with probability 1 − p; runs of such
// tokens are where a reader should check the text. Entropy says the same of the position rather
// than of the chosen token: the model was unsure what comes next.

export interface ScoredPiece {
  /** The token's text as it appears in the output. */
  text: string;
  /** Natural log of the model's probability of the token (NaN or null when unscored, e.g. the first token). */
  logprob: number | null;
  /** Entropy (nats) of the model's distribution at the token's position, when known. */
  entropy?: number;
}

export interface ConfidenceSpan {
  /** UTF-16 offsets into the concatenated token texts, end exclusive. */
  start: number;
  end: number;
  /** Token indices, end exclusive. */
  firstToken: number;
  endToken: number;
  text: string;
  /** Lowest token probability in the span. */
  minProbability: number;
  /** Highest entropy in the span (NaN when no token carried one). */
  maxEntropy: number;
}

export interface SpanOptions {
  /** A token below this probability is low-confidence (default 0.1). */
  maxProbability?: number;
  /** A position above this entropy (nats) is low-confidence too (default: entropy not used). */
  minEntropy?: number;
  /** Low-confidence tokens separated by at most this many confident ones form one span (default 1). */
  bridge?: number;
}

/** Marks runs of low-confidence tokens (whitespace-only tokens never start or end a span). */
export function lowConfidenceSpans(tokens: readonly ScoredPiece[], opts: SpanOptions = {}): ConfidenceSpan[] {
  const pMax = opts.maxProbability ?? 0.1;
  const hMin = opts.minEntropy ?? Infinity;
  const bridge = opts.bridge ?? 1;
  if (!(pMax > 0 && pMax <= 1)) throw new Error(`maxProbability must be in (0, 1], got ${opts.maxProbability}`);
  if (!Number.isInteger(bridge) || bridge < 0) throw new Error(`bridge must be an integer >= 0, got ${opts.bridge}`);
  const offsets: number[] = [];
  let at = 0;
  for (const t of tokens) {
    offsets.push(at);
    at += t.text.length;
  }
  const low = tokens.map((t) => t.text.trim() !== '' && ((t.logprob !== null && !Number.isNaN(t.logprob) && Math.exp(t.logprob) < pMax) || (t.entropy !== undefined && t.entropy > hMin)));
  const spans: ConfidenceSpan[] = [];
  let i = 0;
  while (i < tokens.length) {
    if (!low[i]) {
      i++;
      continue;
    }
    let end = i + 1;
    for (let j = i + 1; j < tokens.length && j - end <= bridge; j++) if (low[j]) end = j + 1;
    const slice = tokens.slice(i, end);
    const probs = slice.map((t) => (t.logprob === null || Number.isNaN(t.logprob) ? 1 : Math.exp(t.logprob)));
    const ents = slice.map((t) => t.entropy).filter((h): h is number => h !== undefined);
    spans.push({
      start: offsets[i]!,
      end: offsets[end - 1]! + tokens[end - 1]!.text.length,
      firstToken: i,
      endToken: end,
      text: slice.map((t) => t.text).join(''),
      minProbability: Math.min(...probs),
      maxEntropy: ents.length ? Math.max(...ents) : NaN,
    });
    i = end;
  }
  return spans;
}
