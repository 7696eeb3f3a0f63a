// Repetition statistics of Gopher's repetition filter (Rae et al. 2021, "Scaling Language Models:
// Methods, Analysis & Insights from Training Gopher", appendix A, table A1). Web pages that repeat
// lines, paragraphs or phrases are usually menus, spam or generated text, and models trained on
// them learn to loop. Counting convention: an item is a duplicate when it appeared earlier in the
// document, so a text written out twice is 50% duplicate, not 100%.

export interface DuplicateStats {
  /** Duplicates / all items. */
  fraction: number;
  /** Characters in duplicates / characters in all items. */
  charFraction: number;
}

export function duplicateStats(items: readonly string[]): DuplicateStats {
  const seen = new Set<string>();
  let dups = 0;
  let dupChars = 0;
  let chars = 0;
  for (const it of items) {
    chars += it.length;
    if (seen.has(it)) {
      dups++;
      dupChars += it.length;
    } else seen.add(it);
  }
  return { fraction: items.length === 0 ? 0 : dups / items.length, charFraction: chars === 0 ? 0 : dupChars / chars };
}

/**
 * Counts 64-bit keys (two uint32 halves) with open addressing. A generation number marks the
 * live slots, so clearing between n-gram lengths and documents costs nothing.
 */
class KeyCounter {
  private hi = new Uint32Array(0);
  private lo = new Uint32Array(0);
  private count = new Int32Array(0);
  private gen = new Uint32Array(0);
  private current = 0;

  reset(keys: number): void {
    let cap = 64;
    while (cap < keys * 2) cap *= 2;
    if (cap > this.hi.length) {
      this.hi = new Uint32Array(cap);
      this.lo = new Uint32Array(cap);
      this.count = new Int32Array(cap);
      this.gen = new Uint32Array(cap);
      this.current = 0;
    }
    this.current++;
    if (this.current === 0xffffffff) {
      this.gen.fill(0);
      this.current = 1;
    }
  }

  /** Increments the key's count and returns the new count. */
  add(hi: number, lo: number): number {
    const mask = this.hi.length - 1;
    let i = (Math.imul(hi ^ lo, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      if (this.gen[i] !== this.current) {
        this.gen[i] = this.current;
        this.hi[i] = hi;
        this.lo[i] = lo;
        this.count[i] = 1;
        return 1;
      }
      if (this.hi[i] === hi && this.lo[i] === lo) return ++this.count[i]!;
      i = (i + 1) & mask;
    }
  }
}

const counter = new KeyCounter();

/** Words as small integers (equal words get equal ids) so n-grams can be hashed cheaply. */
function internWords(words: readonly string[]): Int32Array {
  const ids = new Map<string, number>();
  const out = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    let id = ids.get(words[i]!);
    if (id === undefined) {
      id = ids.size;
      ids.set(words[i]!, id);
    }
    out[i] = id;
  }
  return out;
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Per-document n-gram state. Keys of all n-grams of one length are two independent 32-bit
 * hashes (a 64-bit key: a false match needs a collision of both, about 1 in 10^19 per pair),
 * extended in place from length n-1 to n, so each length costs one pass.
 */
export interface NgramContext {
  words: readonly string[];
  ids: Int32Array;
  /** Total characters of all words. */
  chars: number;
  /** Length the hashes currently describe. */
  n: number;
  h1: Uint32Array;
  h2: Uint32Array;
}

export function ngramContext(words: readonly string[]): NgramContext {
  let chars = 0;
  for (const w of words) chars += w.length;
  const ids = internWords(words);
  const h1 = new Uint32Array(ids.length);
  const h2 = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    h1[i] = mix(ids[i]! + 0x51ed27);
    h2[i] = mix(Math.imul(ids[i]!, 0x27d4eb2f) ^ 0x165667b1);
  }
  return { words, ids, chars, n: 1, h1, h2 };
}

/** Moves the context's hashes to length n (lengths only grow; callers ask in increasing n). */
function hashesFor(ctx: NgramContext, n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`n-gram length must be a positive integer, got ${n}`);
  if (n < ctx.n) {
    const fresh = ngramContext(ctx.words);
    Object.assign(ctx, fresh);
  }
  const { ids, h1, h2 } = ctx;
  while (ctx.n < n) {
    const k = ctx.n;
    const m = ids.length - k;
    for (let i = 0; i < m; i++) {
      const w = ids[i + k]!;
      h1[i] = mix(Math.imul(h1[i]!, 0x01000193) ^ w);
      h2[i] = mix(Math.imul(h2[i]! ^ 0x9e3779b9, 0x85ebca77) + w);
    }
    ctx.n++;
  }
  return Math.max(0, ids.length - n + 1);
}

/** Characters in the most frequent n-gram times its count, over all word characters. */
export function topNgramCharFraction(ctx: NgramContext, n: number): number {
  const m = hashesFor(ctx, n);
  if (m === 0 || ctx.chars === 0) return 0;
  counter.reset(m);
  let best = -1;
  let bestCount = 1;
  for (let i = 0; i < m; i++) {
    const c = counter.add(ctx.h1[i]!, ctx.h2[i]!);
    if (c > bestCount) {
      bestCount = c;
      best = i;
    }
  }
  if (best < 0) return 0;
  let len = 0;
  for (let k = 0; k < n; k++) len += ctx.words[best + k]!.length;
  return (len * bestCount) / ctx.chars;
}

/** Characters of words covered by a repeated occurrence of any n-gram, each word counted once. */
export function duplicateNgramCharFraction(ctx: NgramContext, n: number): number {
  const m = hashesFor(ctx, n);
  if (m === 0 || ctx.chars === 0) return 0;
  counter.reset(m);
  const words = ctx.words;
  let dup = 0;
  let coveredTo = 0;
  for (let i = 0; i < m; i++) {
    if (counter.add(ctx.h1[i]!, ctx.h2[i]!) > 1) {
      for (let k = Math.max(i, coveredTo); k < i + n; k++) dup += words[k]!.length;
      coveredTo = i + n;
    }
  }
  return dup / ctx.chars;
}
