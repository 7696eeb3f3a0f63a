// The translation commands' work (the CLI in src/cli/translate-commands.ts only parses flags):
// `genlab train --task translate`, `genlab translate`, `genlab eval --task translate` and
// `genlab bleu`.

import { readFile } from 'node:fs/promises';
import { defaultDevice } from '../backend/registry.ts';
import { recordEvaluation } from '../account/run-record.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { progressBar } from '../cli/progress.ts';
import { loadTranslator } from './folder.ts';
import { BLEU_SIGNATURE, CHRF_SIGNATURE, bleuAndChrf } from './metrics.ts';
import { readPairsTsv } from './pairs.ts';
import { sourceIds, translateIds, translateText } from './translate.ts';
import { trainTranslator, type TranslateTrainResult } from './train.ts';

/** Options of `genlab train` that apply to --task translate (the rest are for language models). */
export interface TranslateTrainCliOptions {
  pairs?: string;
  validPairs?: string;
  model?: string;
  out?: string;
  minutes?: number;
  steps?: number;
  batchTokens?: number;
  lr?: number;
  warmup?: number;
  weightDecay?: number;
  dropout?: number;
  vocabSize?: number;
  evalEvery?: number;
  positions?: 'sinusoidal' | 'learned';
  tieEmbeddings?: boolean;
  seed?: number;
}

/** `genlab train --task translate --pairs FILE.tsv` (pass only flags the user gave: the language-model defaults do not apply). */
export async function translateTrainCommand(o: TranslateTrainCliOptions): Promise<TranslateTrainResult> {
  if (!o.pairs) throw new Error('--task translate needs --pairs FILE.tsv (source<TAB>target lines); make one with `genlab data translation-pairs --pair en-de --out DIR`');
  const model = o.model ?? 'translate-small';
  const out = o.out ?? 'models/translate';
  try {
    return await trainTranslator({
      pairs: o.pairs,
      out,
      model,
      ...(o.validPairs ? { validPairs: o.validPairs } : {}),
      ...(o.minutes !== undefined ? { minutes: o.minutes } : {}),
      ...(o.steps !== undefined ? { steps: o.steps } : {}),
      ...(o.batchTokens !== undefined ? { batchTokens: o.batchTokens } : {}),
      ...(o.lr !== undefined ? { lr: o.lr } : {}),
      ...(o.warmup !== undefined ? { warmup: o.warmup } : {}),
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
      ...(o.dropout ? { dropout: o.dropout } : {}),
      ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize } : {}),
      ...(o.evalEvery ? { evalEvery: o.evalEvery } : {}),
      ...(o.positions ? { positions: o.positions } : {}),
      ...(o.tieEmbeddings ? { tieWordEmbeddings: true } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    });
  } finally {
    await defaultDevice().close();
  }
}

export interface TranslateCommandOptions {
  model: string;
  text?: string;
  /** A file of sentences, one per line; the translations are printed (or written to output) one per line. */
  file?: string;
  output?: string;
  beam?: number;
  greedy?: boolean;
  lengthPenalty?: number;
  maxLength?: number;
  json?: boolean;
}

export async function translateCommand(o: TranslateCommandOptions): Promise<unknown> {
  if ((o.text === undefined) === (o.file === undefined)) throw new Error('give the text to translate with --text "..." or a file of sentences with --file FILE (one of them)');
  const tm = await loadTranslator(o.model);
  const beamSize = o.greedy ? 1 : (o.beam ?? tm.generation.numBeams);
  const opts = { beamSize, lengthPenalty: o.lengthPenalty ?? tm.generation.lengthPenalty, ...(o.maxLength ? { maxLength: o.maxLength } : {}) };
  try {
    if (o.text !== undefined) {
      const r = translateText(tm, o.text, opts);
      if (o.json) console.log(JSON.stringify({ model: o.model, source_lang: tm.model.config.sourceLang, target_lang: tm.model.config.targetLang, beam: beamSize, ...r }));
      else console.log(r.translation);
      return r;
    }
    const lines = (await readFile(o.file!, 'utf8')).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const bar = o.output ? progressBar(lines.length, 'translate', '') : null;
    const out: string[] = [];
    for (const line of lines) {
      out.push(line.trim() ? translateText(tm, line, opts).translation : '');
      bar?.update(out.length);
    }
    bar?.stop();
    if (o.output) await writeFileAtomic(o.output, out.map((l) => l + '\n').join(''));
    else if (o.json) console.log(JSON.stringify({ model: o.model, beam: beamSize, translations: out }));
    else for (const l of out) console.log(l);
    return out;
  } finally {
    await defaultDevice().close();
  }
}

export interface TranslateEvalOptions {
  model: string;
  pairs: string;
  beam?: number;
  greedy?: boolean;
  lengthPenalty?: number;
  /** Evaluate the first n pairs only. */
  limit?: number;
  /** Write the hypotheses here, one per line (for `genlab bleu` or sacreBLEU). */
  hypsOut?: string;
  json?: boolean;
}

export interface TranslateEvalResult {
  bleu: number;
  chrf: number;
  sentences: number;
  beam: number;
  lengthPenalty: number;
  bleuSignature: string;
  chrfSignature: string;
  /** "57.1/28.3/15.0/8.7 (BP = 1.000 ratio = 1.012 hyp_len = 4321 ref_len = 4270)", as sacreBLEU prints. */
  bleuDetail: string;
  seconds: number;
}

/** `genlab eval --task translate`: corpus BLEU and chrF of the model's translations of a pairs file. */
export async function translateEvalCommand(o: TranslateEvalOptions): Promise<TranslateEvalResult> {
  const tm = await loadTranslator(o.model);
  let pairs = await readPairsTsv(o.pairs);
  if (o.limit !== undefined) pairs = pairs.slice(0, o.limit);
  const beam = o.greedy ? 1 : (o.beam ?? tm.generation.numBeams);
  const lengthPenalty = o.lengthPenalty ?? tm.generation.lengthPenalty;
  const t0 = performance.now();
  const bar = o.json ? null : progressBar(pairs.length, 'translate', '');
  const hyps: string[] = [];
  try {
    for (const [i, p] of pairs.entries()) {
      // A test sentence is translated whole (as it was paired), even if it holds several sentences.
      let src: number[];
      try {
        src = sourceIds(tm, p.source);
      } catch (err) {
        throw new Error(`${o.pairs}, pair ${i + 1}: ${(err as Error).message}`);
      }
      const best = translateIds(tm, src, { beamSize: beam, lengthPenalty })[0]!;
      hyps.push(tm.tokenizer.decode(best.tokens).trim());
      bar?.update(hyps.length);
    }
  } finally {
    bar?.stop();
    await defaultDevice().close();
  }
  const { bleu, chrf, detail } = bleuAndChrf(hyps, [pairs.map((p) => p.target)]);
  const result: TranslateEvalResult = {
    bleu,
    chrf,
    sentences: pairs.length,
    beam,
    lengthPenalty,
    bleuSignature: BLEU_SIGNATURE,
    chrfSignature: CHRF_SIGNATURE,
    bleuDetail: `${detail.precisions.map((p) => p.toFixed(1)).join('/')} (BP = ${detail.bp.toFixed(3)} ratio = ${(detail.sysLen / Math.max(1, detail.refLen)).toFixed(3)} hyp_len = ${detail.sysLen} ref_len = ${detail.refLen})`,
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.hypsOut) await writeFileAtomic(o.hypsOut, hyps.map((h) => h + '\n').join(''));
  if (o.json) console.log(JSON.stringify(result));
  else {
    console.log(`BLEU ${bleu.toFixed(2)}  chrF ${chrf.toFixed(2)}  on ${pairs.length} pairs of ${o.pairs}, ${beam === 1 ? 'greedy' : `beam ${beam}, length penalty ${lengthPenalty}`} (${result.seconds.toFixed(0)} s)`);
    console.log(`BLEU ${result.bleuDetail}  [${BLEU_SIGNATURE}]`);
  }
  const command = `genlab eval --task translate --model ${o.model} --pairs ${o.pairs}${o.beam ? ` --beam ${o.beam}` : ''}${o.greedy ? ' --greedy' : ''}${o.limit !== undefined ? ` --limit ${o.limit}` : ''}`;
  try {
    await recordEvaluation(o.model, { name: 'translation', data: o.pairs, metrics: { bleu, chrf, sentences: pairs.length, beam, lengthPenalty }, createdAt: new Date().toISOString(), command, details: { bleuSignature: BLEU_SIGNATURE, chrfSignature: CHRF_SIGNATURE, bleuDetail: result.bleuDetail } });
  } catch (err) {
    process.stderr.write(`genlab: the result was not recorded in ${o.model}: ${(err as Error).message}\n`);
  }
  return result;
}

/** Reads a file of one sentence per line (a final newline does not add an empty sentence). */
export async function readLines(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** `genlab bleu HYP REF [REF...]`: corpus BLEU and chrF of a hypothesis file against reference file(s). */
export async function bleuCommand(hypFile: string, refFiles: readonly string[], o: { json?: boolean } = {}): Promise<{ bleu: number; chrf: number }> {
  if (refFiles.length === 0) throw new Error('give the reference file after the hypothesis file: genlab bleu HYP_FILE REF_FILE');
  const hyps = await readLines(hypFile);
  const refs = await Promise.all(refFiles.map(readLines));
  refs.forEach((r, i) => {
    if (r.length !== hyps.length) throw new Error(`${refFiles[i]} has ${r.length} lines but ${hypFile} has ${hyps.length}; both need one sentence per line, in the same order`);
  });
  const { bleu, chrf, detail } = bleuAndChrf(hyps, refs);
  const signature = BLEU_SIGNATURE.replace('nrefs:1', `nrefs:${refs.length}`);
  if (o.json) console.log(JSON.stringify({ bleu, chrf }));
  else {
    console.log(`BLEU = ${bleu.toFixed(2)} ${detail.precisions.map((p) => p.toFixed(1)).join('/')} (BP = ${detail.bp.toFixed(3)} ratio = ${(detail.sysLen / Math.max(1, detail.refLen)).toFixed(3)} hyp_len = ${detail.sysLen} ref_len = ${detail.refLen})  [${signature}]`);
    console.log(`chrF2 = ${chrf.toFixed(2)}  [${CHRF_SIGNATURE.replace('nrefs:1', `nrefs:${refs.length}`)}]`);
  }
  return { bleu, chrf };
}
