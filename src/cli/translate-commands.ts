// The translation task's command line. registerTranslateCommands(program) adds:
//
//   genlab translate --model DIR --text "..."        beam search (default) or --greedy
//   genlab bleu HYP_FILE REF_FILE [REF_FILE...]      corpus BLEU and chrF (sacreBLEU defaults)
//   genlab data translation-pairs --pair en-de --out DIR   install the Debian data and extract pairs
//
// and the translation flags of two existing commands, whose actions hand over to
// trainTranslateAction / evalTranslateAction when --task translate is given:
//
//   genlab train --task translate --pairs FILE.tsv [--minutes M] ...
//   genlab eval --task translate --model DIR --pairs FILE.tsv [--json]
//
// Call it after `train`, `eval` and `data` are defined (at the end of buildCli), so the flags land
// on those commands and `data` gets a subcommand instead of a second `data` command.

import { Command, InvalidArgumentError, Option } from 'commander';
import { init } from '../backend/registry.ts';

function int(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

function num(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

const backendOption = (): Option => new Option('--backend <name>', 'compute backend (default: native where it was built, else wasm)').choices(['native', 'wasm', 'ref']);
const threadsOption = (): Option => new Option('--threads <n>', 'threads for the kernels (default: all cores)').argParser(int('--threads'));

async function device(opts: { backend?: 'native' | 'wasm' | 'ref'; threads?: number }): Promise<void> {
  await init({ ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.threads ? { threads: opts.threads } : {}) });
}

/** Options given on the command line (not defaults), so a language-model default never leaks into translation. */
function explicit(cmd: Command): Record<string, unknown> {
  const opts = cmd.opts();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (cmd.getOptionValueSource(k) === 'cli' || cmd.getOptionValueSource(k) === 'env') out[k] = v;
  return out;
}

const taskOption = (): Option => new Option('--task <task>', "'lm' (a GPT language model) or 'translate' (an encoder–decoder on sentence pairs)").choices(['lm', 'translate']).default('lm');

function findCommand(program: Command, name: string): Command | undefined {
  return program.commands.find((c) => c.name() === name);
}

/** Action of `genlab train --task translate`. */
export async function trainTranslateAction(cmd: Command): Promise<void> {
  const o = explicit(cmd);
  for (const lmOnly of ['data', 'batch', 'seqLen', 'gradAccum', 'checkpointEvery', 'valFraction', 'resume', 'cache', 'precision']) {
    if (o[lmOnly] !== undefined) throw new Error(`--${lmOnly.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} applies to language models; with --task translate use --pairs, --batch-tokens, --minutes or --steps`);
  }
  await device(o);
  const { translateTrainCommand } = await import('../translate/commands.ts');
  await translateTrainCommand(o);
}

/** Action of `genlab eval --task translate`. */
export async function evalTranslateAction(cmd: Command): Promise<void> {
  const o = cmd.opts();
  if (!o['pairs']) throw new Error('--task translate needs --pairs FILE.tsv (the held-out test pairs, e.g. DIR/test.tsv from `genlab data translation-pairs`)');
  if (o['data']) throw new Error('--data is for language models; with --task translate give --pairs FILE.tsv');
  await device(o);
  const { translateEvalCommand } = await import('../translate/commands.ts');
  await translateEvalCommand({
    model: o['model'], pairs: o['pairs'], json: !!o['json'], ...(o['beam'] ? { beam: o['beam'] } : {}), ...(o['greedy'] ? { greedy: true } : {}),
    ...(o['lengthPenalty'] !== undefined ? { lengthPenalty: o['lengthPenalty'] } : {}), ...(o['limit'] ? { limit: o['limit'] } : {}), ...(o['hypsOut'] ? { hypsOut: o['hypsOut'] } : {}),
  });
}

export function registerTranslateCommands(program: Command): void {
  const train = findCommand(program, 'train');
  if (train) {
    train
      .addOption(
        new Option('--task <task>', "'lm' (a GPT language model) or 'translate' (an encoder–decoder on --pairs; --model translate-tiny, translate-small (default) or translate-base; --out default models/translate)")
          .choices(['lm', 'translate'])
          .default('lm'),
      )
      .option('--pairs <file>', 'with --task translate: training pairs, source<TAB>target per line')
      .option('--valid-pairs <file>', 'with --task translate: validation pairs (default: valid.tsv beside --pairs, else 2% held out)')
      .option('--minutes <m>', 'with --task translate: training time budget (the learning-rate schedule spans it)', num('--minutes', 0))
      .option('--batch-tokens <n>', 'with --task translate: tokens per batch, sentences × longest side', int('--batch-tokens'))
      .addOption(new Option('--positions <kind>', 'with --task translate: position embeddings').choices(['sinusoidal', 'learned']))
      .option('--tie-embeddings', 'with --task translate: use the shared embedding as the output projection (the paper; slower to start)');
  }

  const evalCmd = findCommand(program, 'eval');
  if (evalCmd) {
    // --data is required for language models only; eval-command.ts checks it there.
    evalCmd.options.find((opt) => opt.long === '--data')?.makeOptionMandatory(false);
    evalCmd
      .addOption(taskOption())
      .option('--pairs <file>', 'with --task translate: held-out pairs (source<TAB>target) to translate and score')
      .option('--beam <k>', 'with --task translate: beam size (default: the model\'s, 5)', int('--beam'))
      .option('--greedy', 'with --task translate: greedy decoding')
      .option('--length-penalty <a>', 'with --task translate: length penalty α, ((5+|y|)/6)^α', num('--length-penalty', 0))
      .option('--limit <n>', 'with --task translate: only the first n pairs', int('--limit'))
      .option('--hyps-out <file>', 'with --task translate: write the translations, one per line');
  }

  program
    .command('translate')
    .description('translate text with a model trained by `genlab train --task translate` (beam search, or --greedy)')
    .requiredOption('--model <dir>', 'translation model folder')
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
      await device(opts);
      const { translateCommand } = await import('../translate/commands.ts');
      await translateCommand(opts);
    });

  program
    .command('bleu')
    .description('corpus BLEU and chrF of a hypothesis file against reference file(s), one sentence per line, as sacreBLEU computes them by default')
    .argument('<hyp-file>', 'system output, one sentence per line')
    .argument('<ref-files...>', 'reference translation(s), one sentence per line, aligned with the hypotheses')
    .option('--json', 'print {"bleu": …, "chrf": …}')
    .action(async (hyp: string, refs: string[], opts) => {
      const { bleuCommand } = await import('../translate/commands.ts');
      await bleuCommand(hyp, refs, { json: !!opts.json });
    });

  const data = findCommand(program, 'data') ?? program.command('data').description('data preparation');
  data
    .command('translation-pairs')
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
