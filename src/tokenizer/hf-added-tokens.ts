// tokenizer.json added_tokens: found in the text before the model sees it, as HF does:
// 1. tokens with normalized: false are matched in the raw text (leftmost, longest first);
// 2. every stretch between them is normalized, then tokens with normalized: true are matched
//    against their normalized content.
// single_word: only where the token is not glued to word characters; lstrip / rstrip: the token
// also takes the whitespace on its left / right. Special tokens are skipped when the caller does
// not allow them (untrusted text); non-special added tokens (Qwen's <tool_call>) always match.

import { at, fail, RUST_WORD, type Where } from './hf-components.ts';
import type { Normalizer } from './hf-normalizers.ts';
import { specialTokenRegex } from './pretokenize.ts';
import { describe, isObject } from './tokenizer-json.ts';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

export function readAddedTokens(raw: unknown, w: Where): AddedToken[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fail(w, `must be a list, found ${describe(raw)}`);
  return raw.map((t: unknown, i) => {
    const tw = at(w, i);
    if (!isObject(t) || typeof t['content'] !== 'string' || t['content'] === '' || typeof t['id'] !== 'number' || !Number.isInteger(t['id']) || t['id'] < 0) {
      fail(tw, `is ${describe(t)}; expected {"id": integer, "content": non-empty string, ...}`);
    }
    const flag = (key: string, fallback: boolean): boolean => {
      const v = t[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'boolean') fail(at(tw, key), `is ${describe(v)}; expected true or false`);
      return v;
    };
    const special = flag('special', false);
    return {
      id: t['id'],
      content: t['content'],
      special,
      singleWord: flag('single_word', false),
      lstrip: flag('lstrip', false),
      rstrip: flag('rstrip', false),
      // HF's default: special tokens are not normalized, others are.
      normalized: flag('normalized', !special),
    };
  });
}

// Rust's regex \w and \s, which HF uses for single_word and lstrip/rstrip.
const WORD_AT_END = new RegExp(`[${RUST_WORD}]$`, 'u');
const WORD_AT_START = new RegExp(`^[${RUST_WORD}]`, 'u');
const SPACE_AT_END = /\p{White_Space}*$/u;
const SPACE_AT_START = /^\p{White_Space}*/u;

/** One pass of matching: a regex over the contents and the token each content stands for. */
class Matcher {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly re: RegExp | null;

  constructor(tokens: readonly AddedToken[], content: (t: AddedToken) => string) {
    for (const t of tokens) {
      const c = content(t);
      if (c !== '' && !this.byContent.has(c)) this.byContent.set(c, t);
    }
    this.re = specialTokenRegex([...this.byContent.keys()]);
  }

  /** Calls onText for the stretches between tokens and onToken for each token, in order. */
  split(text: string, onText: (start: number, end: number) => void, onToken: (id: number) => void): void {
    const re = this.re;
    if (re === null) {
      onText(0, text.length);
      return;
    }
    re.lastIndex = 0;
    let done = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const token = this.byContent.get(m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (token.singleWord && ((start > 0 && WORD_AT_END.test(text.slice(0, start))) || (end < text.length && WORD_AT_START.test(text.slice(end))))) continue;
      if (token.lstrip) start = Math.max(done, SPACE_AT_END.exec(text.slice(0, start))!.index);
      if (token.rstrip) end += SPACE_AT_START.exec(text.slice(end))![0].length;
      if (start > done) onText(done, start);
      onToken(token.id);
      done = end;
      re.lastIndex = Math.max(re.lastIndex, end);
    }
    if (done < text.length) onText(done, text.length);
  }
}

export class AddedTokens {
  private readonly raw: Matcher;
  private readonly rawNoSpecial: Matcher;
  private readonly normalized: Matcher;
  private readonly normalizedNoSpecial: Matcher;
  private readonly ids = new Map<string, number>();

  constructor(
    tokens: readonly AddedToken[],
    private readonly normalizer: Normalizer | null,
  ) {
    for (const t of tokens) if (!this.ids.has(t.content)) this.ids.set(t.content, t.id);
    const plain = tokens.filter((t) => !t.normalized);
    const norm = tokens.filter((t) => t.normalized);
    const normalizedContent = (t: AddedToken): string => (normalizer ? normalizer(t.content) : t.content);
    this.raw = new Matcher(plain, (t) => t.content);
    this.rawNoSpecial = new Matcher(plain.filter((t) => !t.special), (t) => t.content);
    this.normalized = new Matcher(norm, normalizedContent);
    this.normalizedNoSpecial = new Matcher(norm.filter((t) => !t.special), normalizedContent);
  }

  /** The id of an added token's content. */
  idOf(content: string): number | undefined {
    return this.ids.get(content);
  }

  /**
   * Splits `text` into normalized stretches (onText, with whether the stretch begins the input)
   * and added tokens (onToken), in order.
   */
  split(text: string, allowSpecial: boolean, onText: (normalized: string, atStart: boolean) => void, onToken: (id: number) => void): void {
    const raw = allowSpecial ? this.raw : this.rawNoSpecial;
    const norm = allowSpecial ? this.normalized : this.normalizedNoSpecial;
    raw.split(
      text,
      (start, end) => {
        const piece = start === 0 && end === text.length ? text : text.slice(start, end);
        const normalized = this.normalizer ? this.normalizer(piece) : piece;
        norm.split(normalized, (a, b) => onText(a === 0 && b === normalized.length ? normalized : normalized.slice(a, b), start === 0 && a === 0), onToken);
      },
      onToken,
    );
  }
}
