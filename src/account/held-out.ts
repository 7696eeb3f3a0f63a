// The documents a run held out for validation: calibration and the watermark's false-positive rate
// must be measured on text the model never trained on. The split is recomputed from the run record
// (seed, fraction, the sources' documents) exactly as training made it, and checked against the
// sources' content hashes and the held-out ids the record lists.

import { resolveSource, type CorpusSource, type Document } from '../data/corpus.ts';
import { chooseValidationDocuments } from '../data/prepare.ts';

interface RecordedSource {
  name: string;
  kind: string;
  path: string;
  sha256: string;
}

interface RecordedSplit {
  valFraction: number;
  seed: number;
  valDocumentIds?: string[];
}

function recordedData(record: Record<string, unknown> | null, dir: string): { sources: RecordedSource[]; split: RecordedSplit } {
  const data = record?.data as { sources?: RecordedSource[]; split?: RecordedSplit } | undefined;
  if (!data?.sources || !data.split) {
    throw new Error(`${dir} has no run record with data sources and a validation split (run.json); held-out text is only known for models genlab trained — pass --data without --held-out instead`);
  }
  return { sources: data.sources, split: data.split };
}

/** The run's sources, opened again: built-in packages by name, files and folders by absolute path. */
export function runSources(record: Record<string, unknown> | null, dir: string): { source: CorpusSource; recorded: RecordedSource }[] {
  return recordedData(record, dir).sources.map((r) => ({ source: resolveSource(r.kind === 'package' ? r.name : r.path), recorded: r }));
}

export interface HeldOutSet {
  /** "source/id" of every held-out document. */
  ids: Set<string>;
  documents: number;
  chars: number;
}

/** Recomputes the held-out documents of a run; throws if a source changed since training. */
export async function heldOutSet(record: Record<string, unknown> | null, dir: string): Promise<HeldOutSet> {
  const { split } = recordedData(record, dir);
  const docs: { source: string; id: string; chars: number }[] = [];
  for (const { source, recorded } of runSources(record, dir)) {
    const scan = await source.scan();
    if (scan.record.sha256 !== recorded.sha256) {
      throw new Error(`source "${recorded.name}" (${recorded.path}) changed since training: sha256 ${scan.record.sha256} differs from run.json's ${recorded.sha256}; the held-out split cannot be reconstructed`);
    }
    for (const d of scan.docs) docs.push({ source: recorded.name, id: d.id, chars: d.chars });
  }
  const keys = chooseValidationDocuments(docs, split.valFraction, split.seed);
  const ids = new Set([...keys].map((k) => k.replace('\u0000', '/')));
  if (split.valDocumentIds && (split.valDocumentIds.length !== ids.size || split.valDocumentIds.some((id) => !ids.has(id)))) {
    throw new Error(`the recomputed held-out documents differ from run.json's valDocumentIds; the split rule changed since training (genlab version mismatch?)`);
  }
  const chars = docs.filter((d) => ids.has(`${d.source}/${d.id}`)).reduce((a, d) => a + d.chars, 0);
  return { ids, documents: ids.size, chars };
}

/** Streams the documents of `sources` that the run held out (all of them when `held` is null). */
export async function* documentsOf(sources: { source: CorpusSource; name: string }[], held: HeldOutSet | null): AsyncGenerator<Document> {
  for (const { source, name } of sources) {
    for await (const d of source.documents()) {
      if (held === null || held.ids.has(`${name}/${d.id}`)) yield d;
    }
  }
}
