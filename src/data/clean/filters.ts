// Line- and document-level quality filters in the spirit of Gopher (Rae et al. 2021, appendix A),
// C4 (Raffel et al. 2020, section 2.2) and FineWeb (Penedo et al. 2024, section 3). Every filter
// has a name, the paper its rule and default threshold come from, and thresholds that a JSON
// config can override (`genlab data clean --config FILE`; `--print-config` prints the defaults).
// Line filters drop single lines (boilerplate); document filters drop whole documents and say
// why, with the measured value, so the report can show a person what was removed and why.

import { normalizedWords, splitLines, splitParagraphs, splitWords } from './normalize.ts';
import { duplicateNgramCharFraction, duplicateStats, ngramContext, topNgramCharFraction, type NgramContext } from './repetition.ts';

export interface FilterInfo {
  name: string;
  kind: 'line' | 'document';
  /** Where the rule and its default thresholds come from. */
  source: string;
  description: string;
}

// ------------------------------------------------------------------ configuration

export const GOPHER = 'Gopher (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training Gopher", app. A.1.1)';
export const GOPHER_REP = 'Gopher repetition filter (Rae et al. 2021, app. A, table A1)';
export const C4 = 'C4 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning ...", sec. 2.2)';
export const FINEWEB = 'FineWeb (Penedo et al. 2024, "The FineWeb Datasets", sec. 3.3 custom filters)';

/** The default thresholds; `mergeFilterConfig` validates overrides against this shape. */
export function defaultFilterConfig() {
  return {
    lines: {
      boilerplate: {
        enabled: true,
        /** Only lines with at most this many words: a long paragraph that mentions a policy is prose. */
        maxWords: 25,
        /** Case-insensitive substrings. C4's policy list plus common navigation/footer phrases. */
        phrases: [
          'terms of use', 'privacy policy', 'cookie policy', 'uses cookies', 'use of cookies', 'use cookies',
          'all rights reserved', 'click here', 'subscribe to our', 'sign up for our', 'share this', 'follow us on',
          'skip to main content', 'back to top', 'powered by', 'log in to', 'sign in to', 'read more »', 'unsubscribe',
        ],
      },
      javascript: { enabled: true },
      /** RFC 5322 header lines (and their indented continuations) of raw e-mail and mbox files. */
      mailHeaders: {
        enabled: true,
        names: [
          'from', 'to', 'cc', 'bcc', 'subject', 'date', 'reply-to', 'sender', 'return-path', 'received', 'message-id',
          'in-reply-to', 'references', 'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition',
          'content-length', 'delivered-to', 'delivery-date', 'errors-to', 'precedence', 'importance', 'priority',
          'organization', 'user-agent', 'status', 'lines', 'thread-index', 'thread-topic',
        ],
        /** Any header starting with one of these (X-Mailer, List-Id, Resent-From, ...). */
        prefixes: ['x-', 'list-', 'resent-'],
      },
      /** Menus: at least minItems short items (at most maxItemWords words) separated by | · » or •. */
      navigation: { enabled: true, minItems: 3, maxItemWords: 4 },
      terminalPunctuation: { enabled: false },
      minWords: { enabled: false, min: 5 },
    },
    documents: {
      loremIpsum: { enabled: true },
      curlyBrace: { enabled: true },
      wordCount: { enabled: true, min: 50, max: 100_000 },
      meanWordLength: { enabled: true, min: 3, max: 10 },
      symbolRatio: { enabled: true, max: 0.1 },
      alphaWords: { enabled: true, min: 0.8 },
      stopWords: { enabled: true, min: 2, words: ['the', 'be', 'to', 'of', 'and', 'that', 'have', 'with'] },
      bulletLines: { enabled: true, max: 0.9 },
      ellipsisLines: { enabled: true, max: 0.3 },
      /** minLines (genlab): a ratio over one or two lines says nothing (one-paragraph documents). */
      lineEndPunctuation: { enabled: true, min: 0.12, minLines: 3 },
      shortLines: { enabled: true, maxChars: 30, max: 0.67, minLines: 3 },
      duplicateLines: { enabled: true, max: 0.3, maxChars: 0.2 },
      duplicateParagraphs: { enabled: true, max: 0.3, maxChars: 0.2 },
      topNgrams: { enabled: true, max: { '2': 0.2, '3': 0.18, '4': 0.16 } as Record<string, number> },
      duplicateNgrams: { enabled: true, max: { '5': 0.15, '6': 0.14, '7': 0.13, '8': 0.12, '9': 0.11, '10': 0.1 } as Record<string, number> },
    },
  };
}

export type FilterConfig = ReturnType<typeof defaultFilterConfig>;

export const LINE_FILTERS: readonly FilterInfo[] = [
  { name: 'boilerplate', kind: 'line', source: `${C4}: policy lines; navigation/footer phrases added by genlab`, description: 'short lines containing a boilerplate phrase (cookie/privacy notices, "all rights reserved", "click here", ...)' },
  { name: 'javascript', kind: 'line', source: C4, description: 'lines containing the word "javascript" (browser warnings)' },
  { name: 'mailHeaders', kind: 'line', source: 'genlab (RFC 5322 header syntax)', description: 'e-mail header lines ("Received: ...", "X-Mailer: ...", mbox "From " lines) and their indented continuation lines' },
  { name: 'navigation', kind: 'line', source: 'genlab (menu lines, in the spirit of jusText\'s link-density rule)', description: 'menu lines: several short items separated by "|", "·", "»" or "•"' },
  { name: 'terminalPunctuation', kind: 'line', source: C4, description: 'lines not ending in terminal punctuation (off by default: it destroys hard-wrapped text such as books and e-mails)' },
  { name: 'minWords', kind: 'line', source: C4, description: 'lines with fewer than min words (off by default: it removes headings and list items)' },
];

export const DOCUMENT_FILTERS: readonly FilterInfo[] = [
  { name: 'loremIpsum', kind: 'document', source: C4, description: 'contains "lorem ipsum" placeholder text' },
  { name: 'curlyBrace', kind: 'document', source: C4, description: 'contains a curly bracket "{" (code, CSS, templates)' },
  { name: 'wordCount', kind: 'document', source: GOPHER, description: 'fewer than min or more than max words' },
  { name: 'meanWordLength', kind: 'document', source: GOPHER, description: 'mean word length outside [min, max] characters' },
  { name: 'symbolRatio', kind: 'document', source: GOPHER, description: 'ratio of "#" or of ellipses ("..." / "…") to words above max' },
  { name: 'alphaWords', kind: 'document', source: GOPHER, description: 'fewer than min of the words contain a letter' },
  { name: 'stopWords', kind: 'document', source: GOPHER, description: 'fewer than min distinct English stop words (the, be, to, of, and, that, have, with)' },
  { name: 'bulletLines', kind: 'document', source: GOPHER, description: 'more than max of the lines start with a bullet' },
  { name: 'ellipsisLines', kind: 'document', source: GOPHER, description: 'more than max of the lines end with an ellipsis' },
  { name: 'lineEndPunctuation', kind: 'document', source: FINEWEB, description: 'fewer than min of the lines end in punctuation (documents with at least minLines lines)' },
  { name: 'shortLines', kind: 'document', source: FINEWEB, description: 'more than max of the lines are shorter than maxChars characters (documents with at least minLines lines)' },
  { name: 'duplicateLines', kind: 'document', source: GOPHER_REP, description: 'repeated lines: more than max of the lines, or more than maxChars of the characters' },
  { name: 'duplicateParagraphs', kind: 'document', source: GOPHER_REP, description: 'repeated paragraphs: more than max of the paragraphs, or more than maxChars of the characters' },
  { name: 'topNgrams', kind: 'document', source: GOPHER_REP, description: 'the most frequent n-gram (n = 2, 3, 4) covers more than max[n] of the characters' },
  { name: 'duplicateNgrams', kind: 'document', source: GOPHER_REP, description: 'repeated n-grams (n = 5 ... 10) cover more than max[n] of the characters' },
];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep-merges `override` into `base`, rejecting keys the base does not have and values of another
 * type, so a typo in a config file is an error rather than a silently ignored setting. Objects
 * typed Record<string, number> (n-gram thresholds) accept new numeric keys.
 */
export function mergeConfig<T>(base: T, override: unknown, where: string, openKeys: ReadonlySet<string> = new Set()): T {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) {
    throw new Error(`${where}: expected an object, got ${JSON.stringify(override)}`);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) {
    const path = `${where}.${k}`;
    if (!(k in base)) {
      if (openKeys.has(where) && typeof v === 'number') {
        out[k] = v;
        continue;
      }
      throw new Error(`${path} is not a setting; valid keys at ${where}: ${Object.keys(base).join(', ')}`);
    }
    const cur = (base as Record<string, unknown>)[k];
    if (isPlainObject(cur)) out[k] = mergeConfig(cur, v, path, openKeys);
    else if (Array.isArray(cur)) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === typeof cur[0])) throw new Error(`${path} must be an array of ${typeof cur[0]}s, got ${JSON.stringify(v)}`);
      out[k] = v;
    } else {
      if (typeof v !== typeof cur) throw new Error(`${path} must be a ${typeof cur}, got ${JSON.stringify(v)}`);
      out[k] = v;
    }
  }
  return out as T;
}

export function mergeFilterConfig(override: unknown, where = 'filters'): FilterConfig {
  return mergeConfig(defaultFilterConfig(), override, where, new Set([`${where}.documents.topNgrams.max`, `${where}.documents.duplicateNgrams.max`]));
}

// ------------------------------------------------------------------ line filters

export interface LineRemoval {
  filter: string;
  line: string;
}

/** Compiled line filters: `apply` returns the kept text and the removed lines with their filter. */
export function compileLineFilters(c: FilterConfig['lines']): (text: string) => { text: string; removed: LineRemoval[] } {
  const phrases = c.boilerplate.phrases.map((p) => p.toLowerCase());
  const TERMINAL = /[.!?"'”’)\]:;]$/;
  const checks: { name: string; test: (line: string, lower: string, words: number) => boolean }[] = [];
  if (c.boilerplate.enabled) checks.push({ name: 'boilerplate', test: (_l, lower, words) => words <= c.boilerplate.maxWords && phrases.some((p) => lower.includes(p)) });
  if (c.javascript.enabled) checks.push({ name: 'javascript', test: (_l, lower) => lower.includes('javascript') });
  if (c.navigation.enabled) {
    checks.push({
      name: 'navigation',
      test: (l) => {
        const items = l.split(/\s*[|·»•]\s*/).filter((x) => x !== '');
        return items.length >= c.navigation.minItems && items.every((x) => splitWords(x).length <= c.navigation.maxItemWords);
      },
    });
  }
  if (c.terminalPunctuation.enabled) checks.push({ name: 'terminalPunctuation', test: (l) => !TERMINAL.test(l.trimEnd()) });
  if (c.minWords.enabled) checks.push({ name: 'minWords', test: (_l, _lower, words) => words < c.minWords.min });
  const headerNames = new Set(c.mailHeaders.names.map((n) => n.toLowerCase()));
  const headerPrefixes = c.mailHeaders.prefixes.map((p) => p.toLowerCase());
  const HEADER = /^([A-Za-z][A-Za-z0-9-]{0,60}):(?: |$)/;
  const MBOX_FROM = /^From \S+ +\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4}$/;
  const isHeader = (line: string): boolean => {
    if (MBOX_FROM.test(line)) return true;
    const m = HEADER.exec(line);
    if (m === null) return false;
    const name = m[1]!.toLowerCase();
    return headerNames.has(name) || headerPrefixes.some((p) => name.startsWith(p));
  };
  return (text) => {
    if (checks.length === 0 && !c.mailHeaders.enabled) return { text, removed: [] };
    const removed: LineRemoval[] = [];
    const kept: string[] = [];
    let inHeader = false;
    for (const line of text.split('\n')) {
      if (line.trim() === '') {
        inHeader = false;
        kept.push(line);
        continue;
      }
      if (c.mailHeaders.enabled) {
        // Folded header values continue on lines that start with whitespace.
        inHeader = isHeader(line) || (inHeader && /^\s/.test(line));
        if (inHeader) {
          removed.push({ filter: 'mailHeaders', line });
          continue;
        }
      }
      const lower = line.toLowerCase();
      const words = splitWords(line).length;
      const hit = checks.find((ch) => ch.test(line, lower, words));
      if (hit) removed.push({ filter: hit.name, line });
      else kept.push(line);
    }
    if (removed.length === 0) return { text, removed };
    return { text: kept.join('\n').replace(/\n{3,}/g, '\n\n').trim(), removed };
  };
}

// ------------------------------------------------------------------ document filters

/** Per-document measurements, computed on first use and shared by the filters. */
class DocView {
  private _words?: string[];
  private _lines?: string[];
  private _paragraphs?: string[];
  private _ngrams?: NgramContext;
  constructor(readonly text: string) {}
  get words(): string[] {
    return (this._words ??= splitWords(this.text));
  }
  get lines(): string[] {
    return (this._lines ??= splitLines(this.text).map((l) => l.trim()));
  }
  get paragraphs(): string[] {
    return (this._paragraphs ??= splitParagraphs(this.text));
  }
  get ngrams(): NgramContext {
    return (this._ngrams ??= ngramContext(normalizedWords(this.text)));
  }
}

export interface DocumentVerdict {
  filter: string;
  /** The measured value against the threshold, e.g. "mean word length 2.10 < 3". */
  detail: string;
}

const BULLETS = /^[•●○■□▪▫◦‣⁃∙·*\-–—]/u;
const ELLIPSIS = /(\.\.\.|…)$/;
const LINE_END_PUNCT = /[.!?"'”’)\]:;,]$/;
const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(3));

type Check = { name: string; run: (d: DocView) => string | null };

/** Compiled document filters: the first filter that rejects a document names the reason. */
export function compileDocumentFilters(c: FilterConfig['documents']): (text: string) => DocumentVerdict | null {
  const checks: Check[] = [];
  const add = (name: keyof FilterConfig['documents'], run: Check['run']): void => {
    if (c[name].enabled) checks.push({ name, run });
  };
  const ratio = (n: number, d: number): number => (d === 0 ? 0 : n / d);
  add('loremIpsum', (d) => (/lorem ipsum/i.test(d.text) ? 'contains "lorem ipsum"' : null));
  add('curlyBrace', (d) => (d.text.includes('{') ? 'contains "{"' : null));
  add('wordCount', (d) => {
    const n = d.words.length;
    return n < c.wordCount.min ? `${n} words < ${c.wordCount.min}` : n > c.wordCount.max ? `${n} words > ${c.wordCount.max}` : null;
  });
  add('meanWordLength', (d) => {
    let chars = 0;
    for (const w of d.words) chars += w.length;
    const m = ratio(chars, d.words.length);
    return m < c.meanWordLength.min ? `mean word length ${fmt(m)} < ${c.meanWordLength.min}` : m > c.meanWordLength.max ? `mean word length ${fmt(m)} > ${c.meanWordLength.max}` : null;
  });
  add('symbolRatio', (d) => {
    const hashes = (d.text.match(/#/g) ?? []).length;
    const ellipses = (d.text.match(/\.\.\.|…/g) ?? []).length;
    const n = Math.max(1, d.words.length);
    if (hashes / n > c.symbolRatio.max) return `"#" per word ${fmt(hashes / n)} > ${c.symbolRatio.max}`;
    if (ellipses / n > c.symbolRatio.max) return `ellipses per word ${fmt(ellipses / n)} > ${c.symbolRatio.max}`;
    return null;
  });
  add('alphaWords', (d) => {
    let alpha = 0;
    for (const w of d.words) if (/\p{L}/u.test(w)) alpha++;
    const f = ratio(alpha, d.words.length);
    return f < c.alphaWords.min ? `${fmt(f)} of words contain a letter < ${c.alphaWords.min}` : null;
  });
  const stop = new Set(c.stopWords.words.map((w) => w.toLowerCase()));
  add('stopWords', (d) => {
    const found = new Set<string>();
    for (const w of d.ngrams.words) if (stop.has(w)) found.add(w);
    return found.size < c.stopWords.min ? `${found.size} distinct stop words < ${c.stopWords.min}` : null;
  });
  add('bulletLines', (d) => {
    const f = ratio(d.lines.filter((l) => BULLETS.test(l)).length, d.lines.length);
    return f > c.bulletLines.max ? `${fmt(f)} of lines start with a bullet > ${c.bulletLines.max}` : null;
  });
  add('ellipsisLines', (d) => {
    const f = ratio(d.lines.filter((l) => ELLIPSIS.test(l)).length, d.lines.length);
    return f > c.ellipsisLines.max ? `${fmt(f)} of lines end with an ellipsis > ${c.ellipsisLines.max}` : null;
  });
  add('lineEndPunctuation', (d) => {
    if (d.lines.length < c.lineEndPunctuation.minLines) return null;
    const f = ratio(d.lines.filter((l) => LINE_END_PUNCT.test(l)).length, d.lines.length);
    return f < c.lineEndPunctuation.min ? `${fmt(f)} of lines end in punctuation < ${c.lineEndPunctuation.min}` : null;
  });
  add('shortLines', (d) => {
    if (d.lines.length < c.shortLines.minLines) return null;
    const f = ratio(d.lines.filter((l) => l.length < c.shortLines.maxChars).length, d.lines.length);
    return f > c.shortLines.max ? `${fmt(f)} of lines are shorter than ${c.shortLines.maxChars} characters > ${c.shortLines.max}` : null;
  });
  add('duplicateLines', (d) => {
    const s = duplicateStats(d.lines);
    if (s.fraction > c.duplicateLines.max) return `${fmt(s.fraction)} of lines are repeats > ${c.duplicateLines.max}`;
    if (s.charFraction > c.duplicateLines.maxChars) return `${fmt(s.charFraction)} of characters are in repeated lines > ${c.duplicateLines.maxChars}`;
    return null;
  });
  add('duplicateParagraphs', (d) => {
    const s = duplicateStats(d.paragraphs);
    if (s.fraction > c.duplicateParagraphs.max) return `${fmt(s.fraction)} of paragraphs are repeats > ${c.duplicateParagraphs.max}`;
    if (s.charFraction > c.duplicateParagraphs.maxChars) return `${fmt(s.charFraction)} of characters are in repeated paragraphs > ${c.duplicateParagraphs.maxChars}`;
    return null;
  });
  const ngramLimits = (m: Record<string, number>, what: string): [number, number][] =>
    Object.entries(m).map(([k, v]) => {
      const n = Number(k);
      if (!(Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error(`${what}: n-gram length "${k}" must be an integer in [1, 64]`);
      return [n, v] as [number, number];
    }).sort((a, b) => a[0] - b[0]);
  const top = ngramLimits(c.topNgrams.max, 'documents.topNgrams.max');
  add('topNgrams', (d) => {
    for (const [n, max] of top) {
      const f = topNgramCharFraction(d.ngrams, n);
      if (f > max) return `top ${n}-gram covers ${fmt(f)} of characters > ${max}`;
    }
    return null;
  });
  const dup = ngramLimits(c.duplicateNgrams.max, 'documents.duplicateNgrams.max');
  // Words covered by a repeated (n+1)-gram are covered by a repeated n-gram too, so coverage only
  // falls as n grows: once it is below every remaining threshold, longer n-grams cannot fail.
  const dupRest = dup.map((_, i) => Math.min(...dup.slice(i + 1).map(([, v]) => v), Infinity));
  add('duplicateNgrams', (d) => {
    for (let i = 0; i < dup.length; i++) {
      const [n, max] = dup[i]!;
      const f = duplicateNgramCharFraction(d.ngrams, n);
      if (f > max) return `repeated ${n}-grams cover ${fmt(f)} of characters > ${max}`;
      if (f <= dupRest[i]!) break;
    }
    return null;
  });
  return (text) => {
    const view = new DocView(text);
    for (const ch of checks) {
      const detail = ch.run(view);
      if (detail !== null) return { filter: ch.name, detail };
    }
    return null;
  };
}
