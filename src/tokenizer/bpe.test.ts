import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BYTE_TO_CHAR } from './byte-level.ts';
import { bpeMerge, PairRanks } from './bpe.ts';
import { gpt2Tokenizer, randomText, rng } from './testing/fixtures.ts';

test('bpeMerge: heap path (long words) equals the quadratic path', () => {
  const tok = gpt2Tokenizer();
  const parts = tok.toParts();
  const ranks = new PairRanks(parts.merges);
  const result = Int32Array.from(parts.merges, ([a, b]) => tok.tokenToId(tok.idToToken(a) + tok.idToToken(b))!);
  const byteId = new Int32Array(256);
  for (let b = 0; b < 256; b++) byteId[b] = tok.tokenToId(BYTE_TO_CHAR[b]!)!;
  const rand = rng(11);
  const te = new TextEncoder();
  for (let i = 0; i < 300; i++) {
    // words made of repeated fragments produce many equal-rank ties, the tricky case for a heap
    const frag = randomText(rand, 4);
    const word = (i % 2 ? frag.repeat(1 + Math.floor(rand() * 30)) : randomText(rand, 60)).replace(/\s/g, '');
    const bytes = te.encode(word);
    const a = Int32Array.from(bytes, (b) => byteId[b]!);
    const b = a.slice();
    const na = bpeMerge(a, a.length, ranks, result, 1 << 30);
    const nb = bpeMerge(b, b.length, ranks, result, 1);
    assert.deepEqual(b.subarray(0, nb), a.subarray(0, na), `word ${JSON.stringify(word)}`);
  }
});
