// Byte-level BPE training.
//
// 1. Count pre-tokenized words (GPT-2 regex; special tokens are cut out first and never learned).
//    10 MB of English has ~30k distinct words, so everything after this step works on the distinct
//    words with their frequencies, not on the text.
// 2. Count adjacent id pairs over the words (weighted by word frequency), remembering which words
//    hold each pair, and put the pairs in a max-heap by count.
// 3. Repeatedly take the most frequent pair, make it a token, and rewrite only the words that hold
//    it, adjusting the counts of the pairs around each rewrite. Heap entries are not updated in
//    place: an entry whose count is out of date is re-queued with the current count when it
//    surfaces (counts of existing pairs only drop; pairs that grow are pushed again).
// Ties between equal counts go to the smaller (left id, right id), so training is deterministic.

import { utf8Encode } from './byte-level.ts';
import { specialTokenRegex, splitOnSpecials } from './pretokenize.ts';
import { wordEnd } from './scanner.ts';
import { ByteLevelTokenizer, END_OF_TEXT } from './tokenizer.ts';

export interface TrainProgress {
  phase: 'count' | 'merge' | 'done';
  /** Texts read so far. */
  texts: number;
  /** UTF-16 characters pre-tokenized so far. */
  chars: number;
  /** Distinct words counted so far. */
  uniqueWords: number;
  /** Merges learned so far. */
  merges: number;
  /** Merges needed to reach vocabSize. */
  targetMerges: number;
}

export interface TrainBpeOptions {
  /** Vocabulary size including the 256 byte tokens and the special tokens. */
  vocabSize: number;
  /** Default ['<|endoftext|>']; they get the last ids, as in GPT-2. */
  specialTokens?: string[];
  /**
   * A pair must occur at least this often to be merged (default 2: a pair seen once teaches
   * nothing). Training stops early, with a smaller vocabulary, when no pair qualifies.
   */
  minFrequency?: number;
  onProgress?: (p: TrainProgress) => void;
}

const COUNT_PROGRESS_EVERY = 1 << 16;

/** Counts GPT-2 words in `texts`, skipping special tokens. */
export async function countWords(
  texts: Iterable<string> | AsyncIterable<string>,
  specialTokens: readonly string[] = [END_OF_TEXT],
  onProgress?: (p: TrainProgress) => void,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const specials = specialTokenRegex(specialTokens);
  let charsBefore = 0;
  let textsDone = 0;
  let sinceReport = 0;
  const report = (chars: number): void =>
    onProgress?.({ phase: 'count', texts: textsDone, chars, uniqueWords: counts.size, merges: 0, targetMerges: 0 });
  for await (const text of texts) {
    if (typeof text !== 'string') throw new TypeError(`trainBpe: texts must yield strings, got ${typeof text}`);
    splitOnSpecials(
      text,
      specials,
      (start, end) => {
        for (let i = start, e = start; i < end; i = e) {
          e = wordEnd(text, i, end);
          const w = text.slice(i, e);
          counts.set(w, (counts.get(w) ?? 0) + 1);
          if (++sinceReport === COUNT_PROGRESS_EVERY) {
            sinceReport = 0;
            report(charsBefore + e);
          }
        }
      },
      () => {},
    );
    charsBefore += text.length;
    textsDone++;
  }
  report(charsBefore);
  return counts;
}

/** Trains a byte-level BPE tokenizer on `texts`. */
export async function trainBpe(texts: Iterable<string> | AsyncIterable<string>, opts: TrainBpeOptions): Promise<ByteLevelTokenizer> {
  const specials = opts.specialTokens ?? [END_OF_TEXT];
  checkOptions(opts, specials);
  const counts = await countWords(texts, specials, opts.onProgress);
  return trainBpeFromCounts(counts, opts);
}

function checkOptions(opts: TrainBpeOptions, specials: readonly string[]): void {
  const min = 256 + specials.length;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < min) {
    throw new RangeError(`vocabSize ${opts.vocabSize} is too small: byte-level BPE needs 256 byte tokens + ${specials.length} special token(s) = ${min} at least`);
  }
  if (opts.vocabSize > 1 << 24) throw new RangeError(`vocabSize ${opts.vocabSize} is too large (max ${1 << 24})`);
  if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
    throw new Error(`specialTokens ${JSON.stringify(specials)} must be distinct non-empty strings`);
  }
  const mf = opts.minFrequency;
  if (mf !== undefined && !(mf >= 1)) throw new RangeError(`minFrequency ${mf} must be at least 1`);
}

/** Trains from word counts (as countWords returns them). */
export function trainBpeFromCounts(counts: ReadonlyMap<string, number>, opts: TrainBpeOptions): ByteLevelTokenizer {
  const specials = opts.specialTokens ?? [END_OF_TEXT];
  checkOptions(opts, specials);
  const minFrequency = opts.minFrequency ?? 2;
  const targetTokens = opts.vocabSize - specials.length;
  const targetMerges = targetTokens - 256;

  // Words as id sequences (ids 0..255 are the bytes themselves).
  const nWords = counts.size;
  const wordSyms: Int32Array[] = new Array(nWords);
  const wordLen = new Int32Array(nWords);
  const wordFreq = new Float64Array(nWords);
  let scratch = new Uint8Array(1024);
  let w = 0;
  for (const [word, freq] of counts) {
    if (scratch.length < word.length * 3) scratch = new Uint8Array(word.length * 3);
    const n = utf8Encode(word, scratch);
    wordSyms[w] = Int32Array.from(scratch.subarray(0, n));
    wordLen[w] = n;
    wordFreq[w] = freq;
    w++;
  }

  const pairs = new PairTable(targetTokens);
  for (let w = 0; w < nWords; w++) {
    const s = wordSyms[w]!;
    for (let i = 0; i + 1 < wordLen[w]!; i++) pairs.add(s[i]!, s[i + 1]!, wordFreq[w]!, w);
  }
  const heap = new PairHeap(pairs);
  for (let p = 0; p < pairs.size; p++) heap.push(pairs.count[p]!, p);
  pairs.touched.length = 0;

  const vocab: Uint8Array[] = [];
  const idByBytes = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    vocab.push(Uint8Array.of(b));
    idByBytes.set(String.fromCharCode(b), b);
  }
  const merges: [number, number][] = [];
  const mergedPairs = new Set<number>();
  const seenStamp = new Int32Array(nWords);
  let stamp = 0;
  const progressEvery = Math.max(1, Math.floor(targetMerges / 200));
  const report = (phase: 'merge' | 'done'): void =>
    opts.onProgress?.({ phase, texts: 0, chars: 0, uniqueWords: nWords, merges: merges.length, targetMerges });
  report('merge');

  while (vocab.length < targetTokens && heap.size > 0) {
    const snapshot = heap.topCount();
    const p = heap.pop();
    const cur = pairs.count[p]!;
    if (cur !== snapshot) {
      if (cur > 0) heap.push(cur, p);
      continue;
    }
    if (cur < minFrequency || cur <= 0) break;
    const a = pairs.a[p]!;
    const b = pairs.b[p]!;

    const bytes = concatBytes(vocab[a]!, vocab[b]!);
    const key = latin1(bytes);
    // Two different pairs can spell the same bytes ("ab"+"c", "a"+"bc"); they share one id.
    let t = idByBytes.get(key);
    if (t === undefined) {
      t = vocab.length;
      vocab.push(bytes);
      idByBytes.set(key, t);
    }
    if (!mergedPairs.has(p)) {
      mergedPairs.add(p);
      merges.push([a, b]);
    }

    stamp++;
    const holders = pairs.words[p]!;
    pairs.words[p] = [];
    for (let k = 0; k < holders.length; k++) {
      const wi = holders[k]!;
      if (seenStamp[wi] === stamp) continue;
      seenStamp[wi] = stamp;
      const s = wordSyms[wi]!;
      const n = wordLen[wi]!;
      const f = wordFreq[wi]!;
      let j = 0;
      let i = 0;
      while (i < n) {
        if (i + 1 < n && s[i] === a && s[i + 1] === b) {
          // The left neighbour is read from the rewritten prefix, so "a b a b" correctly turns
          // (t, a) into (t, t) instead of double-counting.
          if (j > 0) {
            pairs.add(s[j - 1]!, a, -f, wi);
            pairs.add(s[j - 1]!, t, f, wi);
          }
          if (i + 2 < n) {
            pairs.add(b, s[i + 2]!, -f, wi);
            pairs.add(t, s[i + 2]!, f, wi);
          }
          pairs.count[p]! -= f;
          s[j++] = t;
          i += 2;
        } else {
          s[j++] = s[i++]!;
        }
      }
      wordLen[wi] = j;
    }
    pairs.count[p] = 0;
    for (const q of pairs.touched) if (pairs.count[q]! > 0) heap.push(pairs.count[q]!, q);
    pairs.touched.length = 0;

    if (merges.length % progressEvery === 0) report('merge');
  }

  const parts = {
    vocab: vocab as (Uint8Array | null)[],
    merges,
    specialTokens: specials.map((content, i) => ({ content, id: vocab.length + i })),
  };
  const tok = new ByteLevelTokenizer(parts);
  report('done');
  return tok;
}

function concatBytes(x: Uint8Array, y: Uint8Array): Uint8Array {
  const out = new Uint8Array(x.length + y.length);
  out.set(x);
  out.set(y, x.length);
  return out;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Pair (a, b) → index, with per-pair count and the words that (may) hold it. */
class PairTable {
  private readonly index = new Map<number, number>();
  a = new Int32Array(1024);
  b = new Int32Array(1024);
  count = new Float64Array(1024);
  /** Word indices holding the pair; may list a word twice or list words that lost the pair. */
  words: number[][] = [];
  /** Pairs whose count grew since the last reset: they need a fresh heap entry. */
  touched: number[] = [];
  size = 0;

  constructor(private readonly base: number) {}

  add(x: number, y: number, delta: number, word: number): void {
    const key = x * this.base + y;
    let p = this.index.get(key);
    if (p === undefined) {
      p = this.size++;
      if (p === this.a.length) this.grow();
      this.index.set(key, p);
      this.a[p] = x;
      this.b[p] = y;
      this.count[p] = 0;
      this.words.push([]);
    }
    this.count[p]! += delta;
    if (delta > 0) {
      const ws = this.words[p]!;
      if (ws.length === 0 || ws[ws.length - 1] !== word) ws.push(word);
      this.touched.push(p);
    }
  }

  private grow(): void {
    const cap = this.a.length * 2;
    const a = new Int32Array(cap);
    const b = new Int32Array(cap);
    const c = new Float64Array(cap);
    a.set(this.a);
    b.set(this.b);
    c.set(this.count);
    this.a = a;
    this.b = b;
    this.count = c;
  }
}

/** Max-heap of (count snapshot, pair); equal counts: smaller (a, b) first. */
class PairHeap {
  private c = new Float64Array(1024);
  private p = new Int32Array(1024);
  size = 0;

  constructor(private readonly pairs: PairTable) {}

  private before(i: number, j: number): boolean {
    const ci = this.c[i]!;
    const cj = this.c[j]!;
    if (ci !== cj) return ci > cj;
    const pi = this.p[i]!;
    const pj = this.p[j]!;
    const ai = this.pairs.a[pi]!;
    const aj = this.pairs.a[pj]!;
    return ai !== aj ? ai < aj : this.pairs.b[pi]! < this.pairs.b[pj]!;
  }

  private swap(i: number, j: number): void {
    const c = this.c[i]!;
    const p = this.p[i]!;
    this.c[i] = this.c[j]!;
    this.p[i] = this.p[j]!;
    this.c[j] = c;
    this.p[j] = p;
  }

  push(count: number, pair: number): void {
    if (this.size === this.c.length) {
      const c = new Float64Array(this.size * 2);
      const p = new Int32Array(this.size * 2);
      c.set(this.c);
      p.set(this.p);
      this.c = c;
      this.p = p;
    }
    let i = this.size++;
    this.c[i] = count;
    this.p[i] = pair;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  topCount(): number {
    return this.c[0]!;
  }

  pop(): number {
    const top = this.p[0]!;
    const last = --this.size;
    if (last > 0) {
      this.c[0] = this.c[last]!;
      this.p[0] = this.p[last]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const c = l + 1 < last && this.before(l + 1, l) ? l + 1 : l;
        if (!this.before(c, i)) break;
        this.swap(c, i);
        i = c;
      }
    }
    return top;
  }
}
