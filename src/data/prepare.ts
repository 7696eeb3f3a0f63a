// Tokenize corpus sources once into train/val shards plus a `dataset.json` manifest.
//
// Split: whole documents are held out (never a speech cut in half between train and val). Each
// document gets a score sha256(seed, source, id); documents are taken in score order into the
// validation set until it holds valFraction of the characters. The choice depends only on the
// seed and the documents, not on reading order; it always holds out at least one document and
// keeps at least one for training. A corpus of one document (a single text file, nanoGPT's
// commonest case) cannot be split that way: its tail is held out instead, as nanoGPT's 90/10
// split does, cut at a line start (see tailStart), and the manifest says so.
//
// Layout: every document is preceded by the end-of-text token (llm.c's convention), so the
// stream reads EOT doc1 EOT doc2 ... and a window that crosses a boundary sees the separator.
//
// Reuse: the manifest records everything the shards depend on (source hashes, document list
// hashes, tokenizer hash, split settings, shard size). When it matches and the shards are intact,
// preparation is skipped.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { writeJsonAtomic } from '../util/atomic.ts';
import type { CorpusSource, DocumentStat, SourceRecord } from './corpus.ts';
import { ShardReader, ShardWriter, bytesPerTokenFor, DEFAULT_SHARD_TOKENS } from './shards.ts';

export interface PrepareTokenizer {
  encode(text: string): ArrayLike<number>;
  eotId: number;
  vocabSize: number;
}

export interface PrepareProgress {
  phase: 'scan' | 'tokenize';
  source: string;
  documents: number;
  totalDocuments: number;
  chars: number;
  totalChars: number;
  tokens: number;
}

export interface PrepareOptions {
  sources: readonly CorpusSource[];
  tokenizer: PrepareTokenizer;
  /** Identifies the tokenizer's vocabulary and merges (e.g. sha256 of tokenizer.json). */
  tokenizerHash: string;
  outDir: string;
  /** Fraction of characters held out for validation, in [0, 0.5]. */
  valFraction: number;
  seed: number;
  shardTokens?: number;
  /** Re-tokenize even when the existing manifest matches. */
  force?: boolean;
  onProgress?: (p: PrepareProgress) => void;
}

export interface SplitManifest {
  tokens: number;
  documents: number;
  chars: number;
  files: { file: string; tokens: number }[];
}

export interface SourceManifest extends SourceRecord {
  /** sha256 of "id\tchars\n" per document: changes if document splitting or cleaning changes. */
  documentsSha256: string;
  trainDocuments: number;
  valDocuments: number;
}

export interface DatasetManifest {
  format: 'genlab-dataset';
  version: 1;
  createdAt: string;
  tokenizer: { hash: string; vocabSize: number; eotId: number };
  documentSeparator: 'eot-before-each-document';
  split: {
    method: 'whole-documents-by-seeded-hash' | 'tail-of-single-document';
    valFraction: number;
    seed: number;
    /** Held-out document ids ("source/id"), listed when there are at most 1000 (whole-document split). */
    valDocumentIds?: string[];
    /** Tail split: the document ("source/id") whose characters from `fromChar` on (`chars` of them) are held out; the rest is trained on. */
    heldOutTail?: HeldOutTail;
  };
  shardTokens: number;
  bytesPerToken: 2 | 4;
  sources: SourceManifest[];
  train: SplitManifest;
  val: SplitManifest;
  /** Seconds spent scanning and tokenizing. */
  seconds: number;
}

export interface HeldOutTail {
  document: string;
  fromChar: number;
  chars: number;
}

export interface PreparedDataset {
  dir: string;
  manifest: DatasetManifest;
  reused: boolean;
  /** Why the existing shards were not reused (absent when reused or when there were none). */
  rebuildReason?: string;
  trainFiles: string[];
  valFiles: string[];
}

export const MANIFEST_FILE = 'dataset.json';
const SHARD_NAME = /^(train|val)_\d{6}\.bin$/;

function docScore(seed: number, source: string, id: string): number {
  const h = createHash('sha256').update(`${seed}\u0000${source}\u0000${id}`).digest();
  return h.readUIntBE(0, 6);
}

function documentsHash(docs: readonly DocumentStat[]): string {
  const h = createHash('sha256');
  for (const d of docs) h.update(`${d.id}\t${d.chars}\n`);
  return h.digest('hex');
}

/** Keys of held-out documents ("source\0id"); needs at least 2 documents (see chooseValidationSplit for one). */
export function chooseValidationDocuments(
  docs: readonly { source: string; id: string; chars: number }[],
  valFraction: number,
  seed: number,
): Set<string> {
  const val = new Set<string>();
  if (valFraction === 0) return val;
  if (docs.length < 2) {
    throw new Error(`only ${docs.length} document(s): holding out whole documents needs at least 2 (chooseValidationSplit holds out the tail of a single one)`);
  }
  const total = docs.reduce((a, d) => a + d.chars, 0);
  const ranked = docs
    .map((d) => ({ key: `${d.source}\u0000${d.id}`, chars: d.chars, score: docScore(seed, d.source, d.id) }))
    .sort((a, b) => a.score - b.score || (a.key < b.key ? -1 : 1));
  let held = 0;
  // The last-ranked document always stays for training, even when it alone is most of the text.
  for (const d of ranked.slice(0, -1)) {
    if (val.size > 0 && held >= valFraction * total) break;
    val.add(d.key);
    held += d.chars;
  }
  return val;
}

export interface ValidationSplit {
  /** Keys ("source\0id") of the documents held out whole. */
  documents: Set<string>;
  /** Key of the single document whose tail is held out (tailStart), or null. */
  tail: string | null;
}

/** The validation split of a corpus: whole documents, or the tail of its only document. */
export function chooseValidationSplit(docs: readonly { source: string; id: string; chars: number }[], valFraction: number, seed: number): ValidationSplit {
  if (valFraction > 0 && docs.length === 1) return { documents: new Set(), tail: `${docs[0]!.source}\u0000${docs[0]!.id}` };
  return { documents: chooseValidationDocuments(docs, valFraction, seed), tail: null };
}

/**
 * Where the held-out tail of a single document starts: the last `valFraction` of its characters,
 * moved forward to the next line start when one is near (the tail keeps at least half its share),
 * never inside a surrogate pair; both parts are non-empty.
 */
export function tailStart(text: string, valFraction: number): number {
  if (text.length < 2) throw new Error(`the only document has ${text.length} character(s): too short to hold part of it out for validation; add text to --data`);
  const nominal = Math.min(text.length - 1, Math.max(1, Math.floor(text.length * (1 - valFraction))));
  const newline = text.indexOf('\n', nominal - 1);
  if (newline >= 0 && newline + 1 <= nominal + (text.length - nominal) / 2 && newline + 1 < text.length) return newline + 1;
  const code = text.charCodeAt(nominal);
  return code >= 0xdc00 && code <= 0xdfff && nominal > 1 ? nominal - 1 : nominal;
}

/** One line for logs: the tokens on each side and how the validation text was chosen. */
export function describeSplit(m: DatasetManifest): string {
  return `${m.train.tokens.toLocaleString()} training tokens, ${m.val.tokens.toLocaleString()} validation tokens; ${describeValidation(m)}`;
}

function describeValidation(m: DatasetManifest): string {
  const t = m.split.heldOutTail;
  if (t) {
    const pct = (100 * t.chars) / (t.fromChar + t.chars);
    return `one document (${t.document}): its last ${t.chars.toLocaleString()} characters (${pct.toFixed(1)}%, from character ${t.fromChar.toLocaleString()}) are held out for validation, as nanoGPT's 90/10 split does; give two or more documents to hold out whole ones`;
  }
  return `${m.val.documents} whole document(s) held out for validation (${(100 * m.split.valFraction).toFixed(1)}% of the characters asked)`;
}

export function readDatasetManifest(dir: string): DatasetManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read dataset manifest ${file}: ${(err as Error).message}; run data preparation first`);
  }
  const m = json as Partial<DatasetManifest>;
  if (m.format !== 'genlab-dataset' || m.version !== 1) {
    throw new Error(`${file} is not a genlab dataset manifest (format ${JSON.stringify(m.format)}, version ${JSON.stringify(m.version)}); re-run data preparation`);
  }
  return m as DatasetManifest;
}

export function datasetShardPaths(dir: string, manifest: DatasetManifest, split: 'train' | 'val'): string[] {
  return manifest[split].files.map((f) => path.join(dir, f.file));
}

/** Why `m` cannot be reused for the requested preparation, or null if it can. */
function reuseProblem(dir: string, m: DatasetManifest, want: Omit<DatasetManifest, 'createdAt' | 'train' | 'val' | 'seconds' | 'split'> & { split: { valFraction: number; seed: number } }): string | null {
  if (m.tokenizer.hash !== want.tokenizer.hash) return 'the tokenizer changed';
  if (m.tokenizer.vocabSize !== want.tokenizer.vocabSize || m.tokenizer.eotId !== want.tokenizer.eotId) return 'the tokenizer vocab size or end-of-text id changed';
  if (m.split.valFraction !== want.split.valFraction || m.split.seed !== want.split.seed) return 'the validation split settings changed';
  if (m.shardTokens !== want.shardTokens || m.bytesPerToken !== want.bytesPerToken) return 'the shard size changed';
  if (m.sources.length !== want.sources.length) return 'the list of sources changed';
  for (let i = 0; i < m.sources.length; i++) {
    const a = m.sources[i]!;
    const b = want.sources[i]!;
    if (a.name !== b.name) return `the list of sources changed (${a.name} → ${b.name})`;
    if (a.sha256 !== b.sha256) return `source ${a.name} changed (content hash differs)`;
    if (a.documentsSha256 !== b.documentsSha256) return `source ${a.name} yields different documents (reader options changed)`;
  }
  for (const split of ['train', 'val'] as const) {
    for (const f of m[split].files) {
      try {
        const r = ShardReader.open(path.join(dir, f.file), { vocabSize: m.tokenizer.vocabSize });
        r.close();
        if (r.tokenCount !== f.tokens) return `shard ${f.file} holds ${r.tokenCount} tokens, the manifest says ${f.tokens}`;
      } catch (err) {
        return `shard ${f.file} is missing or damaged (${(err as Error).message})`;
      }
    }
  }
  return null;
}

export async function prepareDataset(opts: PrepareOptions): Promise<PreparedDataset> {
  const t0 = performance.now();
  const { tokenizer, outDir, valFraction, seed } = opts;
  const shardTokens = opts.shardTokens ?? DEFAULT_SHARD_TOKENS;
  if (!(valFraction >= 0 && valFraction <= 0.5)) throw new Error(`--val-fraction must be in [0, 0.5], got ${valFraction}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (!(Number.isInteger(tokenizer.eotId) && tokenizer.eotId >= 0 && tokenizer.eotId < tokenizer.vocabSize)) {
    throw new Error(`tokenizer eotId ${tokenizer.eotId} must be a token id below vocabSize ${tokenizer.vocabSize}`);
  }
  if (typeof opts.tokenizerHash !== 'string' || opts.tokenizerHash === '') throw new Error('tokenizerHash is required so prepared shards are tied to their tokenizer');
  if (opts.sources.length === 0) throw new Error('no corpus sources given; pass at least one (e.g. "sotu")');
  const names = new Set<string>();
  for (const s of opts.sources) {
    if (names.has(s.name)) throw new Error(`corpus source ${s.name} is listed twice; list each source once`);
    names.add(s.name);
  }
  fs.mkdirSync(outDir, { recursive: true });

  // Pass 1: hash the sources and list their documents.
  const scans: { record: SourceRecord; docs: DocumentStat[] }[] = [];
  let scannedDocs = 0;
  let scannedChars = 0;
  for (const s of opts.sources) {
    const scan = await s.scan();
    scans.push(scan);
    scannedDocs += scan.docs.length;
    for (const d of scan.docs) scannedChars += d.chars;
    opts.onProgress?.({ phase: 'scan', source: s.name, documents: scannedDocs, totalDocuments: scannedDocs, chars: scannedChars, totalChars: scannedChars, tokens: 0 });
  }
  const allDocs = scans.flatMap((sc, i) => sc.docs.map((d) => ({ source: opts.sources[i]!.name, id: d.id, chars: d.chars })));
  if (allDocs.length === 0) throw new Error('the corpus sources contain no non-empty documents');
  const chosen = chooseValidationSplit(allDocs, valFraction, seed);
  const valKeys = chosen.documents;

  // A split document counts once on each side.
  const sources: SourceManifest[] = scans.map((sc, i) => {
    const name = opts.sources[i]!.name;
    const valDocs = sc.docs.filter((d) => valKeys.has(`${name}\u0000${d.id}`)).length;
    const tail = sc.docs.some((d) => chosen.tail === `${name}\u0000${d.id}`) ? 1 : 0;
    return { ...sc.record, documentsSha256: documentsHash(sc.docs), trainDocuments: sc.docs.length - valDocs, valDocuments: valDocs + tail };
  });
  const bytesPerToken = bytesPerTokenFor(tokenizer.vocabSize);
  const want = {
    format: 'genlab-dataset' as const,
    version: 1 as const,
    tokenizer: { hash: opts.tokenizerHash, vocabSize: tokenizer.vocabSize, eotId: tokenizer.eotId },
    documentSeparator: 'eot-before-each-document' as const,
    split: { valFraction, seed },
    shardTokens,
    bytesPerToken,
    sources,
  };

  let rebuildReason: string | undefined;
  if (fs.existsSync(path.join(outDir, MANIFEST_FILE))) {
    let existing: DatasetManifest | null = null;
    try {
      existing = readDatasetManifest(outDir);
    } catch (err) {
      rebuildReason = (err as Error).message;
    }
    if (existing !== null) {
      const problem = opts.force ? 'forced' : reuseProblem(outDir, existing, want);
      if (problem === null) {
        return {
          dir: outDir, manifest: existing, reused: true,
          trainFiles: datasetShardPaths(outDir, existing, 'train'), valFiles: datasetShardPaths(outDir, existing, 'val'),
        };
      }
      rebuildReason = problem;
    }
  }

  // The manifest goes first so a crash mid-way can never leave it pointing at a mix of shards.
  fs.rmSync(path.join(outDir, MANIFEST_FILE), { force: true });
  for (const f of fs.readdirSync(outDir)) if (SHARD_NAME.test(f)) fs.rmSync(path.join(outDir, f));

  const writers = {
    train: new ShardWriter({ dir: outDir, prefix: 'train', vocabSize: tokenizer.vocabSize, shardTokens, bytesPerToken }),
    val: new ShardWriter({ dir: outDir, prefix: 'val', vocabSize: tokenizer.vocabSize, shardTokens, bytesPerToken }),
  };
  const stats = { train: { documents: 0, chars: 0 }, val: { documents: 0, chars: 0 } };
  const put = (split: 'train' | 'val', text: string): void => {
    writers[split].append([tokenizer.eotId]);
    writers[split].append(tokenizer.encode(text));
    stats[split].documents++;
    stats[split].chars += text.length;
  };
  let heldOutTail: HeldOutTail | undefined;
  let done = 0;
  let doneChars = 0;
  try {
    // Pass 2: tokenize, checking the documents are the ones scanned.
    for (let i = 0; i < opts.sources.length; i++) {
      const src = opts.sources[i]!;
      const expected = scans[i]!.docs;
      let k = 0;
      for await (const doc of src.documents()) {
        const scanned = expected[k];
        if (scanned === undefined || scanned.id !== doc.id || scanned.chars !== doc.text.length) {
          throw new Error(`corpus source ${src.name} changed while being prepared (document ${doc.id}); run preparation again`);
        }
        k++;
        const key = `${src.name}\u0000${doc.id}`;
        if (key === chosen.tail) {
          const from = tailStart(doc.text, valFraction);
          put('train', doc.text.slice(0, from));
          put('val', doc.text.slice(from));
          heldOutTail = { document: `${src.name}/${doc.id}`, fromChar: from, chars: doc.text.length - from };
        } else {
          put(valKeys.has(key) ? 'val' : 'train', doc.text);
        }
        done++;
        doneChars += doc.text.length;
        opts.onProgress?.({
          phase: 'tokenize', source: src.name, documents: done, totalDocuments: allDocs.length,
          chars: doneChars, totalChars: scannedChars, tokens: writers.train.tokenCount + writers.val.tokenCount,
        });
      }
      if (k !== expected.length) throw new Error(`corpus source ${src.name} changed while being prepared (${expected.length - k} documents vanished); run preparation again`);
    }
  } catch (err) {
    writers.train.abort();
    writers.val.abort();
    for (const f of fs.readdirSync(outDir)) if (SHARD_NAME.test(f)) fs.rmSync(path.join(outDir, f));
    throw err;
  }
  const trainFiles = writers.train.finish();
  const valFiles = writers.val.finish();
  const split = (files: typeof trainFiles, s: { documents: number; chars: number }): SplitManifest => ({
    tokens: files.reduce((a, f) => a + f.tokens, 0), documents: s.documents, chars: s.chars,
    files: files.map((f) => ({ file: f.file, tokens: f.tokens })),
  });
  const valIds = allDocs.filter((d) => valKeys.has(`${d.source}\u0000${d.id}`)).map((d) => `${d.source}/${d.id}`);
  const manifest: DatasetManifest = {
    ...want,
    createdAt: new Date().toISOString(),
    split: heldOutTail
      ? { method: 'tail-of-single-document', valFraction, seed, heldOutTail }
      : { method: 'whole-documents-by-seeded-hash', valFraction, seed, ...(valIds.length <= 1000 ? { valDocumentIds: valIds } : {}) },
    train: split(trainFiles, stats.train),
    val: split(valFiles, stats.val),
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
  await writeJsonAtomic(path.join(outDir, MANIFEST_FILE), manifest);
  const result: PreparedDataset = {
    dir: outDir, manifest, reused: false,
    trainFiles: trainFiles.map((f) => f.path), valFiles: valFiles.map((f) => f.path),
  };
  if (rebuildReason !== undefined) result.rebuildReason = rebuildReason;
  return result;
}
