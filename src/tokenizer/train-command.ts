// `genlab tokenizer train <files...> --vocab-size N --out DIR`, as a function so the CLI stays thin.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { saveTokenizer } from './files.ts';
import { trainProgressBar } from './progress.ts';
import type { ByteLevelTokenizer } from './tokenizer.ts';
import { trainBpe } from './train.ts';

export interface TokenizerTrainCommandOptions {
  vocabSize: number;
  out: string;
  minFrequency?: number;
  specialTokens?: string[];
  /** No progress bar or summary (default false). */
  quiet?: boolean;
}

export interface TokenizerTrainResult {
  tokenizer: ByteLevelTokenizer;
  inputFiles: string[];
  inputBytes: number;
  written: string[];
  seconds: number;
}

/** Expands the arguments: files as given, folders to their .txt files (recursively, sorted). */
export async function collectTextFiles(paths: string[]): Promise<{ path: string; bytes: number }[]> {
  if (paths.length === 0) throw new Error('no input files: pass text files or folders of .txt files');
  const out: { path: string; bytes: number }[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith('.txt')) out.push({ path: p, bytes: (await stat(p)).size });
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new Error(`input ${p} does not exist`);
    }
    if (st.isDirectory()) {
      const before = out.length;
      await walk(p);
      if (out.length === before) throw new Error(`folder ${p} has no .txt files`);
    } else {
      out.push({ path: p, bytes: st.size });
    }
  }
  return out;
}

/** Trains on the files, saves tokenizer.json + vocab.json + merges.txt into `opts.out`. */
export async function tokenizerTrainCommand(files: string[], opts: TokenizerTrainCommandOptions): Promise<TokenizerTrainResult> {
  const inputs = await collectTextFiles(files);
  const totalBytes = inputs.reduce((s, f) => s + f.bytes, 0);
  const t0 = performance.now();

  // Files are read one at a time; progress (reported in characters) is mapped back to bytes so
  // the bar's total is known before reading.
  const charStarts: number[] = [];
  const byteStarts: number[] = [];
  const ratios: number[] = [];
  async function* texts(): AsyncGenerator<string> {
    let chars = 0;
    let bytes = 0;
    for (const f of inputs) {
      let text: string;
      try {
        text = await readFile(f.path, 'utf8');
      } catch (e) {
        throw new Error(`cannot read ${f.path}: ${(e as Error).message}`);
      }
      charStarts.push(chars);
      byteStarts.push(bytes);
      ratios.push(text.length > 0 ? f.bytes / text.length : 0);
      chars += text.length;
      bytes += f.bytes;
      yield text;
    }
  }
  const toBytes = (chars: number): number => {
    let i = charStarts.length - 1;
    while (i > 0 && charStarts[i]! > chars) i--;
    if (i < 0) return 0;
    return byteStarts[i]! + (chars - charStarts[i]!) * ratios[i]!;
  };

  const bar = opts.quiet ? null : trainProgressBar(totalBytes, (p) => toBytes(p.chars));
  let tokenizer: ByteLevelTokenizer;
  try {
    const trainOpts = {
      vocabSize: opts.vocabSize,
      ...(opts.minFrequency !== undefined ? { minFrequency: opts.minFrequency } : {}),
      ...(opts.specialTokens !== undefined ? { specialTokens: opts.specialTokens } : {}),
      ...(bar ? { onProgress: bar.onProgress } : {}),
    };
    tokenizer = await trainBpe(texts(), trainOpts);
  } finally {
    bar?.stop();
  }
  const written = await saveTokenizer(opts.out, tokenizer);
  const seconds = (performance.now() - t0) / 1000;
  if (!opts.quiet) {
    const mb = totalBytes / 1e6;
    console.log(
      `trained on ${inputs.length} file(s), ${mb.toFixed(1)} MB in ${seconds.toFixed(1)} s (${(mb / seconds).toFixed(2)} MB/s): ` +
        `vocab ${tokenizer.vocabSize} (${tokenizer.merges.length} merges, ${tokenizer.specialTokens.size} special)`,
    );
    if (tokenizer.vocabSize < opts.vocabSize) {
      console.log(`note: vocabulary is smaller than the requested ${opts.vocabSize}: no pair left occurs often enough (minFrequency)`);
    }
    console.log(`wrote ${written.join(', ')}`);
  }
  return { tokenizer, inputFiles: inputs.map((f) => f.path), inputBytes: totalBytes, written, seconds };
}
