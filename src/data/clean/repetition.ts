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

/**
 * n-gram keys as exact numbers: the key of an n-gram is an id for the pair (key of its first n-1
 * words, id of its last word), assigned through a Map, so equal keys mean equal n-grams (no hash
 * collisions). Word ids and keys stay below 2^26 for any document under 64M words, so the pair
 * fits a double exactly. Keys for n are built from those for n-1: one pass per length.
 */
function extendKeys(prev: Float64Array, ids: Int32Array, n: number): Float64Array {
  const m = Math.max(0, ids.length - n + 1);
  const next = new Float64Array(m);
  const chain = new Map<number, number>();
  const scale = 2 ** 26;
  for (let i = 0; i < m; i++) {
    const pair = prev[i]! * scale + ids[i + n - 1]!;
    let id = chain.get(pair);
    if (id === undefined) {
      id = chain.size;
      chain.set(pair, id);
    }
    next[i] = id;
  }
  return next;
}

export interface NgramContext {
  words: readonly string[];
  ids: Int32Array;
  /** Total characters of all words. */
  chars: number;
  /** keys[n] for the lengths computed so far. */
  keys: Float64Array[];
}

export function ngramContext(words: readonly string[]): NgramContext {
  let chars = 0;
  for (const w of words) chars += w.length;
  const ids = internWords(words);
  return { words, ids, chars, keys: [new Float64Array(0), Float64Array.from(ids)] };
}

function ngramKeys(ctx: NgramContext, n: number): Float64Array {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`n-gram length must be a positive integer, got ${n}`);
  while (ctx.keys.length <= n) ctx.keys.push(extendKeys(ctx.keys[ctx.keys.length - 1]!, ctx.ids, ctx.keys.length));
  return ctx.keys[n]!;
}

/** Characters in the most frequent n-gram times its count, over all word characters. */
export function topNgramCharFraction(ctx: NgramContext, n: number): number {
  const keys = ngramKeys(ctx, n);
  if (keys.length === 0 || ctx.chars === 0) return 0;
  const counts = new Map<number, number>();
  let best = -1;
  let bestCount = 0;
  for (let i = 0; i < keys.length; i++) {
    const c = (counts.get(keys[i]!) ?? 0) + 1;
    counts.set(keys[i]!, c);
    if (c > bestCount) {
      bestCount = c;
      best = i;
    }
  }
  if (bestCount < 2) return 0;
  let len = 0;
  for (let k = 0; k < n; k++) len += ctx.words[best + k]!.length;
  return (len * bestCount) / ctx.chars;
}

/** Characters of words covered by a repeated occurrence of any n-gram, each word counted once. */
export function duplicateNgramCharFraction(ctx: NgramContext, n: number): number {
  const keys = ngramKeys(ctx, n);
  if (keys.length === 0 || ctx.chars === 0) return 0;
  const seen = new Set<number>();
  const covered = new Uint8Array(ctx.words.length);
  for (let i = 0; i < keys.length; i++) {
    if (seen.has(keys[i]!)) covered.fill(1, i, i + n);
    else seen.add(keys[i]!);
  }
  let dup = 0;
  for (let i = 0; i < covered.length; i++) if (covered[i]) dup += ctx.words[i]!.length;
  return dup / ctx.chars;
}
