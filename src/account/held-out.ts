// The text a run held out for validation: calibration and the watermark's false-positive rate
// must be measured on text the model never trained on. The split is recomputed from the run record
// (seed, fraction, the sources' documents) exactly as training made it, and checked against the
// sources' content hashes and the held-out ids (or, for a one-document corpus, the held-out tail)
// the record lists.

import { resolveSource, type CorpusSource, type Document } from '../data/corpus.ts';
import { chooseValidationSplit, tailStart, type HeldOutTail } from '../data/prepare.ts';

interface RecordedSource {
  name: string;
  kind: string;
  path: string;
  sha256: string;
}

interface RecordedSplit {
  method?: string;
  valFraction: number;
  seed: number;
  valDocumentIds?: string[];
  heldOutTail?: HeldOutTail;
}

function recordedData(record: Record<string, unknown> | null, dir: string): { sources: RecordedSource[]; split: RecordedSplit } {
  const data = record?.data as { sources?: RecordedSource[]; split?: RecordedSplit } | undefined;
  if (!data?.sources || !data.split) {
    throw new Error(`${dir} has no run record with data sources and a validation split (run.json); held-out text is only known for models genlab trained — pass --data without --held-out instead`);
  }
  // Preference and sentence pairs are held out as pairs, not as text a language model continues.
  const pairs = data.sources.filter((s) => s.kind.endsWith('-pairs'));
  if (pairs.length > 0) {
    const kind = (record?.genlab as { kind?: string } | undefined)?.kind ?? 'unknown';
    throw new Error(`${dir} was trained (${kind}) on ${pairs.map((s) => `${s.kind} \`${s.name}\``).join(', ')}, not on text documents, so it has no held-out text for --held-out; pass --data with a corpus instead (e.g. --data sotu)`);
  }
  return { sources: data.sources, split: data.split };
}

/** The run's sources, opened again: built-in packages by name, files and folders by absolute path. */
export function runSources(record: Record<string, unknown> | null, dir: string): { source: CorpusSource; recorded: RecordedSource }[] {
  return recordedData(record, dir).sources.map((r) => ({ source: resolveSource(r.kind === 'package' ? r.name : r.path), recorded: r }));
}

export interface HeldOutSet {
  /** "source/id" of every held-out document (with `tail`: the one document whose tail is held out). */
  ids: Set<string>;
  /** A one-document corpus: only the characters from `fromChar` on were held out. */
  tail: { id: string; fromChar: number } | null;
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
  const chosen = chooseValidationSplit(docs, split.valFraction, split.seed);
  const changed = `the split rule changed since training (genlab version mismatch?), so the held-out text cannot be reconstructed`;
  if (chosen.tail !== null) {
    const id = chosen.tail.replace('\u0000', '/');
    const fromChar = await tailOf(runSources(record, dir), id, split.valFraction);
    const t = split.heldOutTail;
    if (split.method !== 'tail-of-single-document' || !t || t.document !== id || t.fromChar !== fromChar) {
      throw new Error(`the recomputed held-out tail (${id} from character ${fromChar}) differs from run.json's split (${JSON.stringify(t ?? split.method ?? null)}); ${changed}`);
    }
    return { ids: new Set([id]), tail: { id, fromChar }, documents: 1, chars: t.chars };
  }
  const ids = new Set([...chosen.documents].map((k) => k.replace('\u0000', '/')));
  if (split.method === 'tail-of-single-document' || (split.valDocumentIds && (split.valDocumentIds.length !== ids.size || split.valDocumentIds.some((id) => !ids.has(id))))) {
    throw new Error(`the recomputed held-out documents differ from run.json's split (${split.valDocumentIds ? 'valDocumentIds' : split.method}); ${changed}`);
  }
  const chars = docs.filter((d) => ids.has(`${d.source}/${d.id}`)).reduce((a, d) => a + d.chars, 0);
  return { ids, tail: null, documents: ids.size, chars };
}

/** Where the held-out tail of document `id` starts, from its text as the sources read it now. */
async function tailOf(sources: { source: CorpusSource; recorded: RecordedSource }[], id: string, valFraction: number): Promise<number> {
  for (const { source, recorded } of sources) {
    for await (const d of source.documents()) if (`${recorded.name}/${d.id}` === id) return tailStart(d.text, valFraction);
  }
  throw new Error(`document ${id} of the run's held-out tail is no longer in its source`);
}

/** Streams the text of `sources` that the run held out (all of it when `held` is null): whole documents, or a document's held-out tail. */
export async function* documentsOf(sources: { source: CorpusSource; name: string }[], held: HeldOutSet | null): AsyncGenerator<Document> {
  for (const { source, name } of sources) {
    for await (const d of source.documents()) {
      const id = `${name}/${d.id}`;
      if (held?.tail?.id === id) yield { ...d, text: d.text.slice(held.tail.fromChar) };
      else if (held === null || held.ids.has(id)) yield d;
    }
  }
}
