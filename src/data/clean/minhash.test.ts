import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../backend/rng.ts';
import { U64Map } from './hash-table.ts';
import { candidateProbability, defaultMinHashConfig, estimatedJaccard, jaccard, LshIndex, lshThreshold, MinHasher, shingleHashes } from './minhash.ts';

const rng = new Rng(7);
const VOCAB = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${String.fromCharCode(97 + (i % 26))}`);
const word = (): string => VOCAB[Math.floor(rng.uniform() * VOCAB.length)]!;
const randomDoc = (n: number): string[] => Array.from({ length: n }, word);

/** Replace random words of `base` until the shingle Jaccard similarity drops into [lo, hi]. */
function nearCopy(base: string[], lo: number, hi: number, n = 5): { words: string[]; similarity: number } | null {
  const a = shingleHashes(base.join(' '), n);
  const words = base.slice();
  for (let edits = 0; edits < 200; edits++) {
    words[Math.floor(rng.uniform() * words.length)] = word();
    const s = jaccard(a, shingleHashes(words.join(' '), n));
    if (s <= hi) return s >= lo ? { words, similarity: s } : null;
  }
  return null;
}

test('the default 14 × 8 bands give a threshold near 0.72 and catch similarity 0.8 with p > 0.9', () => {
  const c = defaultMinHashConfig();
  assert.deepEqual([c.ngram, c.bands, c.rows], [5, 14, 8]);
  assert.ok(Math.abs(lshThreshold(14, 8) - 0.719) < 0.001);
  assert.ok(candidateProbability(0.8, 14, 8) > 0.91);
  assert.ok(candidateProbability(0.5, 14, 8) < 0.06);
});

test('signature agreement estimates the Jaccard similarity without bias', () => {
  const h = new MinHasher({ ngram: 5, bands: 32, rows: 8, seed: 3 });
  let errSum = 0;
  let absSum = 0;
  const n = 60;
  for (let i = 0; i < n; i++) {
    const base = randomDoc(200);
    const copy = nearCopy(base, 0.3, 0.9);
    if (copy === null) continue;
    const est = estimatedJaccard(h.signatureOf(base.join(' ')), h.signatureOf(copy.words.join(' ')));
    errSum += est - copy.similarity;
    absSum += Math.abs(est - copy.similarity);
  }
  // 256 hashes: the standard error of one estimate is at most 0.5/16 ≈ 0.03.
  assert.ok(Math.abs(errSum / n) < 0.01, `mean error ${errSum / n}`);
  assert.ok(absSum / n < 0.035, `mean absolute error ${absSum / n}`);
});

test('LSH recall on planted near-duplicates at similarity 0.8 is at least 0.9; unrelated documents are never matched', () => {
  const cfg = defaultMinHashConfig();
  const h = new MinHasher(cfg);
  const index = new LshIndex(cfg);
  const bases: string[][] = [];
  for (let i = 0; i < 300; i++) {
    const b = randomDoc(300);
    bases.push(b);
    assert.equal(index.add(h.signatureOf(b.join(' ')), i).duplicateOf, -1, 'random documents are not near-duplicates of each other');
  }
  let planted = 0;
  let found = 0;
  const sims: number[] = [];
  for (let i = 0; i < bases.length; i++) {
    const copy = nearCopy(bases[i]!, 0.77, 0.81);
    if (copy === null) continue;
    planted++;
    sims.push(copy.similarity);
    const hit = index.add(h.signatureOf(copy.words.join(' ')), 10_000 + i);
    if (hit.duplicateOf === i) found++;
    else assert.equal(hit.duplicateOf, -1, 'a near-duplicate is matched to its own original');
  }
  assert.ok(planted >= 250, `planted ${planted}`);
  const mean = sims.reduce((a, b) => a + b, 0) / sims.length;
  assert.ok(Math.abs(mean - 0.8) < 0.01, `mean planted similarity ${mean}`);
  assert.ok(Math.max(...sims) <= 0.81);
  const recall = found / planted;
  assert.ok(recall >= 0.9, `recall ${recall} at similarity ~0.8`);
  console.log(`LSH recall ${recall.toFixed(3)} on ${planted} planted pairs, mean similarity ${mean.toFixed(3)}`);
});

test('pairs well below the threshold are rarely candidates', () => {
  const cfg = defaultMinHashConfig();
  const h = new MinHasher(cfg);
  const index = new LshIndex(cfg);
  let planted = 0;
  let matched = 0;
  for (let i = 0; i < 150; i++) {
    const b = randomDoc(300);
    index.add(h.signatureOf(b.join(' ')), i);
    const copy = nearCopy(b, 0.35, 0.45);
    if (copy === null) continue;
    planted++;
    if (index.add(h.signatureOf(copy.words.join(' ')), 1000 + i).duplicateOf >= 0) matched++;
  }
  // Theory: 1 - (1 - 0.4^8)^14 ≈ 0.009.
  assert.ok(planted >= 100);
  assert.ok(matched / planted < 0.05, `false match rate ${matched / planted}`);
});

test('verifyThreshold rejects band collisions whose estimated similarity is too low', () => {
  const cfg = { ...defaultMinHashConfig(), verifyThreshold: 0.95 };
  const h = new MinHasher(cfg);
  const index = new LshIndex(cfg);
  const b = randomDoc(300);
  index.add(h.signatureOf(b.join(' ')), 5);
  const copy = nearCopy(b, 0.85, 0.9)!;
  assert.ok(copy);
  assert.equal(index.add(h.signatureOf(copy.words.join(' ')), 6).duplicateOf, -1);
  const exact = index.add(h.signatureOf(b.join(' ')), 7);
  assert.equal(exact.duplicateOf, 5);
  assert.equal(exact.similarity, 1);
});

test('shingles ignore case and punctuation; short documents are one shingle', () => {
  assert.deepEqual(shingleHashes('The cat, sat on THE mat!', 5), shingleHashes('the cat sat on the mat', 5));
  assert.equal(shingleHashes('two words', 5).length, 1);
  assert.equal(shingleHashes('', 5).length, 0);
  assert.throws(() => new MinHasher({ ngram: 0, bands: 1, rows: 1, seed: 1 }), /minhash\.ngram must be an integer/);
});

test('U64Map stores and finds 200k keys across growth', () => {
  const m = new U64Map(4);
  const n = 200_000;
  for (let i = 0; i < n; i++) assert.equal(m.getOrSet(i * 2654435761, i ^ 0xdeadbeef, i), undefined);
  assert.equal(m.size, n);
  for (let i = 0; i < n; i += 997) assert.equal(m.get(i * 2654435761, i ^ 0xdeadbeef), i);
  assert.equal(m.getOrSet(5 * 2654435761, 5 ^ 0xdeadbeef, -1), 5);
  assert.equal(m.get(1, 2), undefined);
});
