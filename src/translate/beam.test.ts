// Beam search against exhaustive search over small hand-made distributions, and greedy decoding.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../backend/rng.ts';
import { logSoftmax } from '../generate/sampling.ts';
import { beamSearch, greedySearch, lengthNorm, prefixScorer } from './beam.ts';

const EOS = 0;
const START = 0;

/** Random but fixed logits per prefix (a deterministic "model" over a tiny vocabulary). */
function randomModel(vocab: number, seed: number): (prefix: readonly number[]) => Float64Array {
  const memo = new Map<string, Float64Array>();
  return (prefix) => {
    const key = prefix.join(',');
    let l = memo.get(key);
    if (!l) {
      const rng = new Rng(seed * 7919 + key.length * 31 + [...key].reduce((a, c) => a * 131 + c.charCodeAt(0), 7));
      l = Float64Array.from({ length: vocab }, () => 2 * rng.normal());
      memo.set(key, l);
    }
    return l;
  };
}

/** Every sequence (ending in eos within maxLength, or cut at maxLength) with its log-probability. */
function enumerate(vocab: number, maxLength: number, logits: (p: readonly number[]) => ArrayLike<number>): Array<{ tokens: number[]; logprob: number; finished: boolean }> {
  const out: Array<{ tokens: number[]; logprob: number; finished: boolean }> = [];
  const lp = new Float64Array(vocab);
  const walk = (prefix: number[], logprob: number): void => {
    if (prefix.length === maxLength) {
      out.push({ tokens: prefix, logprob, finished: false });
      return;
    }
    logSoftmax(logits(prefix), lp);
    const row = Float64Array.from(lp);
    for (let v = 0; v < vocab; v++) {
      if (v === EOS) out.push({ tokens: prefix, logprob: logprob + row[v]!, finished: true });
      else walk([...prefix, v], logprob + row[v]!);
    }
  };
  walk([], 0);
  return out;
}

describe('beam search', () => {
  it('with a beam wide enough to keep every prefix, finds the exhaustive optimum (with and without length penalty)', () => {
    const V = 4;
    const maxLength = 4;
    for (const seed of [1, 2, 3, 4, 5]) {
      for (const alpha of [0, 0.6, 2]) {
        const model = randomModel(V, seed);
        const all = enumerate(V, maxLength, model).filter((h) => h.finished);
        const best = all.reduce((a, b) => (b.logprob / lengthNorm(b.tokens.length + 1, alpha) > a.logprob / lengthNorm(a.tokens.length + 1, alpha) ? b : a));
        // (V-1)^3 = 27 prefixes of length 3: a beam of 64 never drops one.
        const K = 64;
        const got = beamSearch(prefixScorer(V, K, model), { beamSize: K, lengthPenalty: alpha, maxLength, eos: EOS, start: START })[0]!;
        assert.deepEqual(got.tokens, best.tokens, `seed ${seed}, α ${alpha}`);
        assert.ok(Math.abs(got.logprob - best.logprob) < 1e-9);
        assert.ok(got.finished);
      }
    }
  });

  it('beats greedy decoding when the first greedy choice leads nowhere', () => {
    // Step 1: "1" is likelier than "2" (0.6 vs 0.4); after "1" the mass spreads over three tokens,
    // after "2" it concentrates on eos. Best sequence: "2" eos (0.4 · 0.9) > "1" x eos (≤ 0.6 · 0.33).
    const p = (prefix: readonly number[]): number[] => {
      if (prefix.length === 0) return [1e-9, 0.6, 0.4, 1e-9];
      if (prefix.length === 1 && prefix[0] === 1) return [0.1, 0.3, 0.3, 0.3];
      if (prefix.length === 1 && prefix[0] === 2) return [0.9, 0.05, 0.05, 1e-9];
      return [0.98, 0.01, 0.005, 0.005];
    };
    const logits = (prefix: readonly number[]): number[] => p(prefix).map(Math.log);
    const greedy = greedySearch(prefixScorer(4, 1, logits), { maxLength: 5, eos: EOS, start: START });
    assert.deepEqual(greedy.tokens.slice(0, 1), [1]);
    const beam = beamSearch(prefixScorer(4, 2, logits), { beamSize: 2, lengthPenalty: 0, maxLength: 5, eos: EOS, start: START })[0]!;
    assert.deepEqual(beam.tokens, [2]);
    assert.ok(Math.abs(beam.logprob - Math.log(0.4 * 0.9)) < 1e-6);
    assert.ok(beam.logprob > greedy.logprob);
  });

  it('a beam of one is greedy decoding', () => {
    for (const seed of [3, 8, 13]) {
      const model = randomModel(6, seed);
      const g = greedySearch(prefixScorer(6, 1, model), { maxLength: 8, eos: EOS, start: START });
      const b = beamSearch(prefixScorer(6, 1, model), { beamSize: 1, lengthPenalty: 0, maxLength: 8, eos: EOS, start: START })[0]!;
      assert.deepEqual(b.tokens, g.tokens);
      assert.equal(b.finished, g.finished);
      assert.ok(Math.abs(b.logprob - g.logprob) < 1e-9);
    }
  });

  it('a length penalty moves the choice to longer hypotheses', () => {
    // eos is always fairly likely: raw log-probability prefers stopping at once, α = 3 a longer output.
    const logits = (prefix: readonly number[]): number[] => (prefix.length < 4 ? [Math.log(0.3), Math.log(0.65), Math.log(0.05)] : [0, -20, -20]);
    const short = beamSearch(prefixScorer(3, 4, logits), { beamSize: 4, lengthPenalty: 0, maxLength: 6, eos: EOS, start: START })[0]!;
    const long = beamSearch(prefixScorer(3, 4, logits), { beamSize: 4, lengthPenalty: 3, maxLength: 6, eos: EOS, start: START })[0]!;
    assert.equal(short.tokens.length, 0);
    assert.ok(long.tokens.length > 0, `α 3 chose ${JSON.stringify(long.tokens)}`);
    assert.ok(long.score > long.logprob, 'the score is normalised by ((5 + |y|) / 6)^α');
  });

  it('returns unfinished hypotheses cut at maxLength when nothing ends', () => {
    const logits = (): number[] => [-30, 0, 0];
    const [h] = beamSearch(prefixScorer(3, 2, logits), { beamSize: 2, lengthPenalty: 0.6, maxLength: 3, eos: EOS, start: START });
    assert.equal(h!.finished, false);
    assert.equal(h!.tokens.length, 3);
    assert.equal(greedySearch(prefixScorer(3, 1, logits), { maxLength: 3, eos: EOS, start: START }).finished, false);
  });

  it('rejects a bad beam size', () => {
    assert.throws(() => beamSearch(prefixScorer(3, 1, () => [0, 0, 0]), { beamSize: 0, lengthPenalty: 0, maxLength: 3, eos: EOS, start: START }), /beam size must be a positive integer/);
  });
});
