// Decoding strategies over any next-token scorer: greedy and beam search with a length penalty.
// The scorer keeps one row of decoder state per beam; after each step, beam search tells it which
// old row every new row continues (reorder), so the model's KV cache follows the beams.

import { logSoftmax } from '../generate/sampling.ts';

/** Next-token log-probabilities for `rows` partial hypotheses decoded in lockstep. */
export interface StepScorer {
  readonly vocabSize: number;
  /**
   * Appends tokens[i] to row i and returns the log-probabilities of the next token, rows × V
   * (row-major). The first call passes the start token for every row.
   */
  step(tokens: Int32Array): Float64Array;
  /** Row i becomes a copy of row parents[i] (before the next step). */
  reorder(parents: Int32Array): void;
}

export interface Hypothesis {
  /** Output tokens, without the start token and without the final eos. */
  tokens: number[];
  /** Sum of the tokens' log-probabilities (including eos when it ended). */
  logprob: number;
  /** logprob / lengthPenalty(length): what beam search ranks by. */
  score: number;
  /** False when maxLength stopped it before eos. */
  finished: boolean;
}

export interface BeamOptions {
  beamSize: number;
  /** α of the length penalty ((5 + |y|) / 6)^α (Wu et al. 2016); 0 ranks by raw log-probability. */
  lengthPenalty: number;
  /** Longest output, in tokens including eos. */
  maxLength: number;
  eos: number;
  start: number;
}

/** GNMT's length normaliser: ((5 + length) / 6)^α. */
export function lengthNorm(length: number, alpha: number): number {
  return alpha === 0 ? 1 : ((5 + length) / 6) ** alpha;
}

/** Greedy decoding: the most likely token at every step, until eos or maxLength. */
export function greedySearch(scorer: StepScorer, o: Omit<BeamOptions, 'beamSize' | 'lengthPenalty'>): Hypothesis {
  const tokens: number[] = [];
  let logprob = 0;
  const input = new Int32Array(1);
  input[0] = o.start;
  for (let t = 0; t < o.maxLength; t++) {
    const lp = scorer.step(input);
    let best = 0;
    for (let v = 1; v < scorer.vocabSize; v++) if (lp[v]! > lp[best]!) best = v;
    logprob += lp[best]!;
    if (best === o.eos) return { tokens, logprob, score: logprob, finished: true };
    tokens.push(best);
    input[0] = best;
  }
  return { tokens, logprob, score: logprob, finished: false };
}

interface Live {
  tokens: number[];
  logprob: number;
}

/**
 * Beam search (as fairseq's): every step extends each live hypothesis by every token, keeps the
 * 2·K best extensions by log-probability, moves those ending in eos to the finished list (scored
 * with the length penalty) and continues with the K best others. It stops when K hypotheses have
 * finished or at maxLength, where the live ones are returned unfinished; the best by score wins.
 * The scorer must have beamSize rows.
 */
export function beamSearch(scorer: StepScorer, o: BeamOptions): Hypothesis[] {
  const K = o.beamSize;
  if (!Number.isInteger(K) || K < 1) throw new Error(`beam size must be a positive integer, got ${K}`);
  if (!(o.lengthPenalty >= 0)) throw new Error(`length penalty α must be >= 0, got ${o.lengthPenalty}`);
  const V = scorer.vocabSize;
  let live: Live[] = [{ tokens: [], logprob: 0 }];
  const finished: Hypothesis[] = [];
  const input = new Int32Array(K).fill(o.start);
  const parents = new Int32Array(K);
  // Candidate scratch: the 2K best (logprob, row, token) of a step.
  const want = Math.min(2 * K, K * V);
  const candScore = new Float64Array(want);
  const candRow = new Int32Array(want);
  const candTok = new Int32Array(want);
  for (let t = 0; t < o.maxLength && finished.length < K; t++) {
    const lp = scorer.step(input);
    let n = 0;
    for (let r = 0; r < live.length; r++) {
      const base = live[r]!.logprob;
      const row = r * V;
      for (let v = 0; v < V; v++) {
        const s = base + lp[row + v]!;
        if (n === want && s <= candScore[n - 1]!) continue;
        // Insertion into the sorted top list (descending); K is small.
        let j = n < want ? n++ : n - 1;
        while (j > 0 && candScore[j - 1]! < s) {
          candScore[j] = candScore[j - 1]!;
          candRow[j] = candRow[j - 1]!;
          candTok[j] = candTok[j - 1]!;
          j--;
        }
        candScore[j] = s;
        candRow[j] = r;
        candTok[j] = v;
      }
    }
    const next: Live[] = [];
    for (let c = 0; c < n && next.length < K; c++) {
      const parent = live[candRow[c]!]!;
      if (candTok[c] === o.eos) {
        if (finished.length < K) finished.push({ tokens: parent.tokens, logprob: candScore[c]!, score: candScore[c]! / lengthNorm(parent.tokens.length + 1, o.lengthPenalty), finished: true });
        continue;
      }
      parents[next.length] = candRow[c]!;
      input[next.length] = candTok[c]!;
      next.push({ tokens: [...parent.tokens, candTok[c]!], logprob: candScore[c]! });
    }
    if (next.length === 0) break;
    // Unused rows repeat the last live one, so every row of the scorer holds a valid state.
    for (let i = next.length; i < K; i++) {
      parents[i] = parents[next.length - 1]!;
      input[i] = input[next.length - 1]!;
    }
    scorer.reorder(parents);
    live = next;
  }
  const out = [...finished];
  if (finished.length < K) for (const h of live) out.push({ tokens: h.tokens, logprob: h.logprob, score: h.logprob / lengthNorm(h.tokens.length, o.lengthPenalty), finished: false });
  // Finished hypotheses first: an unfinished one was cut off, whatever its score.
  out.sort((a, b) => (a.finished === b.finished ? b.score - a.score : a.finished ? -1 : 1));
  return out;
}

/** A StepScorer over a function giving logits for a token prefix (tests, reference decoders). */
export function prefixScorer(vocabSize: number, rows: number, logits: (prefix: readonly number[]) => ArrayLike<number>): StepScorer {
  let prefixes: number[][] = Array.from({ length: rows }, () => []);
  let started = false;
  const row = new Float64Array(vocabSize);
  return {
    vocabSize,
    step(tokens: Int32Array): Float64Array {
      // The start token is not part of the prefix.
      if (started) prefixes.forEach((p, i) => p.push(tokens[i]!));
      started = true;
      const out = new Float64Array(rows * vocabSize);
      prefixes.forEach((p, i) => {
        logSoftmax(logits(p), row);
        out.set(row, i * vocabSize);
      });
      return out;
    },
    reorder(parents: Int32Array): void {
      prefixes = Array.from(parents, (p) => [...prefixes[p]!]);
    },
  };
}
