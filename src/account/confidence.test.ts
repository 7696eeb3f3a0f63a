import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lowConfidenceSpans } from './confidence.ts';

const tok = (text: string, p: number | null, entropy?: number) => ({ text, logprob: p === null ? null : Math.log(p), ...(entropy !== undefined ? { entropy } : {}) });

describe('low-confidence spans', () => {
  it('joins unlikely tokens across one confident token and reports offsets into the text', () => {
    const tokens = [tok('The', null), tok(' war', 0.5), tok(' ended', 0.05), tok(' in', 0.6), tok(' 1492', 0.01), tok('.', 0.9), tok(' It', 0.7), tok(' was', 0.8), tok(' long', 0.02)];
    const spans = lowConfidenceSpans(tokens);
    assert.deepEqual(
      spans.map((s) => [s.text, s.start, s.end, s.firstToken, s.endToken]),
      [
        [' ended in 1492', 7, 21, 2, 5],
        [' long', 29, 34, 8, 9],
      ],
    );
    const text = tokens.map((t) => t.text).join('');
    for (const s of spans) assert.equal(text.slice(s.start, s.end), s.text);
    assert.ok(Math.abs(spans[0]!.minProbability - 0.01) < 1e-12);
  });

  it('bridge 0 keeps runs apart; entropy marks uncertain positions; whitespace never starts a span', () => {
    const tokens = [tok(' a', 0.05), tok(' b', 0.5), tok(' c', 0.05), tok(' ', 0.01), tok(' d', 0.9, 5)];
    assert.equal(lowConfidenceSpans(tokens, { bridge: 0 }).length, 2);
    assert.deepEqual(lowConfidenceSpans(tokens, { bridge: 0, minEntropy: 4 }).map((s) => s.text), [' a', ' c', ' d']);
    assert.throws(() => lowConfidenceSpans(tokens, { maxProbability: 0 }), /maxProbability must be in \(0, 1\]/);
  });
});
