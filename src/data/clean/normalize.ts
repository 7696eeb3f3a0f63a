// Text normalisation before any filter looks at a document, so that filters and dedup see one
// canonical form: Unicode NFC (é as one code point, not e + combining accent), no control or
// zero-width characters, every Unicode space as an ASCII space, single spaces inside lines, no
// trailing spaces (indentation shrinks to one space), at most one blank line between paragraphs. Newlines are kept: line- and
// paragraph-level filters depend on them.

/** C0/C1 controls except tab and newline (tab becomes a space below). */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
/** Zero-width space/joiners, word joiner, BOM and soft hyphen: invisible, and they split words. */
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;
/** Tab, no-break and typographic spaces, ideographic space. */
const SPACES = /[\t\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
const LINE_SEPARATORS = /\r\n?|[\u2028\u2029\u0085]/g;

/** The canonical form of `text` (idempotent: normalizing twice changes nothing). */
export function normalizeText(text: string): string {
  let t = text.normalize('NFC').replace(LINE_SEPARATORS, '\n').replace(INVISIBLE, '').replace(CONTROL, '').replace(SPACES, ' ');
  // A single leading space survives: it marks continuation lines (mail headers, indented quotes).
  t = t.replace(/ {2,}/g, ' ').replace(/ +\n/g, '\n');
  t = t.replace(/\n{3,}/g, '\n\n');
  return t.trim();
}

/** Whitespace-separated words, as Gopher's quality rules count them. */
export function splitWords(text: string): string[] {
  const words = text.split(/\s+/);
  if (words.length > 0 && words[0] === '') words.shift();
  if (words.length > 0 && words[words.length - 1] === '') words.pop();
  return words;
}

/** Lowercased words with punctuation removed: the form dedup shingles and n-gram keys use. */
export function normalizedWords(text: string): string[] {
  const out: string[] = [];
  for (const w of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) if (w !== '') out.push(w);
  return out;
}

/** Non-empty lines (a line is text between newlines). */
export function splitLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Paragraphs: text between blank lines. */
export function splitParagraphs(text: string): string[] {
  return text.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p !== '');
}
