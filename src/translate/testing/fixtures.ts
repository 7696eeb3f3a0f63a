// A synthetic language pair for tests: English number, colour and animal words → their German
// words in the same order. A tiny translator learns it in a few hundred steps, so tests can
// check that training, decoding, scoring and serving produce real translations.

import type { Device } from '../../backend/device.ts';
import { Rng } from '../../backend/rng.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadTranslator, type LoadedTranslationModel } from '../folder.ts';
import { formatPairsTsv, type Pair } from '../pairs.ts';
import { trainTranslator } from '../train.ts';

export const SYNTHETIC_DICT: Readonly<Record<string, string>> = {
  one: 'eins', two: 'zwei', three: 'drei', four: 'vier', five: 'fünf', six: 'sechs', seven: 'sieben', eight: 'acht', nine: 'neun', ten: 'zehn',
  red: 'rot', blue: 'blau', green: 'grün', black: 'schwarz', white: 'weiß', cat: 'Katze', dog: 'Hund', house: 'Haus',
};

/** n sentence pairs of 2–5 words, e.g. "two red cat." → "zwei rot Katze.". */
export function syntheticPairs(n: number, seed: number): Pair[] {
  const words = Object.keys(SYNTHETIC_DICT);
  const rng = new Rng(seed);
  const out: Pair[] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + Math.floor(rng.uniform() * 4);
    const picked = Array.from({ length: len }, () => words[Math.floor(rng.uniform() * words.length)]!);
    out.push({ source: picked.join(' ') + '.', target: picked.map((w) => SYNTHETIC_DICT[w]).join(' ') + '.' });
  }
  return out;
}

/** The word-by-word reference translation of a synthetic sentence. */
export function syntheticTranslation(source: string): string {
  return source.replace(/[a-z]+/g, (w) => SYNTHETIC_DICT[w] ?? w);
}

/**
 * Writes the synthetic pairs as dir/en-de/{train,valid,test}.tsv (2400/100/100) and, with
 * `train`, trains translate-tiny on them into dir/model (a few seconds on one thread).
 */
export async function syntheticTranslator(dir: string, opts: { device?: Device; steps?: number } = {}): Promise<{ data: string; modelDir: string; test: Pair[]; load: () => Promise<LoadedTranslationModel> }> {
  const data = path.join(dir, 'en-de');
  await mkdir(data, { recursive: true });
  const all = syntheticPairs(2600, 1);
  await writeFile(path.join(data, 'train.tsv'), formatPairsTsv(all.slice(0, 2400)));
  await writeFile(path.join(data, 'valid.tsv'), formatPairsTsv(all.slice(2400, 2500)));
  await writeFile(path.join(data, 'test.tsv'), formatPairsTsv(all.slice(2500)));
  const modelDir = path.join(dir, 'model');
  const load = (): Promise<LoadedTranslationModel> => loadTranslator(modelDir, opts.device ? { device: opts.device } : {});
  if (opts.steps) {
    await trainTranslator({ pairs: path.join(data, 'train.tsv'), out: modelDir, model: 'translate-tiny', steps: opts.steps, batchTokens: 256, evalEvery: opts.steps, dropout: 0.05, seed: 3, quiet: true, ...(opts.device ? { device: opts.device } : {}) });
  }
  return { data, modelDir, test: all.slice(2500), load };
}
