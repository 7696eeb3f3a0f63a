// The Oniguruma → JavaScript regex translation, checked by splitting text with HF tokenizers'
// Split pre-tokenizer (which runs Oniguruma) and with genlab's.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { translateOnigRegex } from './hf-regex.ts';
import { readPreTokenizer } from './hf-pretokenizers.ts';
import { randomText, rng } from './testing/fixtures.ts';
import { sharedUnicode, HARD_TEXTS, referencePreTokenize } from './testing/hf-reference.ts';

function ourPieces(preTokenizer: unknown, text: string): string[] {
  const pre = readPreTokenizer(preTokenizer, { file: 'test', path: 'pre_tokenizer' })!;
  const out: string[] = [];
  pre.run(text, 0, text.length, true, (t, s, e) => out.push(t.slice(s, e)));
  return out;
}

const PATTERNS = {
  llama3: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  gpt4o:
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  possessive: "\\p{L}++|\\p{N}?+\\p{N}|[^\\s\\p{L}\\p{N}]*+x| ?+\\S",
  atomic: '(?>\\p{L}+|\\p{L}+\\p{N})\\p{N}?|\\p{Han}+|\\p{^L}{2}',
  anchors: '^\\s*\\S|\\S$|\\A.|.\\z|\\p{N}\\Z',
  classes: '[a-f\\d\\-_]+|\\h{2,}|[\\x{4E00}-\\x{9FFF}\\u3040-\\u30FF]+|[^\\p{L}\\s]{1,2}+|x(?i)ab|[\\t\\n\\r\\f\\v]',
  caseless: "(?i:[a-c]+|bra|k)|'(?i)s",
} as const;

test('translations of real and tricky patterns split text exactly as Oniguruma does', () => {
  const rand = rng(3);
  const texts = [...HARD_TEXTS, "it'ſ IT'S KKk ſs aBc ÀÉÎ straße STRASSE", 'ab\ncd\n\n e \n', 'ab12345 ١٢٣ ¹²³ 中文字 ひらがな カタカナ'];
  for (let i = 0; i < 300; i++) texts.push(sharedUnicode(randomText(rand, 25, { jsWhitespaceQuirks: true })));
  for (const [name, regex] of Object.entries(PATTERNS)) {
    for (const invert of [false, true]) {
      const pre = { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert };
      for (const s of texts) assert.deepEqual(ourPieces(pre, s), referencePreTokenize(pre, s), `${name} on ${JSON.stringify(s)}`);
    }
  }
});

test('the translation: \\s is White_Space, (?i:) expands letters by case folding, possessive and atomic become lookahead + backreference', () => {
  assert.equal(translateOnigRegex('\\s+(?!\\S)'), '\\p{White_Space}+(?!\\P{White_Space})');
  assert.equal(translateOnigRegex("(?i:'s|'ll)"), "(?:'[Ssſ]|'[Ll][Ll])");
  assert.equal(translateOnigRegex('a*+b'), '(?:(?=(?<a0>a*))\\k<a0>)b');
  assert.equal(translateOnigRegex('(?>a|ab)c'), '(?:(?=(?<a0>a|ab))\\k<a0>)c');
  assert.equal(translateOnigRegex('a{1,2}+'), '(?:a{1,2})+');
  assert.equal(translateOnigRegex('\\p{Han}\\p{^L}\\x{4E2D}'), '\\p{Script=Han}\\P{L}\\u{4e2d}');
  assert.equal(translateOnigRegex('^.$'), '(?<![^\\n])[^\\n](?![^\\n])');
});

test('constructs without a faithful translation are refused by name', () => {
  const refused: [string, RegExp][] = [
    ['\\w+', /regex "\\\\w\+": \\w \(Oniguruma's word class matches characters no JavaScript class does\) is not supported/],
    ['\\bx', /\\b \(word boundaries use the word class \\w\)/],
    ['[[:alpha:]]', /nested classes and POSIX brackets/],
    ['[a-z&&[^aeiou]]', /class intersection \(&&\)/],
    ['(?m:a.b)', /flag m is not supported \(only i\)/],
    ['(a)\\1', /backreferences/],
    ['\\X', /grapheme clusters/],
    ['(?<=a)b(?<n>c)\\k<n>', /backreferences/],
    ['\\p{NoSuchThing}', /unknown Unicode property \\p\{NoSuchThing\}/],
    ['(a', /missing \)/],
    ['(?i:strasse)', /\(\?i\) on "strasse" is not supported: Oniguruma matches it across characters \("ss" also matches "ß"\)/],
    ['(?i)Straße', /\(\?i\) on "Straße" is not supported/],
    ['(?i:[ßa])', /\(\?i\) on "ß" in a class is not supported/],
  ];
  for (const [pattern, message] of refused) assert.throws(() => translateOnigRegex(pattern), message, pattern);
});
