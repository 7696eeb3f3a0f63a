// Shared by the readers of tokenizer.json components (normalizer, pre_tokenizer, decoder,
// post_processor): where a component sits in the file, its type, and the errors that name both.

import { onigRegex, literalRegex, UnsupportedRegexError } from './hf-regex.ts';
import { describe, isObject, TokenizerFileError } from './tokenizer-json.ts';

/**
 * Rust's regex \w as a class body (alphabetic, marks, decimal digits, connector punctuation,
 * joiners): what HF means by a word character outside Oniguruma (Whitespace pre-tokenizer,
 * single_word added tokens).
 */
export const RUST_WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';

/** A component's position in the file ("pre_tokenizer.pretokenizers[0]") and the file's name. */
export interface Where {
  file: string;
  path: string;
}

export function at(w: Where, key: string | number): Where {
  return { file: w.file, path: typeof key === 'number' ? `${w.path}[${key}]` : `${w.path}.${key}` };
}

export function fail(w: Where, problem: string): never {
  throw new TokenizerFileError(w.file, `${w.path} ${problem}`);
}

/** The component object and its "type". */
export function component(raw: unknown, w: Where): { json: Record<string, unknown>; type: string } {
  if (!isObject(raw) || typeof raw['type'] !== 'string') fail(w, `is ${describe(raw)}; expected an object with a "type"`);
  return { json: raw, type: raw['type'] };
}

export function unsupported(w: Where, type: string, supported: readonly string[]): never {
  fail(w, `has type ${JSON.stringify(type)}, which genlab does not support (supported: ${supported.join(', ')})`);
}

export function str(json: Record<string, unknown>, key: string, w: Where, fallback?: string): string {
  const v = json[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') fail(at(w, key), `is ${describe(v)}; expected a string`);
  return v;
}

export function bool(json: Record<string, unknown>, key: string, w: Where, fallback: boolean): boolean {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') fail(at(w, key), `is ${describe(v)}; expected true or false`);
  return v;
}

export function uint(json: Record<string, unknown>, key: string, w: Where, fallback: number): number {
  const v = json[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(at(w, key), `is ${describe(v)}; expected a non-negative integer`);
  return v;
}

export function list(json: Record<string, unknown>, key: string, w: Where): unknown[] {
  const v = json[key];
  if (!Array.isArray(v)) fail(at(w, key), `is ${describe(v)}; expected a list`);
  return v;
}

/** A {"String": "..."} or {"Regex": "..."} pattern as a global regex. */
export function pattern(raw: unknown, w: Where): RegExp {
  if (isObject(raw) && typeof raw['String'] === 'string') return literalRegex(raw['String']);
  if (isObject(raw) && typeof raw['Regex'] === 'string') {
    try {
      return onigRegex(raw['Regex']);
    } catch (e) {
      if (e instanceof UnsupportedRegexError) fail(w, `has an unsupported ${e.message}`);
      throw e;
    }
  }
  fail(w, `is ${describe(raw)}; expected {"String": text} or {"Regex": pattern}`);
}

/** Replaces every match of `re` by `content` literally (no $1 expansion, as HF does). */
export function replaceAll(s: string, re: RegExp, content: string): string {
  return s.replace(re, () => content);
}
