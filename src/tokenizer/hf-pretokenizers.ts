// tokenizer.json pre-tokenizers: split normalized text into pieces that BPE never merges across.
// A piece is a range of a string; steps that change the text (Metaspace's '▁', ByteLevel's prefix
// space) hand on a new string. Each piece knows whether it starts at the very beginning of the
// input, which Metaspace's prepend_scheme "first" depends on (HF: original offset 0).
//
// ByteLevel must be the last step: what it does besides splitting (mapping every UTF-8 byte to a
// character of GPT-2's byte alphabet) is done by the model reader on the piece's bytes, so pieces
// stay ordinary text here.

import { at, bool, component, fail, list, pattern, RUST_WORD, str, unsupported, type Where } from './hf-components.ts';
import { wordEnd } from './scanner.ts';

/** Receives one piece: text[start..end). */
export type PieceSink = (text: string, start: number, end: number, atStart: boolean) => void;
/** Splits text[start..end) into pieces. */
export type PreTokenizeStep = (text: string, start: number, end: number, atStart: boolean, emit: PieceSink) => void;

export interface PreTokenizer {
  run: PreTokenizeStep;
  /** The model sees each piece as its UTF-8 bytes in GPT-2's byte alphabet (a ByteLevel pre-tokenizer). */
  byteLevel: boolean;
}

const SUPPORTED = ['ByteLevel', 'Split', 'Metaspace', 'Digits', 'Whitespace', 'WhitespaceSplit', 'Sequence'];
const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'] as const;
type Behavior = (typeof BEHAVIORS)[number];

// HF's Whitespace pre-tokenizer: \w+|[^\w\s]+ with Rust's \w and \s.
const WHITESPACE_WORDS = new RegExp(`[${RUST_WORD}]+|[^${RUST_WORD}\\p{White_Space}]+`, 'gu');
const NON_SPACE = /\P{White_Space}+/gu;

export function readPreTokenizer(raw: unknown, w: Where): PreTokenizer | null {
  if (raw === null || raw === undefined) return null;
  const steps = flatten(raw, w);
  const byteLevelAt = steps.findIndex((s) => s.type === 'ByteLevel');
  if (byteLevelAt >= 0 && byteLevelAt !== steps.length - 1) {
    fail(steps[byteLevelAt]!.where, 'is a ByteLevel pre-tokenizer before other steps; genlab supports ByteLevel only as the last pre-tokenizer');
  }
  const run = steps.map((s) => s.step).reduceRight<PreTokenizeStep | null>(
    (next, step) => (next === null ? step : (text, start, end, atStart, emit) => step(text, start, end, atStart, (t, s, e, first) => next(t, s, e, first, emit))),
    null,
  );
  return run === null ? null : { run, byteLevel: byteLevelAt >= 0 };
}

interface NamedStep {
  type: string;
  where: Where;
  step: PreTokenizeStep;
}

/** The steps of a (possibly nested) Sequence, in order. */
function flatten(raw: unknown, w: Where): NamedStep[] {
  const { json, type } = component(raw, w);
  if (type === 'Sequence') return list(json, 'pretokenizers', w).flatMap((p, i) => flatten(p, at(at(w, 'pretokenizers'), i)));
  return [{ type, where: w, step: readStep(json, type, w) }];
}

function readStep(json: Record<string, unknown>, type: string, w: Where): PreTokenizeStep {
  switch (type) {
    case 'Split': {
      const behavior = str(json, 'behavior', w);
      if (!(BEHAVIORS as readonly string[]).includes(behavior)) fail(at(w, 'behavior'), `is ${JSON.stringify(behavior)}; expected one of ${BEHAVIORS.join(', ')}`);
      return splitStep(pattern(json['pattern'], at(w, 'pattern')), behavior as Behavior, bool(json, 'invert', w, false));
    }
    case 'Digits':
      // Rust's char::is_numeric: every \p{N}, not only decimal digits.
      return splitStep(bool(json, 'individual_digits', w, false) ? /\p{N}/gu : /\p{N}+/gu, 'Isolated', false);
    case 'Whitespace':
      return splitStep(WHITESPACE_WORDS, 'Removed', true);
    case 'WhitespaceSplit':
      return splitStep(NON_SPACE, 'Removed', true);
    case 'Metaspace':
      return metaspaceStep(json, w);
    case 'ByteLevel':
      return byteLevelStep(bool(json, 'add_prefix_space', w, true), bool(json, 'use_regex', w, true));
    default:
      unsupported(w, type, SUPPORTED);
  }
}

/**
 * Splits on the matches of `re` (a global regex). The matches are the delimiters, or with `invert`
 * the text between them; `behavior` says what happens to delimiters, as in HF.
 */
function splitStep(re: RegExp, behavior: Behavior, invert: boolean): PreTokenizeStep {
  return (text, start, end, atStart, emit) => {
    // Lookarounds must see the piece's ends as the text's ends, as they do in HF.
    const s = start === 0 && end === text.length ? text : text.slice(start, end);
    const runs: number[] = []; // (start, end, isDelimiter) triples covering s
    re.lastIndex = 0;
    let pos = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      const len = m[0].length;
      if (len === 0) {
        re.lastIndex += s.codePointAt(re.lastIndex)! > 0xffff ? 2 : 1; // empty matches split nothing
        continue;
      }
      if (m.index > pos) runs.push(pos, m.index, invert ? 1 : 0);
      runs.push(m.index, m.index + len, invert ? 0 : 1);
      pos = m.index + len;
    }
    if (pos < s.length) runs.push(pos, s.length, invert ? 1 : 0);
    const pieces = arrange(runs, behavior);
    for (let i = 0; i < pieces.length; i += 2) emit(s, pieces[i]!, pieces[i + 1]!, atStart && pieces[i] === 0);
  };
}

/**
 * (start, end) pairs of the pieces a split leaves, given (start, end, isDelimiter) runs. As in HF,
 * Contiguous joins neighbouring runs of the same kind (with invert, runs of non-delimiters too).
 */
function arrange(runs: number[], behavior: Behavior): number[] {
  const out: number[] = [];
  let previousDelimiter = false;
  if (behavior === 'MergedWithNext') {
    // A delimiter joins the piece after it: walk backwards, extending the last piece's start.
    const rev: number[] = [];
    for (let i = runs.length - 3; i >= 0; i -= 3) {
      const delim = runs[i + 2] === 1;
      if (delim && !previousDelimiter && rev.length > 0) rev[rev.length - 2] = runs[i]!;
      else rev.push(runs[i]!, runs[i + 1]!);
      previousDelimiter = delim;
    }
    for (let i = rev.length - 2; i >= 0; i -= 2) out.push(rev[i]!, rev[i + 1]!);
    return out;
  }
  for (let i = 0; i < runs.length; i += 3) {
    const a = runs[i]!;
    const b = runs[i + 1]!;
    const delim = runs[i + 2] === 1;
    if (behavior === 'Removed' && delim) continue;
    const extend =
      out.length > 0 && ((behavior === 'MergedWithPrevious' && delim && !previousDelimiter) || (behavior === 'Contiguous' && delim === previousDelimiter));
    if (extend) out[out.length - 1] = b;
    else out.push(a, b);
    previousDelimiter = delim;
  }
  return out;
}

/**
 * Metaspace (SentencePiece style): spaces become the replacement character ('▁'), which is
 * prepended to the piece per prepend_scheme (always; first = only at the very start of the input;
 * never); with split, each '▁' starts a new piece. Older files say add_prefix_space instead.
 */
function metaspaceStep(json: Record<string, unknown>, w: Where): PreTokenizeStep {
  const replacement = str(json, 'replacement', w, '▁');
  let scheme: string;
  if (json['prepend_scheme'] !== undefined) {
    scheme = str(json, 'prepend_scheme', w);
    if (!['first', 'always', 'never'].includes(scheme)) fail(at(w, 'prepend_scheme'), `is ${JSON.stringify(scheme)}; expected first, always or never`);
  } else {
    scheme = bool(json, 'add_prefix_space', w, true) ? 'always' : 'never';
  }
  const split = bool(json, 'split', w, true);
  return (text, start, end, atStart, emit) => {
    let s = text.slice(start, end).replaceAll(' ', replacement);
    if ((scheme === 'always' || (scheme === 'first' && atStart)) && !s.startsWith(replacement)) s = replacement + s;
    if (!split) {
      if (s.length > 0) emit(s, 0, s.length, atStart);
      return;
    }
    // Each replacement character begins a piece (HF: split on it, MergedWithNext).
    let pieceStart = 0;
    for (let i = s.indexOf(replacement, 1); i >= 0; i = s.indexOf(replacement, i + replacement.length)) {
      emit(s, pieceStart, i, atStart && pieceStart === 0);
      pieceStart = i;
    }
    if (pieceStart < s.length) emit(s, pieceStart, s.length, atStart && pieceStart === 0);
  };
}

/** ByteLevel's text part: an optional leading space, then GPT-2's regex (scanner.ts). */
function byteLevelStep(addPrefixSpace: boolean, useRegex: boolean): PreTokenizeStep {
  return (text, start, end, atStart, emit) => {
    let t = text;
    let a = start;
    let b = end;
    if (addPrefixSpace && text[start] !== ' ') {
      t = ' ' + text.slice(start, end);
      a = 0;
      b = t.length;
    }
    if (!useRegex) {
      if (b > a) emit(t, a, b, atStart);
      return;
    }
    for (let i = a; i < b; ) {
      const e = wordEnd(t, i, b);
      emit(t, i, e, atStart && i === a);
      i = e;
    }
  };
}
