// `genlab data clean`: one streaming pass over the sources. Each document is normalised, loses
// its boilerplate lines, is checked by the document filters, has its PII replaced, and is then
// dropped if it is an exact or near duplicate of a document kept earlier. Kept documents go to
// OUT/documents.jsonl (one {"text", "id", "source"} object per line, readable by `genlab train
// --data OUT`), removed ones optionally to OUT/removed.jsonl with the filter that removed them.
// Nothing is read whole: memory holds one document, the dedup indexes (about 400 bytes per kept
// document with the default 14 bands) and a few examples per filter for the report.
// The inputs are never modified.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AtomicFileWriter, writeJsonAtomic } from '../../util/atomic.ts';
import type { CorpusSource, SourceRecord } from '../corpus.ts';
import { compileDocumentFilters, compileLineFilters, DOCUMENT_FILTERS, LINE_FILTERS, mergeConfig, mergeFilterConfig, defaultFilterConfig, type FilterConfig } from './filters.ts';
import { U64Map } from './hash-table.ts';
import { defaultMinHashConfig, LshIndex, MinHasher, lshThreshold, type MinHashConfig } from './minhash.ts';
import { normalizeText } from './normalize.ts';
import { defaultPiiConfig, scrubPii, type PiiConfig, type PiiCounts } from './pii.ts';

export interface CleanConfig {
  normalize: { enabled: boolean };
  filters: FilterConfig;
  pii: PiiConfig;
  dedup: { exact: { enabled: boolean }; near: MinHashConfig };
}

export function defaultCleanConfig(): CleanConfig {
  return { normalize: { enabled: true }, filters: defaultFilterConfig(), pii: defaultPiiConfig(), dedup: { exact: { enabled: true }, near: defaultMinHashConfig() } };
}

/** The defaults with `override` (parsed JSON) merged in; unknown keys and wrong types are errors. */
export function mergeCleanConfig(override: unknown): CleanConfig {
  const base = defaultCleanConfig();
  if (override === undefined || override === null) return base;
  if (typeof override !== 'object' || Array.isArray(override)) throw new Error(`the cleaning config must be a JSON object, got ${JSON.stringify(override)}`);
  const o = override as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(k in base)) throw new Error(`config key "${k}" is not a setting; valid top-level keys: ${Object.keys(base).join(', ')}`);
  }
  const near = mergeConfig(base.dedup, o['dedup'], 'dedup');
  if (!(near.near.verifyThreshold >= 0 && near.near.verifyThreshold <= 1)) throw new Error(`dedup.near.verifyThreshold must be in [0, 1], got ${near.near.verifyThreshold}`);
  return {
    normalize: mergeConfig(base.normalize, o['normalize'], 'normalize'),
    filters: mergeFilterConfig(o['filters'], 'filters'),
    pii: mergeConfig(base.pii, o['pii'], 'pii'),
    dedup: near,
  };
}

export interface StageExample {
  id: string;
  source: string;
  detail: string;
  /** The removed line, or the beginning of the removed document. */
  excerpt: string;
}

export interface StageReport {
  name: string;
  kind: 'normalize' | 'line' | 'document' | 'dedup' | 'pii';
  source: string;
  description: string;
  /** The settings this stage ran with. */
  settings: unknown;
  documentsRemoved: number;
  /** Characters removed (whole documents, or lines for line filters, or changed by normalisation). */
  charsRemoved: number;
  linesRemoved: number;
  /** Documents this stage changed without removing them (normalisation, line filters, PII). */
  documentsChanged: number;
  examples: StageExample[];
}

export interface CleanReport {
  format: 'genlab-clean-report';
  version: 1;
  createdAt: string;
  sources: SourceRecord[];
  input: { documents: number; chars: number; bytes: number };
  output: { documents: number; chars: number; bytes: number; file: string };
  removedFile: string | null;
  stages: StageReport[];
  pii: PiiCounts;
  dedup: { exactIndexBytes: number; nearIndexBytes: number; nearThreshold: number };
  seconds: number;
  /** Input megabytes (UTF-8, 10^6 bytes) per second over the whole run. */
  mbPerSecond: number;
  config: CleanConfig;
}

export interface CleanProgress {
  documents: number;
  totalDocuments: number;
  chars: number;
  totalChars: number;
  kept: number;
  mbPerSecond: number;
}

export interface CleanOptions {
  sources: readonly CorpusSource[];
  outDir: string;
  config?: CleanConfig;
  /** Write every removed document to OUT/removed.jsonl with the reason. */
  writeRemoved?: boolean;
  /** Examples kept per stage for the report (default 5). */
  examples?: number;
  onProgress?: (p: CleanProgress) => void;
}

export const CLEAN_DOCUMENTS_FILE = 'documents.jsonl';
export const CLEAN_REMOVED_FILE = 'removed.jsonl';
export const CLEAN_REPORT_FILE = 'clean-report.json';
const EXCERPT = 300;

/** Buffers many small writes into ~1 MB appends of an atomic file. */
class JsonlWriter {
  private buf: string[] = [];
  private size = 0;
  bytes = 0;
  constructor(private readonly w: AtomicFileWriter) {}
  async push(obj: unknown): Promise<void> {
    const line = JSON.stringify(obj) + '\n';
    this.buf.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const data = Buffer.from(this.buf.join(''), 'utf8');
    this.bytes += data.length;
    this.buf = [];
    this.size = 0;
    await this.w.write(data);
  }
  async commit(): Promise<void> {
    await this.flush();
    await this.w.commit();
  }
  async abort(): Promise<void> {
    await this.w.abort();
  }
}

function excerpt(s: string): string {
  return s.length <= EXCERPT ? s : s.slice(0, EXCERPT) + '…';
}

function stage(name: string, kind: StageReport['kind'], source: string, description: string, settings: unknown): StageReport {
  return { name, kind, source, description, settings, documentsRemoved: 0, charsRemoved: 0, linesRemoved: 0, documentsChanged: 0, examples: [] };
}

/** Runs the cleaning pipeline; returns (and writes) the report. */
export async function cleanCorpus(o: CleanOptions): Promise<CleanReport> {
  const t0 = performance.now();
  const config = o.config ?? defaultCleanConfig();
  const maxExamples = o.examples ?? 5;
  if (o.sources.length === 0) throw new Error('no input given; pass at least one source (e.g. "sotu", a folder, a .txt or a .jsonl file)');
  fs.mkdirSync(o.outDir, { recursive: true });
  for (const s of o.sources) {
    const abs = path.resolve(s.name);
    if (abs === path.resolve(o.outDir, CLEAN_DOCUMENTS_FILE) || abs === path.resolve(o.outDir)) {
      throw new Error(`input ${s.name} is inside the output folder ${o.outDir}; choose another --out so the input is never overwritten`);
    }
  }

  // A first pass hashes the inputs (for the report's provenance) and sizes the progress bar.
  const records: SourceRecord[] = [];
  let totalDocs = 0;
  let totalChars = 0;
  for (const s of o.sources) {
    const scan = await s.scan();
    records.push(scan.record);
    totalDocs += scan.docs.length;
    for (const d of scan.docs) totalChars += d.chars;
  }

  const f = config.filters;
  const nearCfg = config.dedup.near;
  const normStage = stage('normalize', 'normalize', 'Unicode NFC; genlab whitespace and control-character rules', 'Unicode NFC, control and zero-width characters removed, spaces collapsed, at most one blank line', config.normalize);
  const lineStages = new Map(LINE_FILTERS.map((i) => [i.name, stage(i.name, 'line', i.source, i.description, f.lines[i.name as keyof FilterConfig['lines']])]));
  const emptyStage = stage('empty', 'document', 'genlab', 'nothing left after normalisation and line filters', {});
  const docStages = new Map(DOCUMENT_FILTERS.map((i) => [i.name, stage(i.name, 'document', i.source, i.description, f.documents[i.name as keyof FilterConfig['documents']])]));
  const piiStage = stage('pii', 'pii', 'genlab patterns (e-mail, phone with separators, IPv4/IPv6)', 'e-mail addresses, phone numbers and IP addresses replaced by placeholders', config.pii);
  const exactStage = stage('exactDedup', 'dedup', 'exact match of the normalised text (lowercased, whitespace collapsed; SHA-1, first 64 bits)', 'exact duplicates of a document kept earlier', config.dedup.exact);
  const nearStage = stage('nearDedup', 'dedup', `MinHash LSH (Broder 1997; datatrove defaults): ${nearCfg.ngram}-gram shingles, ${nearCfg.bands} bands × ${nearCfg.rows} rows, threshold ≈ ${lshThreshold(nearCfg.bands, nearCfg.rows).toFixed(2)}`, 'near duplicates of a document kept earlier', nearCfg);
  const stages = [normStage, ...lineStages.values(), emptyStage, ...docStages.values(), piiStage, exactStage, nearStage];

  const lineFilter = compileLineFilters(f.lines);
  const docFilter = compileDocumentFilters(f.documents);
  const hasher = nearCfg.enabled ? new MinHasher(nearCfg) : null;
  const lsh = nearCfg.enabled ? new LshIndex(nearCfg) : null;
  const exact = new U64Map();
  const keptIds: string[] = [];
  const label = (source: string, id: string): string => (o.sources.length > 1 ? `${source}: ${id}` : id);
  const pii: PiiCounts = { email: 0, phone: 0, ip: 0 };

  const out = new JsonlWriter(await AtomicFileWriter.open(path.join(o.outDir, CLEAN_DOCUMENTS_FILE)));
  const removedOut = o.writeRemoved ? new JsonlWriter(await AtomicFileWriter.open(path.join(o.outDir, CLEAN_REMOVED_FILE))) : null;
  let docs = 0;
  let chars = 0;
  let bytes = 0;
  let outChars = 0;
  let lastProgress = 0;

  const remove = async (st: StageReport, id: string, source: string, text: string, detail: string, extra: Record<string, unknown> = {}): Promise<void> => {
    st.documentsRemoved++;
    st.charsRemoved += text.length;
    if (st.examples.length < maxExamples) st.examples.push({ id, source, detail, excerpt: excerpt(text) });
    await removedOut?.push({ id, source, filter: st.name, detail, ...extra, text });
  };

  try {
    for (const src of o.sources) {
      for await (const doc of src.documents()) {
        docs++;
        chars += doc.text.length;
        bytes += Buffer.byteLength(doc.text, 'utf8');
        const now = performance.now();
        if (o.onProgress && now - lastProgress > 200) {
          lastProgress = now;
          o.onProgress({ documents: docs, totalDocuments: totalDocs, chars, totalChars, kept: keptIds.length, mbPerSecond: bytes / 1e6 / Math.max(1e-3, (now - t0) / 1000) });
        }
        let text = doc.text;
        if (config.normalize.enabled) {
          const norm = normalizeText(text);
          if (norm !== text) {
            normStage.documentsChanged++;
            normStage.charsRemoved += text.length - norm.length;
            if (normStage.examples.length < maxExamples && text.trim() !== norm) normStage.examples.push({ id: doc.id, source: doc.source, detail: `${text.length - norm.length} characters fewer`, excerpt: excerpt(JSON.stringify(text.slice(0, 120))) });
          }
          text = norm;
        }
        const lines = lineFilter(text);
        if (lines.removed.length > 0) {
          const touched = new Set<string>();
          for (const r of lines.removed) {
            const st = lineStages.get(r.filter)!;
            st.linesRemoved++;
            st.charsRemoved += r.line.length + 1;
            touched.add(r.filter);
            if (st.examples.length < maxExamples) st.examples.push({ id: doc.id, source: doc.source, detail: 'line removed', excerpt: excerpt(r.line) });
          }
          for (const name of touched) lineStages.get(name)!.documentsChanged++;
          text = lines.text;
        }
        if (text.trim() === '') {
          await remove(emptyStage, doc.id, doc.source, doc.text, 'empty after normalisation and line filters');
          continue;
        }
        const verdict = docFilter(text);
        if (verdict) {
          await remove(docStages.get(verdict.filter)!, doc.id, doc.source, text, verdict.detail);
          continue;
        }
        const scrubbed = scrubPii(text, config.pii);
        const found = scrubbed.counts.email + scrubbed.counts.phone + scrubbed.counts.ip;
        if (found > 0) {
          pii.email += scrubbed.counts.email;
          pii.phone += scrubbed.counts.phone;
          pii.ip += scrubbed.counts.ip;
          piiStage.documentsChanged++;
          piiStage.charsRemoved += text.length - scrubbed.text.length;
          if (piiStage.examples.length < maxExamples) {
            piiStage.examples.push({ id: doc.id, source: doc.source, detail: `${scrubbed.counts.email} e-mail, ${scrubbed.counts.phone} phone, ${scrubbed.counts.ip} IP`, excerpt: excerpt(scrubbed.text) });
          }
          text = scrubbed.text;
        }
        const idx = keptIds.length;
        if (config.dedup.exact.enabled) {
          const key = createHash('sha1').update(text.toLowerCase().replace(/\s+/g, ' ')).digest();
          const prev = exact.getOrSet(key.readUInt32LE(0), key.readUInt32LE(4), idx);
          if (prev !== undefined) {
            await remove(exactStage, doc.id, doc.source, text, `same text as ${keptIds[prev]}`, { duplicateOf: keptIds[prev] });
            continue;
          }
        }
        if (hasher !== null && lsh !== null) {
          const hit = lsh.add(hasher.signatureOf(text), idx);
          if (hit.duplicateOf >= 0) {
            const sim = Number.isNaN(hit.similarity) ? '' : ` (estimated similarity ${hit.similarity.toFixed(2)})`;
            await remove(nearStage, doc.id, doc.source, text, `near duplicate of ${keptIds[hit.duplicateOf]}${sim}`, { duplicateOf: keptIds[hit.duplicateOf] });
            continue;
          }
        }
        keptIds.push(label(doc.source, doc.id));
        outChars += text.length;
        await out.push({ text, id: doc.id, source: doc.source });
      }
    }
    await out.commit();
    await removedOut?.commit();
  } catch (err) {
    await out.abort();
    await removedOut?.abort();
    throw err;
  }

  const seconds = (performance.now() - t0) / 1000;
  const report: CleanReport = {
    format: 'genlab-clean-report',
    version: 1,
    createdAt: new Date().toISOString(),
    sources: records,
    input: { documents: docs, chars, bytes },
    output: { documents: keptIds.length, chars: outChars, bytes: out.bytes, file: CLEAN_DOCUMENTS_FILE },
    removedFile: removedOut ? CLEAN_REMOVED_FILE : null,
    stages,
    pii,
    dedup: { exactIndexBytes: exact.bytes, nearIndexBytes: lsh?.bytes ?? 0, nearThreshold: lshThreshold(nearCfg.bands, nearCfg.rows) },
    seconds: Math.round(seconds * 100) / 100,
    mbPerSecond: Math.round((bytes / 1e6 / Math.max(1e-3, seconds)) * 100) / 100,
    config,
  };
  o.onProgress?.({ documents: docs, totalDocuments: totalDocs, chars, totalChars, kept: keptIds.length, mbPerSecond: report.mbPerSecond });
  await writeJsonAtomic(path.join(o.outDir, CLEAN_REPORT_FILE), report);
  return report;
}
