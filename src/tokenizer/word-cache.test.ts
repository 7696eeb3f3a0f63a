import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomText, rng } from './testing/fixtures.ts';
import { WordCache } from './word-cache.ts';

test('WordCache finds every stored word by text range across table growth, and misses others', () => {
  const cache = new WordCache();
  const rand = rng(3);
  const stored = new Map<string, number[]>();
  const text = Array.from({ length: 150_000 }, (_, i) => `${randomText(rand, 3)}#${i}`).join('|');
  let pos = 0;
  for (const w of text.split('|')) {
    const ids = Array.from({ length: 1 + (w.length % 5) }, (_, k) => w.charCodeAt(k % w.length) * 7 + k);
    const h = WordCache.hash(text, pos, pos + w.length);
    assert.equal(cache.get(text, pos, pos + w.length, h), false);
    cache.set(text, pos, pos + w.length, h, ids, ids.length);
    stored.set(w, ids);
    pos += w.length + 1;
  }
  assert.equal(cache.size, stored.size);
  for (const [w, ids] of stored) {
    const probe = `x${w}y`; // a range inside another string
    assert.ok(cache.get(probe, 1, 1 + w.length, WordCache.hash(probe, 1, 1 + w.length)), w);
    assert.deepEqual([...cache.ids.subarray(cache.found, cache.found + cache.foundCount)], ids);
  }
  const other = 'not stored at all';
  assert.equal(cache.get(other, 0, other.length, WordCache.hash(other, 0, other.length)), false);
  cache.clear();
  const [w] = stored.keys();
  assert.equal(cache.get(w!, 0, w!.length, WordCache.hash(w!, 0, w!.length)), false);
});
