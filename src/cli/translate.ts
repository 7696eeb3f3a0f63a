// `genlab translate`: the translation task's commands, one group.
//
//   genlab translate --model DIR --text "..."          beam search (default) or --greedy
//   genlab translate train --pairs FILE.tsv [...]      train an encoder–decoder on sentence pairs
//   genlab translate eval --model DIR --pairs FILE.tsv corpus BLEU and chrF of its translations
//   genlab translate bleu HYP_FILE REF_FILE [...]      BLEU and chrF of a file of translations
//   genlab translate pairs --pair en-de --out DIR      install the Debian data and extract pairs
//
// The older spellings stay: `genlab train --task translate`, `genlab eval --task translate`,
// `genlab bleu` and `genlab data translation-pairs` run the same actions (train.ts, eval.ts and
// data.ts take their flags from here).

import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { writeFileAtomic } from '../util/atomic.ts';
import { progressBar } from '../util/progress.ts';
import { backendOption, initDevice, int, num, threadsOption, type DeviceFlags } from './options.ts';

export function translateCommand(): Command {
  const translate = new Command('translate')
    .description('translate text with a translation model (beam search, or --greedy); `genlab translate train` makes one, `eval` and `bleu` score it, `pairs` extracts the data')
    // Options after a subcommand belong to it (`genlab translate train --model` vs `genlab translate --model`).
    .enablePositionalOptions()
    // Not requiredOption: commander would then demand it of `translate train` and `translate bleu` too.
    .option('--model <dir>', 'translation model folder')
    .option('--text <text>', 'text to translate (paragraphs are translated sentence by sentence)')
    .option('--file <file>', 'sentences to translate, one per line')
    .option('--output <file>', 'with --file: write the translations here, one per line')
    .option('--beam <k>', "beam size (default: the model's, 5)", int('--beam'))
    .option('--greedy', 'greedy decoding (the most likely token at each step)')
    .option('--length-penalty <a>', "length penalty α: hypotheses are ranked by log-probability / ((5+|y|)/6)^α (default: the model's, 1.0)", num('--length-penalty', 0))
    .option('--max-length <n>', 'longest translation in tokens (default 2 × source + 10)', int('--max-length'))
    .option('--json', 'print JSON (with per-sentence scores)')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      if (!opts.model) throw new Error('give --model DIR, a translation model folder (`genlab translate train` makes one); see genlab translate --help');
      await initDevice(opts);
      await runTranslate(opts);
    });

  const train = new Command('train')
    .description('train an encoder–decoder Transformer on sentence pairs into a model folder (same as `genlab train --task translate`)')
    .requiredOption('--pairs <file>', 'training pairs, source<TAB>target per line (from `genlab translate pairs`)')
    .option('--model <preset|config.json>', 'translate-tiny, translate-small (default) or translate-base, or the config.json of an earlier run')
    .option('--out <dir>', 'model folder to write (default: models/translate)');
  addTrainFlags(train, '');
  translate.addCommand(
    train
      .option('--steps <n>', 'optimizer steps (default: no limit with --minutes, else 2000)', int('--steps'))
      .option('--lr <lr>', 'peak learning rate (default: the preset)', num('--lr', 0))
      .option('--warmup <n>', 'learning-rate warmup steps (default 200)', int('--warmup', 0))
      .option('--weight-decay <wd>', 'AdamW weight decay (default 0.01)', num('--weight-decay', 0))
      .option('--dropout <p>', 'dropout (default 0.1)', num('--dropout', 0, 0.99))
      .option('--vocab-size <n>', 'BPE vocabulary size, one for both languages (default: the preset)', int('--vocab-size', 260))
      .option('--eval-every <n>', 'validate (loss, greedy BLEU and chrF) every n steps (default 250)', int('--eval-every', 0))
      .option('--seed <n>', 'random seed (default 1337)', int('--seed', 0))
      .addOption(backendOption())
      .addOption(threadsOption())
      .action(async (_opts, cmd: Command) => {
        await runTranslateTrain(givenOptions(cmd));
      }),
  );

  const evalCmd = new Command('eval')
    .description('corpus BLEU and chrF of a translation model on held-out pairs, recorded with the model (same as `genlab eval --task translate`)')
    .requiredOption('--model <dir>', 'translation model folder')
    .requiredOption('--pairs <file>', 'held-out pairs (source<TAB>target) to translate and score, e.g. DIR/test.tsv from `genlab translate pairs`');
  addEvalFlags(evalCmd, '');
  translate.addCommand(
    evalCmd
      .option('--json', 'print JSON')
      .addOption(backendOption())
      .addOption(threadsOption())
      .action(async (opts) => {
        await runTranslateEval(opts);
      }),
  );

  translate.addCommand(bleuCommand());
  translate.addCommand(translationPairsCommand('pairs'));
  return translate;
}

/** `genlab bleu` (and `genlab translate bleu`). */
export function bleuCommand(): Command {
  return new Command('bleu')
    .description('corpus BLEU and chrF of a hypothesis file against reference file(s), one sentence per line, as sacreBLEU computes them by default')
    .argument('<hyp-file>', 'system output, one sentence per line')
    .argument('<ref-files...>', 'reference translation(s), one sentence per line, aligned with the hypotheses')
    .option('--json', 'print {"bleu": …, "chrf": …}')
    .action(async (hyp: string, refs: string[], opts) => {
      await runBleu(hyp, refs, { json: !!opts.json });
    });
}

/** `genlab translate pairs`, also `genlab data translation-pairs`. */
export function translationPairsCommand(name: 'pairs' | 'translation-pairs'): Command {
  return new Command(name)
    .description('extract sentence pairs for translation: en-de from the Ding dictionary (Debian trans-de-en, GPL-2+), en-es from the KJV and Reina-Valera Bibles (sword-text-kjv + sword-text-sparv, public domain); installs them with apt-get when missing')
    .requiredOption('--pair <pair>', 'en-de, de-en, en-es or es-en (source-target)')
    .requiredOption('--out <dir>', 'folder for train.tsv, valid.tsv, test.tsv, SOURCE.md (attribution) and stats.json')
    .option('--no-install', 'do not run apt-get; fail when the data is missing')
    .option('--test-fraction <f>', 'share of pairs held out for testing', num('--test-fraction', 0, 0.5), 0.03)
    .option('--valid-fraction <f>', 'share of pairs held out for validation', num('--valid-fraction', 0, 0.5), 0.02)
    .option('--seed <n>', 'changes which pairs are held out', int('--seed', 0), 0)
    .option('--phrases <n>', "en-de/de-en: also train on up to n of the dictionary's word and phrase pairs", int('--phrases', 0), 0)
    .action(async (opts) => {
      const { extractTranslationPairs, PAIR_NAMES } = await import('../translate/extract.ts');
      if (!(PAIR_NAMES as readonly string[]).includes(opts.pair)) throw new InvalidArgumentError(`--pair must be one of ${PAIR_NAMES.join(', ')}, got '${opts.pair}'`);
      await extractTranslationPairs({ pair: opts.pair, out: opts.out, install: opts.install !== false, testFraction: opts.testFraction, validFraction: opts.validFraction, seed: opts.seed, phrases: opts.phrases });
    });
}

// ---------- the old spellings: `genlab train --task translate` and `genlab eval --task translate` ----------

/**
 * The translation flags `translate train` and `train --task translate` share. On `train` each
 * help text starts with `prefix` ('with --task translate: '), as the language-model flags beside
 * them mean something else.
 */
function addTrainFlags(c: Command, prefix: string): Command {
  return c
    .option('--valid-pairs <file>', `${prefix}validation pairs (default: valid.tsv beside --pairs, else 2% held out)`)
    .option('--minutes <m>', `${prefix}training time budget (the learning-rate schedule spans it)`, num('--minutes', 0))
    .option('--batch-tokens <n>', `${prefix}tokens per batch, sentences × longest side`, int('--batch-tokens'))
    .addOption(new Option('--positions <kind>', `${prefix}position embeddings`).choices(['sinusoidal', 'learned']))
    .option('--tie-embeddings', `${prefix}use the shared embedding as the output projection (the paper; slower to start)`);
}

/** The decoding flags `translate eval` and `eval --task translate` share. */
function addEvalFlags(c: Command, prefix: string): Command {
  return c
    .option('--beam <k>', `${prefix}beam size (default: the model's, 5)`, int('--beam'))
    .option('--greedy', `${prefix}greedy decoding`)
    .option('--length-penalty <a>', `${prefix}length penalty α, ((5+|y|)/6)^α`, num('--length-penalty', 0))
    .option('--limit <n>', `${prefix}only the first n pairs`, int('--limit'))
    .option('--hyps-out <file>', `${prefix}write the translations, one per line`);
}

const WITH_TASK = 'with --task translate: ';

/** Adds --task and the translation flags to `genlab train`; its action hands over to trainTranslateAlias. */
export function addTranslateTrainFlags(train: Command): void {
  train
    .addOption(
      new Option('--task <task>', "'lm' (a GPT language model) or 'translate' (an encoder–decoder on --pairs; --model translate-tiny, translate-small (default) or translate-base; --out default models/translate)")
        .choices(['lm', 'translate'])
        .default('lm'),
    )
    .option('--pairs <file>', `${WITH_TASK}training pairs, source<TAB>target per line`);
  addTrainFlags(train, WITH_TASK);
}

/** Adds --task and the translation flags to `genlab eval`; its action hands over to evalTranslateAlias. */
export function addTranslateEvalFlags(evalCmd: Command): void {
  // --data is required for language models only; eval.ts checks it there.
  evalCmd.options.find((opt) => opt.long === '--data')?.makeOptionMandatory(false);
  evalCmd
    .addOption(new Option('--task <task>', "'lm' (a GPT language model) or 'translate' (an encoder–decoder on sentence pairs)").choices(['lm', 'translate']).default('lm'))
    .option('--pairs <file>', `${WITH_TASK}held-out pairs (source<TAB>target) to translate and score`);
  addEvalFlags(evalCmd, WITH_TASK);
}

/** `genlab train --task translate`: `genlab translate train` with the flags given. */
export async function trainTranslateAlias(cmd: Command): Promise<void> {
  const o = givenOptions(cmd);
  for (const lmOnly of ['data', 'batch', 'seqLen', 'gradAccum', 'checkpointEvery', 'valFraction', 'resume', 'cache', 'precision']) {
    if (o[lmOnly] !== undefined) throw new Error(`--${lmOnly.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} applies to language models; with --task translate use --pairs, --batch-tokens, --minutes or --steps`);
  }
  if (!o['pairs']) throw new Error('--task translate needs --pairs FILE.tsv (source<TAB>target lines); make one with `genlab data translation-pairs --pair en-de --out DIR`');
  delete o['task'];
  await runTranslateTrain(o);
}

/** `genlab eval --task translate`: `genlab translate eval` with the flags given. */
export async function evalTranslateAlias(cmd: Command): Promise<void> {
  const o = cmd.opts();
  if (!o['pairs']) throw new Error('--task translate needs --pairs FILE.tsv (the held-out test pairs, e.g. DIR/test.tsv from `genlab data translation-pairs`)');
  if (o['data']) throw new Error('--data is for language models; with --task translate give --pairs FILE.tsv');
  await runTranslateEval({
    model: o['model'], pairs: o['pairs'], json: !!o['json'], ...(o['beam'] ? { beam: o['beam'] } : {}), ...(o['greedy'] ? { greedy: true } : {}),
    ...(o['lengthPenalty'] !== undefined ? { lengthPenalty: o['lengthPenalty'] } : {}), ...(o['limit'] ? { limit: o['limit'] } : {}), ...(o['hypsOut'] ? { hypsOut: o['hypsOut'] } : {}),
    ...(o['backend'] ? { backend: o['backend'] } : {}), ...(o['threads'] ? { threads: o['threads'] } : {}),
  });
}

/** Options given on the command line (not defaults), so a language-model default never leaks into translation. */
function givenOptions(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cmd.opts())) if (cmd.getOptionValueSource(k) === 'cli' || cmd.getOptionValueSource(k) === 'env') out[k] = v;
  return out;
}

// ---------- the actions ----------

/** Flags of `genlab translate train` (only those given: the trainer's own defaults apply to the rest). */
export interface TranslateTrainFlags extends DeviceFlags {
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

async function runTranslateTrain(o: TranslateTrainFlags): Promise<void> {
  await initDevice(o);
  const { trainTranslator } = await import('../translate/train.ts');
  const { defaultDevice } = await import('../backend/registry.ts');
  try {
    await trainTranslator({
      pairs: o.pairs!,
      out: o.out ?? 'models/translate',
      model: o.model ?? 'translate-small',
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

interface TranslateTextOptions {
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

async function runTranslate(o: TranslateTextOptions): Promise<void> {
  if ((o.text === undefined) === (o.file === undefined)) throw new Error('give the text to translate with --text "..." or a file of sentences with --file FILE (one of them)');
  const { loadTranslator } = await import('../translate/folder.ts');
  const { translateText } = await import('../translate/translate.ts');
  const { defaultDevice } = await import('../backend/registry.ts');
  const tm = await loadTranslator(o.model);
  const beamSize = o.greedy ? 1 : (o.beam ?? tm.generation.numBeams);
  const opts = { beamSize, lengthPenalty: o.lengthPenalty ?? tm.generation.lengthPenalty, ...(o.maxLength ? { maxLength: o.maxLength } : {}) };
  try {
    if (o.text !== undefined) {
      const r = translateText(tm, o.text, opts);
      if (o.json) console.log(JSON.stringify({ model: o.model, source_lang: tm.model.config.sourceLang, target_lang: tm.model.config.targetLang, beam: beamSize, ...r }));
      else console.log(r.translation);
      return;
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
  } finally {
    await defaultDevice().close();
  }
}

interface TranslateEvalOptions extends DeviceFlags {
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

/** Corpus BLEU and chrF of the model's translations of a pairs file, printed and recorded with the model. */
async function runTranslateEval(o: TranslateEvalOptions): Promise<void> {
  await initDevice(o);
  const { loadTranslator } = await import('../translate/folder.ts');
  const { BLEU_SIGNATURE, CHRF_SIGNATURE, bleuAndChrf } = await import('../translate/metrics.ts');
  const { readPairsTsv } = await import('../translate/pairs.ts');
  const { sourceIds, translateIds } = await import('../translate/translate.ts');
  const { defaultDevice } = await import('../backend/registry.ts');
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
  const result = {
    bleu,
    chrf,
    sentences: pairs.length,
    beam,
    lengthPenalty,
    bleuSignature: BLEU_SIGNATURE,
    chrfSignature: CHRF_SIGNATURE,
    /** "57.1/28.3/15.0/8.7 (BP = 1.000 ratio = 1.012 hyp_len = 4321 ref_len = 4270)", as sacreBLEU prints. */
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
    const { recordEvaluation } = await import('../record/run-record.ts');
    await recordEvaluation(o.model, { name: 'translation', data: o.pairs, metrics: { bleu, chrf, sentences: pairs.length, beam, lengthPenalty }, createdAt: new Date().toISOString(), command, details: { bleuSignature: BLEU_SIGNATURE, chrfSignature: CHRF_SIGNATURE, bleuDetail: result.bleuDetail } });
  } catch (err) {
    process.stderr.write(`genlab: the result was not recorded in ${o.model}: ${(err as Error).message}\n`);
  }
}

/** Reads a file of one sentence per line (a final newline does not add an empty sentence). */
async function readLines(file: string): Promise<string[]> {
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

/** Corpus BLEU and chrF of a hypothesis file against reference file(s). */
async function runBleu(hypFile: string, refFiles: readonly string[], o: { json?: boolean } = {}): Promise<void> {
  if (refFiles.length === 0) throw new Error('give the reference file after the hypothesis file: genlab bleu HYP_FILE REF_FILE');
  const { BLEU_SIGNATURE, CHRF_SIGNATURE, bleuAndChrf } = await import('../translate/metrics.ts');
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
}
