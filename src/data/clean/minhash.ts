// Near-duplicate detection with MinHash and locality-sensitive hashing (Broder 1997; Leskovec,
// Rajaraman & Ullman, "Mining of Massive Datasets", ch. 3). A document becomes the set of its word
// 5-grams (shingles); bands × rows hash functions give a signature whose entries agree with another
// document's with probability equal to their Jaccard similarity s. Signatures are cut into `bands`
// bands of `rows` entries; two documents become candidates when any band matches, which happens
// with probability 1 - (1 - s^rows)^bands: an S-curve with its threshold near (1/bands)^(1/rows).
// The defaults, 5-grams and 14 bands × 8 rows, are datatrove's (threshold ≈ 0.72; s = 0.8 is
// caught with probability 0.92, s = 0.5 with 0.05).

import { normalizedWords } from './normalize.ts';
import { U64Map } from './hash-table.ts';

export interface MinHashConfig {
  enabled: boolean;
  /** Words per shingle. */
  ngram: number;
  bands: number;
  rows: number;
  /** Seeds the hash functions; documents are only comparable under the same seed. */
  seed: number;
  /**
   * 0 (default): any shared band makes a duplicate, as datatrove does. Above 0: a candidate must
   * also have an estimated Jaccard similarity at least this high (costs 4·bands·rows bytes per
   * kept document to remember the signatures).
   */
  verifyThreshold: number;
}

export function defaultMinHashConfig(): MinHashConfig {
  return { enabled: true, ngram: 5, bands: 14, rows: 8, seed: 1, verifyThreshold: 0 };
}

/** murmur3's 32-bit finalizer: a bijection that mixes every input bit into every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** 32-bit hashes of the document's word n-grams (one shingle for documents shorter than n). */
export function shingleHashes(text: string, n: number): Uint32Array {
  const words = normalizedWords(text);
  if (words.length === 0) return new Uint32Array(0);
  const wh = words.map(stringHash);
  const m = Math.max(1, words.length - n + 1);
  const out = new Uint32Array(m);
  for (let i = 0; i < m; i++) {
    let h = 0x9747b28c;
    for (let k = i; k < Math.min(i + n, wh.length); k++) h = fmix32(Math.imul(h ^ wh[k]!, 0x5bd1e995) + k - i);
    out[i] = h;
  }
  return out;
}

export class MinHasher {
  readonly numHashes: number;
  private readonly seeds: Uint32Array;

  constructor(readonly config: Pick<MinHashConfig, 'ngram' | 'bands' | 'rows' | 'seed'>) {
    for (const k of ['ngram', 'bands', 'rows'] as const) {
      if (!(Number.isInteger(config[k]) && config[k] >= 1 && config[k] <= 1024)) throw new Error(`minhash.${k} must be an integer in [1, 1024], got ${config[k]}`);
    }
    this.numHashes = config.bands * config.rows;
    this.seeds = new Uint32Array(this.numHashes);
    let s = fmix32(config.seed >>> 0 || 0x2545f491);
    for (let i = 0; i < this.numHashes; i++) {
      s = fmix32(s + 0x9e3779b9);
      this.seeds[i] = s;
    }
  }

  /** The MinHash signature of a set of shingle hashes (all 0xffffffff for an empty set). */
  signature(shingles: Uint32Array): Uint32Array {
    const k = this.numHashes;
    const sig = new Uint32Array(k).fill(0xffffffff);
    const seeds = this.seeds;
    for (let j = 0; j < shingles.length; j++) {
      const x = shingles[j]!;
      for (let i = 0; i < k; i++) {
        const v = fmix32(x ^ seeds[i]!);
        if (v < sig[i]!) sig[i] = v;
      }
    }
    return sig;
  }

  signatureOf(text: string): Uint32Array {
    return this.signature(shingleHashes(text, this.config.ngram));
  }
}

/** Fraction of equal signature entries: an unbiased estimate of the Jaccard similarity. */
export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) throw new Error(`signatures of different lengths (${a.length} and ${b.length}); use one MinHasher for both`);
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

/** Exact Jaccard similarity of two documents' shingle sets (for tests and audits). */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 1 : inter / union;
}

/** Probability that two documents of Jaccard similarity s share at least one band. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(s, rows), bands);
}

/** The similarity where the S-curve is steepest, about (1/bands)^(1/rows). */
export function lshThreshold(bands: number, rows: number): number {
  return Math.pow(1 / bands, 1 / rows);
}

/**
 * Streaming LSH index: `add` checks a document against all documents kept so far and keeps it
 * only if it matches none, so memory grows with kept documents (one table entry per band), not
 * with the text.
 */
export class LshIndex {
  private readonly tables: U64Map[];
  /** With verification: the stored signatures, and the caller's id for each stored slot. */
  private sigs: Uint32Array | null;
  private readonly ids: number[] = [];
  private stored = 0;

  constructor(readonly config: Pick<MinHashConfig, 'bands' | 'rows' | 'verifyThreshold'>) {
    this.tables = Array.from({ length: config.bands }, () => new U64Map());
    this.sigs = config.verifyThreshold > 0 ? new Uint32Array(1024 * config.bands * config.rows) : null;
  }

  /** Bytes held by the index. */
  get bytes(): number {
    return this.tables.reduce((a, t) => a + t.bytes, 0) + (this.sigs?.byteLength ?? 0);
  }

  private bandKey(sig: Uint32Array, b: number): [number, number] {
    const r = this.config.rows;
    let h1 = 0x12345678 ^ b;
    let h2 = 0x9abcdef0 ^ Math.imul(b, 0x27d4eb2d);
    for (let i = b * r; i < (b + 1) * r; i++) {
      h1 = fmix32(h1 ^ sig[i]!);
      h2 = fmix32(Math.imul(h2, 31) + sig[i]!);
    }
    return [h1, h2];
  }

  /**
   * The id of a stored near-duplicate of `sig`, or -1 after storing `sig` under `id`. With
   * verifyThreshold, a shared band only counts when the estimated similarity reaches it.
   */
  add(sig: Uint32Array, id: number): { duplicateOf: number; similarity: number } {
    const k = this.config.bands * this.config.rows;
    if (sig.length !== k) throw new Error(`signature has ${sig.length} entries, the index expects bands × rows = ${k}`);
    const keys = this.tables.map((_, b) => this.bandKey(sig, b));
    for (let b = 0; b < keys.length; b++) {
      const hit = this.tables[b]!.get(keys[b]![0], keys[b]![1]);
      if (hit === undefined) continue;
      if (this.sigs === null) return { duplicateOf: hit, similarity: NaN };
      const other = this.sigs.subarray(hit * k, hit * k + k);
      const s = estimatedJaccard(sig, other);
      if (s >= this.config.verifyThreshold) return { duplicateOf: this.ids[hit]!, similarity: s };
    }
    const slot = this.stored++;
    if (this.sigs !== null) {
      if (this.sigs.length < this.stored * k) {
        const bigger = new Uint32Array(this.sigs.length * 2);
        bigger.set(this.sigs);
        this.sigs = bigger;
      }
      this.sigs.set(sig, slot * k);
      this.ids.push(id);
    }
    for (let b = 0; b < keys.length; b++) this.tables[b]!.getOrSet(keys[b]![0], keys[b]![1], this.sigs !== null ? slot : id);
    return { duplicateOf: -1, similarity: NaN };
  }
}
