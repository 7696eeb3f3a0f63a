import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GPT2_PATTERN, pretokenize } from './pretokenize.ts';
import { randomText, rng, sotuTexts, VARIED_TEXT } from './testing/fixtures.ts';
import { wordEnd } from './scanner.ts';

const regexWords = (s: string): string[] => s.match(new RegExp(GPT2_PATTERN, 'gu')) ?? [];

test('scanner splits exactly like the GPT-2 regex on random Unicode (seeded)', () => {
  const rand = rng(77);
  for (let i = 0; i < 5000; i++) {
    const s = randomText(rand, 30, { loneSurrogates: true, specials: true, jsWhitespaceQuirks: true });
    assert.deepEqual(pretokenize(s), regexWords(s), JSON.stringify(s));
  }
});

test('scanner splits exactly like the GPT-2 regex on every BMP character in context', () => {
  // each code unit alone, after a space, between letters, and in whitespace runs
  for (let c = 0; c < 0x10000; c++) {
    const ch = String.fromCharCode(c);
    for (const s of [ch, ' ' + ch, 'a' + ch + 'b', '  ' + ch + '  x', "'" + ch, '1' + ch + '2']) {
      const want = regexWords(s);
      const got = pretokenize(s);
      if (got.length !== want.length || got.some((w, k) => w !== want[k])) assert.fail(`U+${c.toString(16)} in ${JSON.stringify(s)}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    }
  }
});

test('scanner matches the regex on astral letters, numbers and symbols', () => {
  const samples = ['𝐀𝐁𝐂 𝟏𝟐𝟑 😀😀 𠀀𠀁 x𝐀1𝟏', '\ud835𝐀', '𝐀\udc00', ' 😀 𝐀', '   𝟏'];
  for (const s of samples) assert.deepEqual(pretokenize(s), regexWords(s), s);
});

test('scanner matches the regex on real text, and respects the end bound', () => {
  for (const s of [VARIED_TEXT, ...sotuTexts(3)]) assert.deepEqual(pretokenize(s), regexWords(s));
  // a word never extends past `n`, and the text end rules apply at `n`
  const s = 'ab  cd';
  assert.equal(wordEnd(s, 2, 4), 4, 'trailing whitespace run at the bound is one word');
  assert.equal(wordEnd(s, 0, 1), 1);
});
