// Applying BPE merges to one pre-tokenized word, on integer token ids.
//
// The rule (GPT-2's `bpe()`, tiktoken, HF): repeatedly merge the adjacent pair with the lowest merge
// rank, leftmost first on ties, until no adjacent pair has a rank. Merging the leftmost occurrence
// and re-scanning gives the same result as GPT-2's "merge every occurrence in one pass", because a
// merge that uses the new token always has a higher rank than the merge that created it.

/**
 * Open-addressing hash map from an id pair (a, b) to a merge rank. Integer keys in typed arrays
 * keep lookups free of string building and of Map's boxed-number hashing (a·V+b overflows Smi
 * range for GPT-2-sized vocabularies).
 */
export class PairRanks {
  private readonly keysA: Int32Array;
  private readonly keysB: Int32Array;
  private readonly ranks: Int32Array;
  private readonly mask: number;

  constructor(merges: ReadonlyArray<readonly [number, number]>) {
    let cap = 16;
    while (cap < merges.length * 2) cap *= 2;
    this.mask = cap - 1;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.ranks = new Int32Array(cap);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r]!;
      let h = hashPair(a, b) & this.mask;
      while (this.keysA[h] !== -1) {
        // A duplicate merge keeps its first (lowest) rank, as a later duplicate can never apply.
        if (this.keysA[h] === a && this.keysB[h] === b) break;
        h = (h + 1) & this.mask;
      }
      if (this.keysA[h] === -1) {
        this.keysA[h] = a;
        this.keysB[h] = b;
        this.ranks[h] = r;
      }
    }
  }

  /** Rank of merging (a, b), or -1 if the pair is not a merge. */
  get(a: number, b: number): number {
    const keysA = this.keysA;
    let h = hashPair(a, b) & this.mask;
    for (;;) {
      const ka = keysA[h]!;
      if (ka === a && this.keysB[h] === b) return this.ranks[h]!;
      if (ka === -1) return -1;
      h = (h + 1) & this.mask;
    }
  }
}

function hashPair(a: number, b: number): number {
  return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 7;
}

/** Words up to this many symbols use the quadratic scan, which beats a heap on short words. */
export const HEAP_THRESHOLD = 128;

/**
 * Merges `syms[0..n)` in place and returns the new length. `mergeResult[rank]` is the token id a
 * merge produces.
 */
export function bpeMerge(
  syms: Int32Array,
  n: number,
  ranks: PairRanks,
  mergeResult: Int32Array,
  heapThreshold = HEAP_THRESHOLD,
): number {
  if (n < 2) return n;
  if (n > heapThreshold) return bpeMergeHeap(syms, n, ranks, mergeResult);
  // pairRank[i] is the rank of (syms[i], syms[i+1]); only the two neighbours of a merge change.
  const pairRank = scratchRanks(n);
  for (let i = 0; i < n - 1; i++) pairRank[i] = ranks.get(syms[i]!, syms[i + 1]!);
  while (n > 1) {
    let best = -1;
    let bestRank = 0x7fffffff;
    for (let i = 0; i < n - 1; i++) {
      const r = pairRank[i]!;
      if (r >= 0 && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    syms[best] = mergeResult[bestRank]!;
    for (let i = best + 1; i < n - 1; i++) {
      syms[i] = syms[i + 1]!;
      pairRank[i] = pairRank[i + 1]!;
    }
    n--;
    if (best > 0) pairRank[best - 1] = ranks.get(syms[best - 1]!, syms[best]!);
    pairRank[best] = best < n - 1 ? ranks.get(syms[best]!, syms[best + 1]!) : -1;
  }
  return n;
}

let rankScratch = new Int32Array(256);
function scratchRanks(n: number): Int32Array {
  if (rankScratch.length < n) rankScratch = new Int32Array(n * 2);
  return rankScratch;
}

/**
 * O(n log n) variant for long words (a page of Chinese without spaces is one \p{L}+ word of
 * thousands of bytes): a doubly linked list of symbols and a min-heap of (rank, position) with
 * lazy deletion. Ordering by position on equal ranks keeps the leftmost-first rule.
 */
function bpeMergeHeap(syms: Int32Array, n: number, ranks: PairRanks, mergeResult: Int32Array): number {
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const rankAt = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new MinHeap(n);
  for (let i = 0; i < n - 1; i++) {
    const r = ranks.get(syms[i]!, syms[i + 1]!);
    rankAt[i] = r;
    if (r >= 0) heap.push(r, i);
  }
  rankAt[n - 1] = -1;
  while (heap.size > 0) {
    const r = heap.topRank();
    const i = heap.pop();
    if (rankAt[i] !== r) continue; // stale: the pair at i changed since this entry was pushed
    const j = next[i]!;
    syms[i] = mergeResult[r]!;
    const k = next[j]!;
    next[i] = k;
    if (k >= 0) prev[k] = i;
    rankAt[j] = -2; // j is gone
    const p = prev[i]!;
    if (p >= 0) {
      const rp = ranks.get(syms[p]!, syms[i]!);
      rankAt[p] = rp;
      if (rp >= 0) heap.push(rp, p);
    }
    const ri = k >= 0 ? ranks.get(syms[i]!, syms[k]!) : -1;
    rankAt[i] = ri;
    if (ri >= 0) heap.push(ri, i);
  }
  let m = 0;
  for (let i = 0; i >= 0; i = next[i]!) syms[m++] = syms[i]!;
  return m;
}

/** Binary min-heap of (rank, position) ordered by rank, then position. */
class MinHeap {
  private r: Int32Array;
  private p: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.r = new Int32Array(Math.max(capacity, 4));
    this.p = new Int32Array(Math.max(capacity, 4));
  }

  private less(i: number, j: number): boolean {
    const ri = this.r[i]!;
    const rj = this.r[j]!;
    return ri < rj || (ri === rj && this.p[i]! < this.p[j]!);
  }

  private swap(i: number, j: number): void {
    const r = this.r[i]!;
    const p = this.p[i]!;
    this.r[i] = this.r[j]!;
    this.p[i] = this.p[j]!;
    this.r[j] = r;
    this.p[j] = p;
  }

  push(rank: number, pos: number): void {
    if (this.size === this.r.length) {
      const r = new Int32Array(this.size * 2);
      const p = new Int32Array(this.size * 2);
      r.set(this.r);
      p.set(this.p);
      this.r = r;
      this.p = p;
    }
    let i = this.size++;
    this.r[i] = rank;
    this.p[i] = pos;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  topRank(): number {
    return this.r[0]!;
  }

  /** Removes the top entry and returns its position. */
  pop(): number {
    const top = this.p[0]!;
    const last = --this.size;
    if (last > 0) {
      this.r[0] = this.r[last]!;
      this.p[0] = this.p[last]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const c = l + 1 < last && this.less(l + 1, l) ? l + 1 : l;
        if (!this.less(c, i)) break;
        this.swap(c, i);
        i = c;
      }
    }
    return top;
  }
}
