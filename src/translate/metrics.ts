// Corpus BLEU and chrF computed the way sacreBLEU 2.x computes them with its defaults, so scores
// are comparable with published ones:
//
// BLEU (Papineni et al. 2002; sacreBLEU `BLEU()`): the hypothesis and reference lines are
// right-stripped and tokenised with mteval-v13a's rules ("13a": a few entities unescaped, most
// punctuation split off, periods and commas split unless they sit next to digits, dashes split
// after digits); word n-grams of orders 1–4 are counted per sentence, clipped by the maximum count
// over the references, and summed over the corpus; the reference length of a sentence is the one
// closest to the hypothesis length (the shorter one on ties). Smoothing "exp" (NIST, Chen & Cherry
// 2014 method 3): the k-th order with zero matches gets precision 1/(2^k · total). Brevity penalty
// exp(1 − r/c) when c < r. Case-sensitive, no effective order.
//
// chrF (Popović 2015; sacreBLEU `CHRF()`): character n-grams of orders 1–6 with whitespace
// removed, β = 2, summed statistics over the corpus; the per-order precisions and recalls are
// averaged over the orders for which both hypothesis and reference have n-grams (sacreBLEU's
// "effective order"), then combined into F_β. With several references a sentence uses the one
// giving it the best F score.
//
// Strings are handled as sequences of Unicode code points (Python str semantics), and "split on
// whitespace" uses Python's definition of whitespace.

/** Python's str.isspace characters (what str.split() splits on). */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'g');
const TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`);

/** Python's str.split() with no arguments. */
export function pySplit(s: string): string[] {
  const parts = s.split(SPACE_RUN);
  return parts.filter((p) => p.length > 0);
}

/** mteval-v13a tokenisation, as sacreBLEU's Tokenizer13a. */
export function tokenize13a(line: string): string {
  let s = line.replace(/<skipped>/g, '').replace(/-\n/g, '').replace(/\n/g, ' ');
  if (s.includes('&')) s = s.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  s = ` ${s} `;
  // Most ASCII punctuation and symbols, except apostrophe, hyphen, period and comma.
  s = s.replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ');
  // Periods and commas, unless preceded (then unless followed) by a digit.
  s = s.replace(/([^0-9])([.,])/g, '$1 $2 ');
  s = s.replace(/([.,])([^0-9])/g, ' $1 $2');
  s = s.replace(/([0-9])(-)/g, '$1 $2 ');
  return pySplit(s).join(' ');
}

export type BleuTokenize = '13a' | 'none';
export type BleuSmoothing = 'exp' | 'none' | 'floor' | 'add-k';

export interface BleuOptions {
  /** Default '13a'. */
  tokenize?: BleuTokenize;
  /** Default 'exp'. */
  smoothMethod?: BleuSmoothing;
  /** For 'floor' (default 0.1) and 'add-k' (default 1). */
  smoothValue?: number;
  /** Default false. */
  lowercase?: boolean;
  /** Average only over orders with n-grams (sentence-level BLEU); default false. */
  effectiveOrder?: boolean;
  /** Default 4. */
  maxOrder?: number;
}

export interface BleuResult {
  /** 0–100. */
  score: number;
  /** Matched n-grams per order. */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  /** Per-order precisions (0–100), after smoothing. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  sysLen: number;
  refLen: number;
}

function wordNgrams(tokens: readonly string[], maxOrder: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      // U+0001 cannot occur inside a token: a safe joiner for the n-gram key.
      const key = `${n}\u0001${tokens.slice(i, i + n).join('\u0001')}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

const orderOf = (key: string): number => Number(key.slice(0, key.indexOf('\u0001')));

function checkStreams(hyps: readonly string[], refs: readonly (readonly string[])[], what: string): void {
  if (refs.length === 0) throw new Error(`${what}: give at least one reference stream`);
  refs.forEach((r, i) => {
    if (r.length !== hyps.length) throw new Error(`${what}: reference stream ${i + 1} has ${r.length} lines but there are ${hyps.length} hypotheses; give one line per sentence in every file`);
  });
}

/** BLEU from summed statistics (sacreBLEU's compute_bleu). */
export function bleuFromStats(correctIn: readonly number[], totalIn: readonly number[], sysLen: number, refLen: number, o: BleuOptions = {}): BleuResult {
  const maxOrder = o.maxOrder ?? 4;
  const method = o.smoothMethod ?? 'exp';
  const value = o.smoothValue ?? (method === 'floor' ? 0.1 : method === 'add-k' ? 1 : 0);
  const correct = [...correctIn];
  const total = [...totalIn];
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(maxOrder).fill(0);
  if (!correct.some((c) => c > 0)) return { score: 0, counts: correct, totals: total, precisions, bp, sysLen, refLen };
  let smoothMteval = 1;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1]! += value;
      total[n - 1]! += value;
    }
    if (total[n - 1] === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * value) / total[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
    }
  }
  // sacreBLEU's my_log: log(0) counts as -9999999999, which zeroes the score.
  let logSum = 0;
  for (let i = 0; i < effOrder; i++) logSum += precisions[i]! === 0 ? -9999999999 : Math.log(precisions[i]!);
  return { score: bp * Math.exp(logSum / effOrder), counts: correct, totals: total, precisions, bp, sysLen, refLen };
}

/** Per-sentence BLEU statistics: [sysLen, refLen, correct₁…correctₙ, total₁…totalₙ]. */
function bleuSentenceStats(hyp: string, refs: readonly string[], o: BleuOptions): number[] {
  const maxOrder = o.maxOrder ?? 4;
  const prep = (s: string): string[] => {
    let t = s.replace(TRAILING_SPACE, '');
    if (o.lowercase) t = t.toLowerCase();
    return pySplit((o.tokenize ?? '13a') === '13a' ? tokenize13a(t) : t);
  };
  const refMax = new Map<string, number>();
  const refLens: number[] = [];
  for (const r of refs) {
    const toks = prep(r);
    refLens.push(toks.length);
    for (const [k, c] of wordNgrams(toks, maxOrder)) refMax.set(k, Math.max(refMax.get(k) ?? 0, c));
  }
  const h = prep(hyp);
  let refLen = -1;
  let bestDiff = -1;
  for (const len of refLens) {
    const diff = Math.abs(h.length - len);
    if (bestDiff === -1 || diff < bestDiff || (diff === bestDiff && len < refLen)) {
      bestDiff = diff;
      refLen = len;
    }
  }
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  for (let n = 1; n <= maxOrder; n++) total[n - 1] = Math.max(0, h.length - n + 1);
  for (const [k, c] of wordNgrams(h, maxOrder)) {
    const m = refMax.get(k);
    if (m) correct[orderOf(k) - 1]! += Math.min(c, m);
  }
  return [h.length, refLen, ...correct, ...total];
}

/**
 * Corpus BLEU of hypotheses against one or more reference streams (refs[k][i] is the k-th
 * reference of sentence i), as sacreBLEU's corpus_bleu.
 */
export function corpusBleu(hyps: readonly string[], refs: readonly (readonly string[])[], o: BleuOptions = {}): BleuResult {
  checkStreams(hyps, refs, 'BLEU');
  const maxOrder = o.maxOrder ?? 4;
  const sum = new Array<number>(2 + 2 * maxOrder).fill(0);
  for (let i = 0; i < hyps.length; i++) {
    const s = bleuSentenceStats(hyps[i]!, refs.map((r) => r[i]!), o);
    for (let j = 0; j < s.length; j++) sum[j]! += s[j]!;
  }
  return bleuFromStats(sum.slice(2, 2 + maxOrder), sum.slice(2 + maxOrder), sum[0]!, sum[1]!, o);
}

/** Sentence BLEU (sacreBLEU's sentence_bleu uses effective order). */
export function sentenceBleu(hyp: string, refs: readonly string[], o: BleuOptions = {}): BleuResult {
  return corpusBleu([hyp], refs.map((r) => [r]), { effectiveOrder: true, ...o });
}

export interface ChrfOptions {
  /** Character n-gram order (default 6). */
  charOrder?: number;
  /** Word n-gram order (default 0; 2 gives chrF++). */
  wordOrder?: number;
  /** Weight of recall over precision (default 2). */
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace in character n-grams (default false). */
  whitespace?: boolean;
  /** chrF++.py-style epsilon smoothing instead of effective order (default false). */
  epsSmoothing?: boolean;
}

const PUNCTS = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** chrF++'s word splitting: punctuation split off the end (else the start) of each word. */
function chrfWords(s: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(s)) {
    const cps = Array.from(w);
    if (cps.length === 1) out.push(w);
    else if (PUNCTS.has(cps[cps.length - 1]!)) out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]!);
    else if (PUNCTS.has(cps[0]!)) out.push(cps[0]!, cps.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

function chrfNgrams(s: string, o: ChrfOptions): Map<string, number>[] {
  const line = o.lowercase ? s.toLowerCase() : s;
  const chars = Array.from(o.whitespace ? line : pySplit(line).join(''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= (o.charOrder ?? 6); n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const k = chars.slice(i, i + n).join('');
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    out.push(m);
  }
  const words = (o.wordOrder ?? 0) > 0 ? chrfWords(line) : [];
  for (let n = 1; n <= (o.wordOrder ?? 0); n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= words.length; i++) {
      const k = words.slice(i, i + n).join(' ');
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

/** chrF (0–100) from statistics [hyp, ref, match] per order (sacreBLEU's _compute_f_score). */
export function chrfFromStats(stats: readonly number[], o: ChrfOptions = {}): number {
  const order = (o.charOrder ?? 6) + (o.wordOrder ?? 0);
  const factor = (o.beta ?? 2) ** 2;
  const eps = 1e-16;
  let score = 0;
  let effective = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const [nHyp, nRef, nMatch] = [stats[3 * i]!, stats[3 * i + 1]!, stats[3 * i + 2]!];
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effective++;
    }
  }
  if (o.epsSmoothing) return (100 * score) / order;
  if (effective === 0) return 0;
  avgPrec /= effective;
  avgRec /= effective;
  if (avgPrec + avgRec === 0) return 0;
  return (100 * (1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec);
}

function chrfSentenceStats(hyp: string, refs: readonly string[], o: ChrfOptions): number[] {
  const h = chrfNgrams(hyp, o);
  let best: number[] = [];
  let bestScore = -1;
  for (const ref of refs) {
    const r = chrfNgrams(ref, o);
    const stats: number[] = [];
    for (let i = 0; i < h.length; i++) {
      let hypCount = 0;
      let match = 0;
      for (const [k, c] of h[i]!) {
        hypCount += c;
        const rc = r[i]!.get(k);
        if (rc) match += Math.min(c, rc);
      }
      let refCount = 0;
      for (const c of r[i]!.values()) refCount += c;
      // sacreBLEU counts no hypothesis n-grams of an order the reference does not have.
      stats.push(r[i]!.size > 0 ? hypCount : 0, refCount, match);
    }
    const f = chrfFromStats(stats, o);
    if (f > bestScore) {
      bestScore = f;
      best = stats;
    }
  }
  return best;
}

/** Corpus chrF of hypotheses against one or more reference streams, as sacreBLEU's corpus_chrf. */
export function corpusChrf(hyps: readonly string[], refs: readonly (readonly string[])[], o: ChrfOptions = {}): number {
  checkStreams(hyps, refs, 'chrF');
  const order = (o.charOrder ?? 6) + (o.wordOrder ?? 0);
  const sum = new Array<number>(3 * order).fill(0);
  for (let i = 0; i < hyps.length; i++) {
    const s = chrfSentenceStats(hyps[i]!, refs.map((r) => r[i]!), o);
    for (let j = 0; j < s.length; j++) sum[j]! += s[j]!;
  }
  return chrfFromStats(sum, o);
}

export function sentenceChrf(hyp: string, refs: readonly string[], o: ChrfOptions = {}): number {
  return corpusChrf([hyp], refs.map((r) => [r]), o);
}

/** The two corpus scores `genlab bleu` and `genlab eval --task translate` report. */
export function bleuAndChrf(hyps: readonly string[], refs: readonly (readonly string[])[]): { bleu: number; chrf: number; detail: BleuResult } {
  const detail = corpusBleu(hyps, refs);
  return { bleu: detail.score, chrf: corpusChrf(hyps, refs), detail };
}

/** sacreBLEU-style signatures, so a reported number says how it was computed. */
export const BLEU_SIGNATURE = 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:genlab (sacreBLEU 2.x defaults)';
export const CHRF_SIGNATURE = 'nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:genlab (sacreBLEU 2.x defaults)';
