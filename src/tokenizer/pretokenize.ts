// GPT-2's pre-tokenizer splits text into "words" that BPE never merges across:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// `\s` is written as \p{White_Space} on purpose. GPT-2's Python `regex`, OpenAI's Rust tiktoken and
// Hugging Face `tokenizers` (Oniguruma) all mean Unicode White_Space by `\s`; JavaScript's `\s`
// differs in two characters (it adds U+FEFF and drops U+0085 NEL). So genlab matches the reference
// implementations and HF exactly, and differs from js-tiktoken only on text containing U+0085 or
// U+FEFF (see gpt2.test.ts).

import { wordEnd } from './scanner.ts';

/** The specification; scanner.ts implements it without the regex engine, for speed. */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+" +
  '|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+';

/** Pre-tokenizes `text` (no special-token handling) into GPT-2 words. */
export function pretokenize(text: string): string[] {
  const words: string[] = [];
  for (let i = 0, e = 0; i < text.length; i = e) {
    e = wordEnd(text, i, text.length);
    words.push(text.slice(i, e));
  }
  return words;
}

/**
 * A global regex matching any of `specials`, longest first so that a special token that is a
 * prefix of another never wins; null when there are none.
 */
export function specialTokenRegex(specials: readonly string[]): RegExp | null {
  if (specials.length === 0) return null;
  const sorted = [...specials].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegex).join('|'), 'g');
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/**
 * Calls `onText(start, end)` for each stretch of ordinary text and `onSpecial(content)` for each
 * special token, in order. Special tokens are found before pre-tokenization, so '<|endoftext|>'
 * is one token even when glued to words ("end<|endoftext|>Start").
 */
export function splitOnSpecials(
  text: string,
  specials: RegExp | null,
  onText: (start: number, end: number) => void,
  onSpecial: (content: string) => void,
): void {
  if (specials === null) {
    if (text.length > 0) onText(0, text.length);
    return;
  }
  specials.lastIndex = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = specials.exec(text)) !== null) {
    if (m.index > pos) onText(pos, m.index);
    onSpecial(m[0]);
    pos = m.index + m[0].length;
  }
  if (pos < text.length) onText(pos, text.length);
}
