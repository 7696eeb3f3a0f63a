// What a preference-training run (DPO, reward model, the app's Align tab) records about its data:
// the pairs as read, pinned by a hash of their text, and the held-out pairs by where they came from.

import type { DataFacts } from '../record/run-record.ts';
import { sha256Hex } from '../record/record-writer.ts';
import type { PreferencePair, TokenizedPair } from './preferences.ts';

/** Held-out pairs listed by source up to this many (as the corpus split lists documents). */
const MAX_LISTED = 1000;

const pairTokens = (p: TokenizedPair): number => 2 * p.prompt.length + p.chosen.length + p.rejected.length;

export function preferenceDataFacts(o: {
  /** How the data is named: the file as given, or "app feedback". */
  name: string;
  path: string | null;
  raw: readonly PreferencePair[];
  train: readonly TokenizedPair[];
  val: readonly TokenizedPair[];
  valFraction: number;
  seed: number;
}): DataFacts {
  const text = o.raw.map((p) => JSON.stringify({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })).join('\n');
  const sum = (ps: readonly TokenizedPair[]): number => ps.reduce((a, p) => a + pairTokens(p), 0);
  return {
    sources: [
      {
        name: o.name,
        kind: 'preference-pairs',
        path: o.path,
        bytes: Buffer.byteLength(text),
        documents: o.raw.length,
        sha256: sha256Hex(text),
        hashed: 'the pairs as read, one JSON object {"prompt","chosen","rejected"} per line, joined by newlines',
        trainDocuments: o.train.length,
        valDocuments: o.val.length,
      },
    ],
    trainTokens: sum(o.train),
    valTokens: sum(o.val),
    trainDocuments: o.train.length,
    valDocuments: o.val.length,
    split: {
      method: 'whole pairs held out by a seeded shuffle (none when there are fewer than 10)',
      valFraction: o.valFraction,
      seed: o.seed,
      ...(o.val.length <= MAX_LISTED ? { valDocumentIds: o.val.map((p) => p.source) } : {}),
    },
    cleaningReport: null,
  };
}
