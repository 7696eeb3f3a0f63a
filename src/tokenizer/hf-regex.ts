// Regexes in tokenizer.json (Split pre-tokenizers, Replace normalizers and decoders) are run by HF
// tokenizers with Oniguruma. This translates them into JavaScript regexes with the `u` flag, with
// Oniguruma's meaning (checked against HF tokenizers in hf-regex.test.ts):
//
// - `\s` is Unicode White_Space, so it becomes \p{White_Space} (JavaScript's \s adds U+FEFF and
//   lacks U+0085); `\S` likewise; `\d` is \p{Nd}; `\h` is a hex digit.
// - Scoped flags `(?i:...)` and `(?i)` (Llama 3 and Qwen write contractions as (?i:'s|'t|...))
//   do not exist in Node 20's engine: under `i`, each letter becomes a class of the characters it
//   case-folds with ('s' → [sSſ], 'k' → [kKK]). Oniguruma also folds across characters
//   ((?i:ss) matches 'ß'); a caseless literal where that can happen is refused rather than
//   translated wrongly (the contractions of real patterns never have it).
// - Possessive quantifiers `X*+` `X++` `X?+` and atomic groups `(?>X)` become a lookahead that
//   captures plus a backreference, `(?=(?<aN>X*))\k<aN>`, which matches the same text and never
//   backtracks into it. `X{n,m}+` is not possessive in Oniguruma's Ruby syntax: it repeats
//   X{n,m}, and is translated that way.
// - `^` and `$` match at line starts and ends (Oniguruma's default); `.` excludes only \n; `\A`,
//   `\z`, `\Z` anchor at the text's ends.
// - `\p{Han}` (a script without `Script=`) and `\p{^L}` (negation) are accepted.
// Constructs without a faithful translation are refused with an error naming them: `\w`, `\b`
// (Oniguruma's word class differs from every JavaScript one), backreferences, nested classes and
// class intersections, POSIX brackets, \R, \X, \K, \G and flags other than i.

export class UnsupportedRegexError extends Error {
  constructor(pattern: string, problem: string) {
    super(`regex ${JSON.stringify(pattern)}: ${problem}`);
    this.name = 'UnsupportedRegexError';
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\\n', r: '\\r', t: '\\t', f: '\\f', v: '\\v', a: '\\x07', e: '\\x1B' };
/** Shorthand classes: on their own, and inside [...] (null: not expressible there). */
const CLASS_ESCAPES: Record<string, { atom: string; inClass: string | null }> = {
  s: { atom: '\\p{White_Space}', inClass: '\\p{White_Space}' },
  S: { atom: '\\P{White_Space}', inClass: '\\P{White_Space}' },
  d: { atom: '\\p{Nd}', inClass: '\\p{Nd}' },
  D: { atom: '\\P{Nd}', inClass: '\\P{Nd}' },
  h: { atom: '[0-9A-Fa-f]', inClass: '0-9A-Fa-f' },
  H: { atom: '[^0-9A-Fa-f]', inClass: null },
};
const REFUSED_ESCAPES: Record<string, string> = {
  w: "\\w (Oniguruma's word class matches characters no JavaScript class does)",
  W: "\\W (Oniguruma's word class matches characters no JavaScript class does)",
  b: '\\b (word boundaries use the word class \\w)',
  B: '\\B (word boundaries use the word class \\w)',
  R: '\\R (line break sequences)',
  X: '\\X (grapheme clusters)',
  K: '\\K (keep)',
  G: '\\G (match start anchor)',
  k: 'backreferences',
  g: 'subexpression calls',
};
/** Characters that must be escaped to be literal in a `u`-mode regex (outside a class). */
const SYNTAX = new Set('^$\\.*+?()[]{}|/');

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/** Literal code point, escaped where the u-flag syntax needs it. */
function literal(cp: number, inClass: boolean): string {
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp === 0x2028 || cp === 0x2029) return hex(cp);
  const ch = String.fromCodePoint(cp);
  if (inClass) return ch === '\\' || ch === ']' || ch === '[' || ch === '^' || ch === '-' ? `\\${ch}` : ch;
  return SYNTAX.has(ch) ? `\\${ch}` : ch;
}

let foldGroups: Map<string, number[]> | null = null;

/** Key shared by characters that are the same ignoring case: lower(upper(c)) when both map to one code point. */
function foldKey(cp: number): string {
  const c = String.fromCodePoint(cp);
  const up = c.toUpperCase();
  const key = [...up].length === 1 ? up.toLowerCase() : c.toLowerCase();
  return [...key].length === 1 ? key : c;
}

/** Code points that match `cp` case-insensitively (itself included). */
export function caseVariants(cp: number): number[] {
  if (foldGroups === null) {
    foldGroups = new Map();
    for (let c = 0; c < 0x20000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const s = String.fromCodePoint(c);
      if (s.toLowerCase() === s && s.toUpperCase() === s) continue; // caseless
      const key = foldKey(c);
      const g = foldGroups.get(key);
      if (g) g.push(c);
      else foldGroups.set(key, [c]);
    }
  }
  const group = foldGroups.get(foldKey(cp)) ?? [cp];
  const self = new RegExp(`^${literal(cp, false)}$`, 'iu');
  const out = group.filter((c) => self.test(String.fromCodePoint(c)));
  if (!out.includes(cp)) out.unshift(cp);
  return out;
}

/** Full case folding of a code point, as near as JavaScript gives it: lower(upper(c)). */
function fullFold(cp: number): string {
  const c = String.fromCodePoint(cp);
  return c.toUpperCase().toLowerCase();
}

let multiFolds: Map<string, string> | null = null;

/** Folded forms longer than one character, each with a character that has it ('ss' ← 'ß', 'fi' ← 'ﬁ'). */
function multiCharFolds(): Map<string, string> {
  if (multiFolds === null) {
    multiFolds = new Map();
    for (let c = 0; c < 0x20000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const f = fullFold(c);
      if ([...f].length > 1 && !multiFolds.has(f)) multiFolds.set(f, String.fromCodePoint(c));
    }
  }
  return multiFolds;
}

/** \p{name} for an Oniguruma property name: General_Category values and binary properties as they are, scripts as Script=name. */
function property(name: string, negated: boolean, pattern: string): string {
  let neg = negated;
  let n = name;
  if (n.startsWith('^')) {
    neg = !neg;
    n = n.slice(1);
  }
  for (const candidate of [n, `Script=${n}`]) {
    try {
      new RegExp(`\\p{${candidate}}`, 'u');
      return `\\${neg ? 'P' : 'p'}{${candidate}}`;
    } catch {
      // not this kind of property
    }
  }
  throw new UnsupportedRegexError(pattern, `unknown Unicode property \\p{${name}}`);
}

class Translator {
  pos = 0;
  private atomics = 0;
  /** Code points of the caseless literal run being read, and whether the last atom extended it. */
  private caselessRun: number[] = [];
  private lastWasCaselessLiteral = false;

  constructor(private readonly src: string) {}

  fail(problem: string): never {
    throw new UnsupportedRegexError(this.src, `${problem} (at offset ${this.pos})`);
  }

  /** Alternatives up to the end of the group (the closing ')' is left for the caller). */
  alternation(ci: boolean): string {
    let out = '';
    let atomStart = 0;
    let canQuantify = false;
    let flagsOn = ci;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos]!;
      if (ch === ')') break;
      if (!this.lastWasCaselessLiteral || '|*+?{'.includes(ch)) this.endCaselessRun();
      this.lastWasCaselessLiteral = false;
      if (ch === '|') {
        this.pos++;
        out += '|';
        canQuantify = false;
        continue;
      }
      if ('*+?{'.includes(ch) && canQuantify) {
        const q = this.quantifier();
        if (q !== null) {
          out = out.slice(0, atomStart) + this.applyQuantifier(out.slice(atomStart), q);
          canQuantify = false;
          continue;
        }
      }
      if (ch === '(' && this.src.startsWith('(?', this.pos)) {
        const inline = /^\(\?(-?[a-zA-Z]+)(?:-([a-zA-Z]+))?\)/.exec(this.src.slice(this.pos));
        if (inline) {
          // (?i) turns the flag on up to the end of the enclosing group, alternatives included.
          this.pos += inline[0].length;
          flagsOn = this.flags(inline[1]!, inline[2], flagsOn);
          out += `(?:${this.alternation(flagsOn)})`;
          break;
        }
      }
      atomStart = out.length;
      out += this.atom(flagsOn);
      canQuantify = true;
    }
    this.endCaselessRun();
    return out;
  }

  /** Refuses a caseless literal run that Oniguruma could match across characters (ß = ss). */
  private endCaselessRun(): void {
    const run = this.caselessRun;
    this.caselessRun = [];
    if (run.length === 0) return;
    const folded = String.fromCodePoint(...run.flatMap((cp) => [...fullFold(cp)].map((c) => c.codePointAt(0)!)));
    for (const [fold, char] of multiCharFolds()) {
      if (folded.includes(fold)) {
        this.fail(`(?i) on ${JSON.stringify(String.fromCodePoint(...run))} is not supported: Oniguruma matches it across characters (${JSON.stringify(fold)} also matches ${JSON.stringify(char)})`);
      }
    }
  }

  /** Applies the flags of `(?on-off)`; only i is supported. */
  private flags(on: string, off: string | undefined, current: boolean): boolean {
    let ci = current;
    let turnOff = off ?? '';
    let turnOn = on;
    if (turnOn.startsWith('-')) {
      turnOff = turnOn.slice(1);
      turnOn = '';
    }
    for (const f of turnOn + turnOff) if (f !== 'i') this.fail(`flag ${f} is not supported (only i)`);
    if (turnOn.includes('i')) ci = true;
    if (turnOff.includes('i')) ci = false;
    return ci;
  }

  /** A quantifier at pos: '*', '+', '?', '{n}', '{n,}', '{n,m}', '{,m}', with its suffix; null if '{' is literal. */
  private quantifier(): { base: string; interval: boolean; suffix: '' | '?' | '+' } | null {
    const rest = this.src.slice(this.pos);
    let base: string;
    let interval = false;
    const m = /^\{(\d*)(,?)(\d*)\}/.exec(rest);
    if (rest[0] === '{') {
      if (!m || (m[1] === '' && m[3] === '')) return null;
      base = m[1] === '' ? `{0,${m[3]}}` : m[0];
      interval = true;
      this.pos += m[0].length;
    } else {
      base = rest[0]!;
      this.pos++;
    }
    const next = this.src[this.pos];
    let suffix: '' | '?' | '+' = '';
    if (next === '?' || next === '+') {
      suffix = next;
      this.pos++;
    }
    return { base, interval, suffix };
  }

  private applyQuantifier(atom: string, q: { base: string; interval: boolean; suffix: '' | '?' | '+' }): string {
    if (q.suffix === '+') {
      // X{n,m}+ repeats X{n,m} in Oniguruma's Ruby syntax; X*+, X++ and X?+ are possessive.
      if (q.interval) return `(?:${atom}${q.base})+`;
      return this.atomic(`${atom}${q.base}`);
    }
    return `${atom}${q.base}${q.suffix}`;
  }

  private atomic(body: string): string {
    const name = `a${this.atomics++}`;
    return `(?:(?=(?<${name}>${body}))\\k<${name}>)`;
  }

  private atom(ci: boolean): string {
    const ch = this.src.codePointAt(this.pos)!;
    const c = String.fromCodePoint(ch);
    switch (c) {
      case '(':
        return this.group(ci);
      case '[':
        return this.charClass(ci);
      case '\\':
        return this.escape(ci, false);
      case '.':
        this.pos++;
        return '[^\\n]';
      case '^':
        this.pos++;
        return '(?<![^\\n])';
      case '$':
        this.pos++;
        return '(?![^\\n])';
      default:
        this.pos += c.length;
        return this.literalAtom(ch, ci);
    }
  }

  private literalAtom(cp: number, ci: boolean): string {
    if (!ci) return literal(cp, false);
    this.caselessRun.push(cp);
    this.lastWasCaselessLiteral = true;
    const variants = caseVariants(cp);
    return variants.length === 1 ? literal(cp, false) : `[${variants.map((v) => literal(v, true)).join('')}]`;
  }

  private group(ci: boolean): string {
    const rest = this.src.slice(this.pos);
    let open: string;
    let inner = ci;
    let atomic = false;
    if (rest.startsWith('(?#')) {
      const end = this.src.indexOf(')', this.pos);
      if (end < 0) this.fail('unterminated comment');
      this.pos = end + 1;
      return '';
    }
    const scoped = /^\(\?(-?[a-zA-Z]*)(?:-([a-zA-Z]+))?:/.exec(rest);
    if (rest.startsWith('(?:')) open = '(?:';
    else if (rest.startsWith('(?=') || rest.startsWith('(?!')) open = rest.slice(0, 3);
    else if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) open = rest.slice(0, 4);
    else if (rest.startsWith('(?>')) {
      open = '(?>';
      atomic = true;
    } else if (/^\(\?<[A-Za-z_]\w*>/.test(rest) || /^\(\?'[A-Za-z_]\w*'/.test(rest)) {
      open = /^\(\?[<'][A-Za-z_]\w*[>']/.exec(rest)![0]; // named group: captures are not used, so it is just a group
    } else if (scoped) {
      open = scoped[0];
      inner = this.flags(scoped[1]!, scoped[2], ci);
    } else if (rest.startsWith('(?')) {
      this.fail(`group ${rest.slice(0, 4)}… is not supported`);
    } else open = '(';
    this.pos += open.length;
    const body = this.alternation(inner);
    if (this.src[this.pos] !== ')') this.fail('missing )');
    this.pos++;
    if (atomic) return this.atomic(body);
    if (open === '(?=' || open === '(?!' || open === '(?<=' || open === '(?<!') return `${open}${body})`;
    return `(?:${body})`;
  }

  /** An escape at pos; inside a class it returns class-body text. */
  private escape(ci: boolean, inClass: boolean): string {
    const c = this.src[this.pos + 1];
    if (c === undefined) this.fail('pattern ends with \\');
    const cls = CLASS_ESCAPES[c];
    if (cls) {
      if (!inClass) {
        this.pos += 2;
        return cls.atom;
      }
      if (cls.inClass === null) this.fail(`\\${c} inside a class is not supported`);
      this.pos += 2;
      return cls.inClass;
    }
    if (c === 'p' || c === 'P') {
      const m = /^\\[pP]\{(\^?[A-Za-z_ =-]+)\}/.exec(this.src.slice(this.pos));
      if (!m) this.fail(`malformed \\${c}{...}`);
      this.pos += m[0].length;
      return property(m[1]!.replace(/ /g, '_'), c === 'P', this.src);
    }
    if (c === 'x' || c === 'u') {
      const m = c === 'x' ? /^\\x(?:\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{1,2}))/.exec(this.src.slice(this.pos)) : /^\\u([0-9A-Fa-f]{4})/.exec(this.src.slice(this.pos));
      if (!m) this.fail(`malformed \\${c} escape`);
      this.pos += m[0].length;
      const cp = parseInt(m[1] ?? m[2]!, 16);
      return inClass || !ci ? hex(cp) : this.literalAtom(cp, ci);
    }
    if (c === 'A' || c === 'z' || c === 'Z') {
      if (inClass) this.fail(`\\${c} inside a class`);
      this.pos += 2;
      return c === 'A' ? '(?<![\\s\\S])' : c === 'z' ? '(?![\\s\\S])' : '(?=\\n?(?![\\s\\S]))';
    }
    if (SIMPLE_ESCAPES[c]) {
      this.pos += 2;
      return SIMPLE_ESCAPES[c];
    }
    if (REFUSED_ESCAPES[c]) this.fail(`${REFUSED_ESCAPES[c]} is not supported`);
    if (/[0-9]/.test(c)) this.fail('backreferences and octal escapes are not supported');
    if (/[A-Za-z]/.test(c)) this.fail(`unknown escape \\${c}`);
    const cp = this.src.codePointAt(this.pos + 1)!;
    this.pos += 1 + String.fromCodePoint(cp).length;
    return inClass ? literal(cp, true) : this.literalAtom(cp, ci);
  }

  private charClass(ci: boolean): string {
    this.pos++; // [
    let negated = false;
    if (this.src[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    let body = '';
    let first = true;
    for (;;) {
      if (this.pos >= this.src.length) this.fail('missing ]');
      const c = this.src[this.pos]!;
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === '[') this.fail('nested classes and POSIX brackets ([:alpha:]) are not supported');
      if (c === '&' && this.src[this.pos + 1] === '&') this.fail('class intersection (&&) is not supported');
      if (c === '\\') {
        const before = this.pos;
        const item = this.escape(ci, true);
        // A single escaped character can start a range; shorthand classes cannot.
        const single = this.singleCodePoint(before, this.pos);
        body += single !== null ? this.rangeFrom(single, ci) : item;
        continue;
      }
      const cp = this.src.codePointAt(this.pos)!;
      this.pos += String.fromCodePoint(cp).length;
      body += this.rangeFrom(cp, ci);
    }
    return `[${negated ? '^' : ''}${body}]`;
  }

  /** The code point an escape between `from` and `to` stands for, when it is one character. */
  private singleCodePoint(from: number, to: number): number | null {
    const text = this.src.slice(from, to);
    const simple: Record<string, number> = { '\\n': 10, '\\r': 13, '\\t': 9, '\\f': 12, '\\v': 11, '\\a': 7, '\\e': 27 };
    if (simple[text] !== undefined) return simple[text];
    const m = /^\\(?:x\{([0-9A-Fa-f]+)\}|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4}))$/.exec(text);
    if (m) return parseInt(m[1] ?? m[2] ?? m[3]!, 16);
    if (/^\\[^A-Za-z0-9]/u.test(text)) return text.codePointAt(1)!;
    return null;
  }

  /** Class body text for `lo` or a range lo-hi starting at pos, with case variants under i. */
  private rangeFrom(lo: number, ci: boolean): string {
    let hi = lo;
    if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']' && this.pos + 1 < this.src.length) {
      this.pos++;
      if (this.src[this.pos] === '\\') {
        const before = this.pos;
        this.escape(ci, true);
        const single = this.singleCodePoint(before, this.pos);
        if (single === null) this.fail('a range must end in a single character');
        hi = single;
      } else {
        hi = this.src.codePointAt(this.pos)!;
        this.pos += String.fromCodePoint(hi).length;
      }
      if (hi < lo) this.fail('range out of order');
    }
    const base = lo === hi ? literal(lo, true) : `${literal(lo, true)}-${literal(hi, true)}`;
    if (!ci) return base;
    if (hi - lo > 2000) this.fail('a large range under (?i) is not supported');
    let extra = '';
    for (let cp = lo; cp <= hi; cp++) {
      if ([...fullFold(cp)].length > 1) this.fail(`(?i) on ${JSON.stringify(String.fromCodePoint(cp))} in a class is not supported: it folds to several characters`);
      for (const v of caseVariants(cp)) if (v < lo || v > hi) extra += literal(v, true);
    }
    return base + extra;
  }
}

/** The JavaScript source (for the `u` flag) of an Oniguruma regex from a tokenizer.json. */
export function translateOnigRegex(pattern: string): string {
  const t = new Translator(pattern);
  const out = t.alternation(false);
  if (t.pos < pattern.length) t.fail('unbalanced )');
  try {
    new RegExp(out, 'u');
  } catch (e) {
    throw new UnsupportedRegexError(pattern, `could not be translated (${(e as Error).message})`);
  }
  return out;
}

/** A global (`gu`) RegExp for an Oniguruma pattern. */
export function onigRegex(pattern: string): RegExp {
  return new RegExp(translateOnigRegex(pattern), 'gu');
}

/** A global RegExp matching `text` literally (a {"String": ...} pattern). */
export function literalRegex(text: string): RegExp {
  let src = '';
  for (const ch of text) src += literal(ch.codePointAt(0)!, false);
  return new RegExp(src, 'gu');
}
