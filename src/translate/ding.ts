// Example sentences from the Ding German–English dictionary (Debian's trans-de-en, installed as
// /usr/share/trans/de-en; © Frank Richter, TU Chemnitz, GPL-2+). Each line is an entry:
//
//   German part :: English part
//
// and each part is a list of sub-entries separated by " | ", the same number on both sides, the
// i-th German sub-entry translating the i-th English one. Sub-entries hold alternatives separated
// by "; " and annotations: {m} grammar, [coll.] usage, <Aalmolch> search keys, (…) optional words.
// Most sub-entries are words and phrases; those that are whole sentences on both sides are the
// example sentences used here.

export interface DingPair {
  de: string;
  en: string;
}

export interface DingStats {
  /** Entry lines read (comments excluded). */
  entries: number;
  /** Lines whose two sides have different numbers of sub-entries (skipped). */
  malformed: number;
  /** Sub-entry pairs that are sentences on both sides before cleaning. */
  sentenceCandidates: number;
  /** Kept after cleaning and de-duplication. */
  kept: number;
  /** Why the other candidates were dropped. */
  dropped: Record<string, number>;
}

/** The header comment lines (version, copyright, licence, URL) of a Ding file. */
export function dingHeader(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    out.push(line.replace(/^#\s?/, ''));
  }
  return out;
}

const SENTENCE_END = /[.!?…]["'“”„»«)]*$/;
const PLACEHOLDER = /\b(etw|jd[mns]?|jds|sth|sb|sb's)\.(?=\s|$|[,;)])|\betw\b|\bjdn\b/;

/** True when s looks like a whole sentence: capital (or quote) first, sentence punctuation last, three words at least. */
export function isSentence(s: string): boolean {
  return SENTENCE_END.test(s) && /^["'„“«»¡¿(–-]*[\p{Lu}\d]/u.test(s) && s.split(' ').length >= 3;
}

/**
 * One side of a sentence sub-entry, cleaned: the first of its "; " alternatives, annotations and
 * optional (parenthesised) words removed, curly apostrophes straightened, spaces normalised.
 * Returns null with a reason when the sentence cannot be used as is.
 */
export function cleanDingSentence(raw: string): { text: string } | { drop: string } {
  const alternatives = raw.split(/;\s+/);
  let s = alternatives[0]!;
  if (PLACEHOLDER.test(s)) return { drop: 'placeholder (etw./jdn./sth./sb.): a pattern, not a sentence' };
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ').replace(/<[^>]*>/g, ' ');
  // Parentheses mark optional words ("That (very) well may be."): the sentence reads without them.
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/\([^()]*\)/g, ' ');
  }
  if (/[/()]/.test(s)) return { drop: 'slash alternatives or unbalanced parentheses' };
  s = s.replace(/[’‘]/g, "'").replace(/\s+/g, ' ').trim();
  s = s.replace(/\s+([,.;:!?…])/g, '$1');
  if (!isSentence(s)) return { drop: 'not a sentence after cleaning' };
  return { text: s };
}

/** Sentence pairs of a Ding file, cleaned and de-duplicated, in file order. */
export function parseDing(text: string): { pairs: DingPair[]; stats: DingStats } {
  const stats: DingStats = { entries: 0, malformed: 0, sentenceCandidates: 0, kept: 0, dropped: {} };
  const seen = new Set<string>();
  const pairs: DingPair[] = [];
  const drop = (why: string): void => {
    stats.dropped[why] = (stats.dropped[why] ?? 0) + 1;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    stats.entries++;
    const sep = line.indexOf(' :: ');
    if (sep < 0) {
      stats.malformed++;
      continue;
    }
    const de = line.slice(0, sep).split(' | ');
    const en = line.slice(sep + 4).split(' | ');
    if (de.length !== en.length) {
      stats.malformed++;
      continue;
    }
    for (let i = 0; i < de.length; i++) {
      const d = de[i]!.trim();
      const e = en[i]!.trim();
      // A sentence candidate before cleaning: both sides end like sentences and have 3+ words.
      if (!SENTENCE_END.test(d) || !SENTENCE_END.test(e) || d.split(' ').length < 3 || e.split(' ').length < 3) continue;
      stats.sentenceCandidates++;
      const cd = cleanDingSentence(d);
      const ce = cleanDingSentence(e);
      if ('drop' in cd) {
        drop(cd.drop);
        continue;
      }
      if ('drop' in ce) {
        drop(ce.drop);
        continue;
      }
      const key = `${cd.text}\t${ce.text}`;
      if (seen.has(key)) {
        drop('duplicate');
        continue;
      }
      seen.add(key);
      pairs.push({ de: cd.text, en: ce.text });
    }
  }
  stats.kept = pairs.length;
  return { pairs, stats };
}

const PLACEHOLDER_WORD = /(^|\s)(etw|jd[mns]|jds|jd|sth|sb|sb's|so)\.(?=\s|$)/g;

/** One side of a word or phrase sub-entry: first alternative, annotations and placeholders removed. */
export function cleanDingPhrase(raw: string): string | null {
  let s = raw.split(/;\s+/)[0]!;
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ').replace(/<[^>]*>/g, ' ');
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/\([^()]*\)/g, ' ');
  }
  s = s.replace(PLACEHOLDER_WORD, ' ').replace(/[’‘]/g, "'").replace(/\s+/g, ' ').trim();
  if (!s || /[/()…|]/.test(s) || s.split(' ').length > 8) return null;
  return s;
}

/**
 * The dictionary's word and phrase translations (the sub-entries that are not sentences), e.g.
 * "Aalreusen" ↔ "eel traps": extra training data that teaches vocabulary the ~17k example
 * sentences do not cover. Placeholders (etw., sth., …) are dropped: "etw. durchschneiden" ↔
 * "to knife through".
 */
export function parseDingPhrases(text: string): DingPair[] {
  const seen = new Set<string>();
  const out: DingPair[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const sep = line.indexOf(' :: ');
    if (sep < 0) continue;
    const de = line.slice(0, sep).split(' | ');
    const en = line.slice(sep + 4).split(' | ');
    if (de.length !== en.length) continue;
    for (let i = 0; i < de.length; i++) {
      if (SENTENCE_END.test(de[i]!.trim()) && SENTENCE_END.test(en[i]!.trim())) continue;
      const d = cleanDingPhrase(de[i]!);
      const e = cleanDingPhrase(en[i]!);
      if (!d || !e) continue;
      const key = `${d}\t${e}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ de: d, en: e });
    }
  }
  return out;
}
