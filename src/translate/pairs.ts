// Sentence pairs on disk: one pair per line, source TAB target (UTF-8), and the deterministic
// train/valid/test split. The split hashes a key (the English side), so a sentence that occurs
// twice lands in the same part both times and never leaks from training into the test set.

import { readFile } from 'node:fs/promises';
import { mix32 } from '../backend/rng.ts';
import { writeFileAtomic } from '../util/atomic.ts';

export interface Pair {
  source: string;
  target: string;
}

/** Parses TSV text of source\ttarget lines; blank lines are skipped, anything else malformed is an error. */
export function parsePairsTsv(text: string, file = '<pairs>'): Pair[] {
  const out: Pair[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const parts = line.split('\t');
    if (parts.length !== 2) {
      throw new Error(`${file}:${i + 1}: expected "source<TAB>target", found ${parts.length - 1} tab(s) in ${JSON.stringify(line.slice(0, 80))}; write one pair per line with exactly one tab`);
    }
    const source = parts[0]!.trim();
    const target = parts[1]!.trim();
    if (!source || !target) throw new Error(`${file}:${i + 1}: the ${source ? 'target' : 'source'} is empty; every line needs text on both sides of the tab`);
    out.push({ source, target });
  }
  return out;
}

export async function readPairsTsv(file: string): Promise<Pair[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read pairs file ${file}: ${(err as Error).message}; make one with \`genlab data translation-pairs --pair en-de --out DIR\``);
  }
  const pairs = parsePairsTsv(text, file);
  if (pairs.length === 0) throw new Error(`${file} holds no sentence pairs; expected lines of "source<TAB>target"`);
  return pairs;
}

/** Tabs and line breaks inside a sentence would break the format: they become spaces. */
function field(s: string): string {
  return s.replace(/[\t\r\n]+/g, ' ').trim();
}

export function formatPairsTsv(pairs: readonly Pair[]): string {
  return pairs.map((p) => `${field(p.source)}\t${field(p.target)}\n`).join('');
}

export async function writePairsTsv(file: string, pairs: readonly Pair[]): Promise<void> {
  await writeFileAtomic(file, formatPairsTsv(pairs));
}

/** FNV-1a over UTF-16 units, finished with a 32-bit mix: a stable hash of a string. */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return mix32(h);
}

export interface SplitOptions {
  /** Share of keys in the test split (default 0.03). */
  testFraction?: number;
  /** Share of keys in the validation split (default 0.02). */
  validFraction?: number;
  /** Changes which keys are held out (default 0). */
  seed?: number;
}

/** Splits items by a hash of keyOf(item): the same key always lands in the same part. */
export function splitByHash<T>(items: readonly T[], keyOf: (t: T) => string, o: SplitOptions = {}): { train: T[]; valid: T[]; test: T[] } {
  const test = o.testFraction ?? 0.03;
  const valid = o.validFraction ?? 0.02;
  if (!(test >= 0 && valid >= 0 && test + valid < 1)) throw new Error(`split fractions must be >= 0 and sum below 1, got test ${test} and valid ${valid}`);
  const out = { train: [] as T[], valid: [] as T[], test: [] as T[] };
  for (const item of items) {
    const u = hashString(keyOf(item).toLowerCase().replace(/\s+/g, ' ').trim(), o.seed ?? 0) / 4294967296;
    if (u < test) out.test.push(item);
    else if (u < test + valid) out.valid.push(item);
    else out.train.push(item);
  }
  return out;
}
