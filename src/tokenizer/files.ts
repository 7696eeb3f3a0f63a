// Tokenizer folders on disk. A folder holds tokenizer.json and/or vocab.json + merges.txt (a
// Hugging Face GPT-2 folder has both), and usually tokenizer_config.json (BOS/EOS, chat template)
// and maybe chat_template.jinja. Saving genlab's byte-level BPE writes both formats plus
// tokenizer_config.json; saving a Hugging Face tokenizer writes back the files it was read from.

import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import {
  byteLevelFromJson,
  isGpt2StyleJson,
  mergesTxtString,
  parseVocabMerges,
  tokenizerConfigString,
  tokenizerJsonString,
  vocabJsonString,
} from './formats.ts';
import { HfTokenizer, type SourceFile } from './hf-tokenizer.ts';
import { ByteLevelTokenizer, type Tokenizer } from './tokenizer.ts';
import { parseTokenizerConfig, type TokenizerConfig } from './tokenizer-config.ts';
import { describe, isObject, parseJson, TokenizerFileError } from './tokenizer-json.ts';

export type TokenizerFormat = 'tokenizer.json' | 'vocab+merges';

export interface SaveTokenizerOptions {
  /** Which formats to write (default both). */
  formats?: TokenizerFormat[];
}

/**
 * Saves `tok` into folder `dir` (created if missing) and returns the paths written. A Hugging Face
 * tokenizer is saved as the files it was read from (`formats` does not apply to it).
 */
export async function saveTokenizer(dir: string, tok: Tokenizer, opts: SaveTokenizerOptions = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  let files: [string, string][];
  if (tok instanceof HfTokenizer) {
    files = tok.files.map((f) => [f.name, f.text]);
  } else if (tok instanceof ByteLevelTokenizer) {
    const formats = opts.formats ?? ['tokenizer.json', 'vocab+merges'];
    files = [];
    if (formats.includes('tokenizer.json')) files.push(['tokenizer.json', tokenizerJsonString(tok)]);
    if (formats.includes('vocab+merges')) {
      files.push(['vocab.json', vocabJsonString(tok)], ['merges.txt', mergesTxtString(tok)]);
    }
    files.push(['tokenizer_config.json', tokenizerConfigString(tok)]);
  } else {
    throw new Error('saveTokenizer needs a ByteLevelTokenizer or an HfTokenizer');
  }
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

async function readIfExists(path: string): Promise<string | null> {
  return (await exists(path)) ? readFile(path, 'utf8') : null;
}

/**
 * A tokenizer.json: GPT-2-style byte-level BPE takes the fast ByteLevelTokenizer, everything else
 * (Llama, Mistral, Qwen, ...) HfTokenizer. `sources` are the files an HfTokenizer saves back.
 */
function fromTokenizerJson(text: string, file: string, config: TokenizerConfig, sources: SourceFile[]): Tokenizer {
  const json = parseJson(text, file);
  if (!isObject(json)) throw new TokenizerFileError(file, `expected a JSON object, found ${describe(json)}`);
  if (isGpt2StyleJson(json)) return byteLevelFromJson(json, file, config);
  return new HfTokenizer(json, file, config, [{ name: 'tokenizer.json', text }, ...sources]);
}

/**
 * Loads a tokenizer from a folder holding tokenizer.json or vocab.json + merges.txt (with
 * tokenizer_config.json and chat_template.jinja when present), or from a path to a tokenizer.json
 * file.
 */
export async function loadTokenizer(path: string, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new Error(`tokenizer path ${path} does not exist; pass a folder with tokenizer.json or vocab.json + merges.txt`);
  }
  if (st.isFile()) return fromTokenizerJson(await readFile(path, 'utf8'), path, parseTokenizerConfig(null), []);

  const tj = join(path, 'tokenizer.json');
  const vj = join(path, 'vocab.json');
  const mt = join(path, 'merges.txt');
  const hasTj = await exists(tj);
  const hasVm = (await exists(vj)) && (await exists(mt));
  const configFile = join(path, 'tokenizer_config.json');
  const configText = await readIfExists(configFile);
  const jinja = await readIfExists(join(path, 'chat_template.jinja'));
  const config = parseTokenizerConfig(configText, configFile, jinja);
  if (hasTj && (!hasVm || opts.prefer !== 'vocab+merges')) {
    const sources: SourceFile[] = [];
    if (configText !== null) sources.push({ name: 'tokenizer_config.json', text: configText });
    if (jinja !== null) sources.push({ name: 'chat_template.jinja', text: jinja });
    return fromTokenizerJson(await readFile(tj, 'utf8'), tj, config, sources);
  }
  if (hasVm) return parseVocabMerges(await readFile(vj, 'utf8'), await readFile(mt, 'utf8'), vj, mt, config);
  const partial = (await exists(vj)) ? ` (found vocab.json but no merges.txt)` : (await exists(mt)) ? ` (found merges.txt but no vocab.json)` : '';
  throw new Error(`no tokenizer in ${path}${partial}: expected tokenizer.json or vocab.json + merges.txt`);
}
