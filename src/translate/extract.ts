// `genlab data translation-pairs`: installs the Debian packages that hold the parallel text when
// they are missing (apt-get), extracts sentence pairs with the parsers in this folder (ding.ts for
// trans-de-en, sword.ts for the zText Bibles; no diatheke), splits them into train/valid/test and
// writes them with their attribution.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { dingHeader, parseDing, parseDingPhrases } from './ding.ts';
import { hashString, splitByHash, writePairsTsv, type Pair } from './pairs.ts';
import { alignVerses, DEFAULT_SWORD_ROOT, readModuleVerses } from './sword.ts';

export const PAIR_NAMES = ['en-de', 'de-en', 'en-es', 'es-en'] as const;
export type PairName = (typeof PAIR_NAMES)[number];

export const DING_FILE = '/usr/share/trans/de-en';
const KJV = 'engKJV2006eb';
const RV = 'spaRV1909eb';

export interface ExtractOptions {
  pair: PairName;
  /** Output folder: train.tsv, valid.tsv, test.tsv, SOURCE.md, stats.json. */
  out: string;
  /** Install missing Debian packages with apt-get (default true). */
  install?: boolean;
  testFraction?: number;
  validFraction?: number;
  seed?: number;
  /**
   * en-de/de-en only: add up to this many of the dictionary's word and phrase pairs to the
   * training split (a seeded random sample; default 0). Validation and test stay sentences.
   */
  phrases?: number;
  /** Where the data lives (tests point these at fixtures). */
  dingFile?: string;
  swordRoot?: string;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
}

export interface ExtractResult {
  pair: PairName;
  files: { train: string; valid: string; test: string; source: string };
  counts: { train: number; valid: number; test: number };
  stats: Record<string, unknown>;
}

/** Installs Debian packages with apt-get, running apt-get update once if the lists are stale. */
export function aptInstall(packages: readonly string[], log: (line: string) => void): void {
  const install = (): ReturnType<typeof spawnSync> => spawnSync('apt-get', ['install', '-y', '-q', ...packages], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  log(`installing ${packages.join(' ')} with apt-get…`);
  let r = install();
  if (r.error) throw new Error(`cannot run apt-get (${r.error.message}); install ${packages.join(' ')} with your package manager, or pass the data paths explicitly`);
  if (r.status !== 0 && /Unable to locate package|has no installation candidate/.test(String(r.stderr))) {
    log('apt-get update…');
    const u = spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8' });
    if (u.status !== 0) throw new Error(`apt-get update failed: ${String(u.stderr).trim().split('\n').pop()}`);
    r = install();
  }
  if (r.status !== 0) {
    const why = String(r.stderr).trim().split('\n').pop() ?? '';
    throw new Error(`apt-get install ${packages.join(' ')} failed (${why}); run it as root (sudo apt-get install -y ${packages.join(' ')}) and retry`);
  }
}

function ensure(paths: readonly string[], packages: readonly string[], install: boolean, log: (line: string) => void): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return;
  if (!install) throw new Error(`missing ${missing.join(', ')}; install it with \`apt-get install -y ${packages.join(' ')}\` (or drop --no-install)`);
  aptInstall(packages, log);
  const still = paths.filter((p) => !existsSync(p));
  if (still.length > 0) throw new Error(`apt-get installed ${packages.join(' ')} but ${still.join(', ')} is still missing`);
}

const DING_ATTRIBUTION = (header: string[]): string => `# English–German sentence pairs from the Ding dictionary

Source: Debian package \`trans-de-en\` (\`/usr/share/trans/de-en\`), the German–English dictionary of
the Ding program by Frank Richter, TU Chemnitz (https://dict.tu-chemnitz.de/).

The dictionary's own header:

${header.map((l) => `    ${l}`).join('\n')}

Licence: GNU General Public License, version 2 or later (GPL-2+). These files are derived from the
dictionary and are distributed under the same licence; keep this notice with them.

Extraction (src/translate/ding.ts): each entry's " | "-separated sub-entries are aligned
German↔English; the pairs where both sides are sentences (three words or more, sentence-final
punctuation) are kept, with the first "; " alternative of each side, {…}/[…]/<…> annotations and
(…) optional words removed, curly apostrophes straightened; sentences with slash alternatives
("meine/die") or placeholders (etw., jdn., sth., sb.) are dropped; exact duplicates are removed.
`;

const BIBLE_ATTRIBUTION = `# English–Spanish verse pairs from two public-domain Bibles

Sources: Debian packages \`sword-text-kjv\` (SWORD module ${KJV}: King James Version, 1769 text)
and \`sword-text-sparv\` (SWORD module ${RV}: Reina-Valera 1909), from CrossWire / eBible.org.
Both modules state: "This work is not copyrighted. It is in the Public Domain."

Extraction (src/translate/sword.ts): the zText files are read directly (zlib blocks with the
.bzs/.bzv indexes; no libsword or diatheke); both modules use the KJV versification, so the
entries at the same index are the same verse. OSIS markup, notes and section headings are
removed; the Psalms' canonical titles are kept (both editions put them in verse 1).
`;

/** Extracts, splits and writes one language pair. */
export async function extractTranslationPairs(o: ExtractOptions): Promise<ExtractResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const install = o.install ?? true;
  if (!PAIR_NAMES.includes(o.pair)) throw new Error(`--pair must be one of ${PAIR_NAMES.join(', ')}, got '${o.pair}'`);
  const [src, tgt] = o.pair.split('-') as [string, string];
  let pairs: Pair[];
  let attribution: string;
  let stats: Record<string, unknown>;
  let extraTrain: Pair[] = [];
  if (o.pair === 'en-de' || o.pair === 'de-en') {
    const file = o.dingFile ?? DING_FILE;
    ensure([file], ['trans-de-en'], install && o.dingFile === undefined, log);
    const text = readFileSync(file, 'utf8');
    const parsed = parseDing(text);
    pairs = parsed.pairs.map((p) => (src === 'en' ? { source: p.en, target: p.de } : { source: p.de, target: p.en }));
    attribution = DING_ATTRIBUTION(dingHeader(text));
    stats = { source: file, ...parsed.stats };
    if (o.phrases) {
      // A seeded sample: the phrases with the smallest hashes (stable as the dictionary grows).
      const all = parseDingPhrases(text).map((p) => ({ p, h: hashString(`${p.de}\t${p.en}`, o.seed ?? 0) }));
      all.sort((a, b) => a.h - b.h);
      extraTrain = all.slice(0, o.phrases).map(({ p }) => (src === 'en' ? { source: p.en, target: p.de } : { source: p.de, target: p.en }));
      stats = { ...stats, phrasesAvailable: all.length, phrasesAdded: extraTrain.length };
    }
  } else {
    const root = o.swordRoot ?? DEFAULT_SWORD_ROOT;
    ensure([path.join(root, 'mods.d', `${KJV}.conf`), path.join(root, 'mods.d', `${RV}.conf`)], ['sword-text-kjv', 'sword-text-sparv'], install && o.swordRoot === undefined, log);
    const en = readModuleVerses(KJV, root);
    const es = readModuleVerses(RV, root);
    const verses = alignVerses(en, es);
    pairs = verses.map((v) => (src === 'en' ? { source: v.a, target: v.b } : { source: v.b, target: v.a }));
    attribution = BIBLE_ATTRIBUTION;
    stats = { source: root, versesEnglish: en.verses.length, versesSpanish: es.verses.length, aligned: verses.length };
  }
  const english = (p: Pair): string => (src === 'en' ? p.source : p.target);
  const split = splitByHash(pairs, english, { ...(o.testFraction !== undefined ? { testFraction: o.testFraction } : {}), ...(o.validFraction !== undefined ? { validFraction: o.validFraction } : {}), seed: o.seed ?? 0 });
  await mkdir(o.out, { recursive: true });
  const files = { train: path.join(o.out, 'train.tsv'), valid: path.join(o.out, 'valid.tsv'), test: path.join(o.out, 'test.tsv'), source: path.join(o.out, 'SOURCE.md') };
  // Phrases go to training only, after the sentences (training shuffles).
  await writePairsTsv(files.train, [...split.train, ...extraTrain]);
  await writePairsTsv(files.valid, split.valid);
  await writePairsTsv(files.test, split.test);
  const counts = { train: split.train.length + extraTrain.length, valid: split.valid.length, test: split.test.length };
  const phraseNote = extraTrain.length ? ` The training file also holds ${extraTrain.length} of the dictionary's word and phrase pairs (after the sentences; annotations and placeholders such as etw./sth. removed).` : '';
  await writeFileAtomic(files.source, `${attribution}\nDirection: ${src} → ${tgt} (column 1 → column 2). Split by a hash of the English side: train ${counts.train}, valid ${counts.valid}, test ${counts.test} pairs.${phraseNote}\n`);
  await writeJsonAtomic(path.join(o.out, 'stats.json'), { pair: o.pair, counts, ...stats });
  log(`${o.pair}: ${pairs.length} pairs → ${files.train} (${counts.train}), ${files.valid} (${counts.valid}), ${files.test} (${counts.test})`);
  return { pair: o.pair, files, counts, stats };
}
