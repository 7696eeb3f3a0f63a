// Tokenizer folders on disk. A folder holds tokenizer.json and/or vocab.json + merges.txt (a
// Hugging Face GPT-2 folder has both); saving writes both plus tokenizer_config.json.

import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import {
  mergesTxtString,
  parseTokenizerJson,
  parseVocabMerges,
  tokenizerConfigString,
  tokenizerJsonString,
  vocabJsonString,
} from './formats.ts';
import type { Tokenizer } from './tokenizer.ts';

export type TokenizerFormat = 'tokenizer.json' | 'vocab+merges';

export interface SaveTokenizerOptions {
  /** Which formats to write (default both). */
  formats?: TokenizerFormat[];
}

/** Saves `tok` into folder `dir` (created if missing) and returns the paths written. */
export async function saveTokenizer(dir: string, tok: Tokenizer, opts: SaveTokenizerOptions = {}): Promise<string[]> {
  const formats = opts.formats ?? ['tokenizer.json', 'vocab+merges'];
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [];
  if (formats.includes('tokenizer.json')) files.push(['tokenizer.json', tokenizerJsonString(tok)]);
  if (formats.includes('vocab+merges')) {
    files.push(['vocab.json', vocabJsonString(tok)], ['merges.txt', mergesTxtString(tok)]);
  }
  files.push(['tokenizer_config.json', tokenizerConfigString(tok)]);
  const written: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    await writeFileAtomic(path, text);
    written.push(path);
  }
  return written;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface LoadTokenizerOptions {
  /** Prefer this format when the folder has both (default 'tokenizer.json'). */
  prefer?: TokenizerFormat;
}

/**
 * Loads a tokenizer from a folder holding tokenizer.json or vocab.json + merges.txt, or from a path
 * to a tokenizer.json file.
 */
export async function loadTokenizer(path: string, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new Error(`tokenizer path ${path} does not exist; pass a folder with tokenizer.json or vocab.json + merges.txt`);
  }
  if (st.isFile()) return parseTokenizerJson(await readFile(path, 'utf8'), path);

  const tj = join(path, 'tokenizer.json');
  const vj = join(path, 'vocab.json');
  const mt = join(path, 'merges.txt');
  const hasTj = await exists(tj);
  const hasVm = (await exists(vj)) && (await exists(mt));
  if (hasTj && (!hasVm || opts.prefer !== 'vocab+merges')) {
    return parseTokenizerJson(await readFile(tj, 'utf8'), tj);
  }
  if (hasVm) return parseVocabMerges(await readFile(vj, 'utf8'), await readFile(mt, 'utf8'), vj, mt);
  const partial = (await exists(vj)) ? ` (found vocab.json but no merges.txt)` : (await exists(mt)) ? ` (found merges.txt but no vocab.json)` : '';
  throw new Error(`no tokenizer in ${path}${partial}: expected tokenizer.json or vocab.json + merges.txt`);
}
