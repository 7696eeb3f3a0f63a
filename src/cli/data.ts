// `genlab data clean | noisy | experiment`: clean a corpus, build the noisy test corpus, and run the
// raw-vs-cleaned training experiment (the work is in src/data/clean/ and src/experiments/).
// `genlab data translation-pairs` is the older spelling of `genlab translate pairs`.

import * as fs from 'node:fs';
import { Command } from 'commander';
import { progressBar } from '../util/progress.ts';
import { backendOption, initDevice, int, num, threadsOption } from './options.ts';
import { translationPairsCommand } from './translate.ts';

function readConfig(file: string | undefined): unknown {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read --config ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`--config ${file} is not valid JSON (${(err as Error).message}); print the defaults with: genlab data clean --print-config`);
  }
}

export function dataCommand(): Command {
  const data = new Command('data').description('clean corpora and measure what cleaning buys');

  data
    .command('clean')
    .description('normalise, filter (Gopher/C4/FineWeb rules), scrub PII and deduplicate (exact + MinHash LSH) text; writes OUT/documents.jsonl')
    .argument('[inputs...]', "text files, folders, .jsonl files, or built-ins 'sotu' / 'moby-dick'")
    .option('--out <dir>', 'output folder (documents.jsonl, clean-report.json; usable as `genlab train --data DIR`)')
    .option('--report', 'also write clean-report.md and a chart (clean-report.png/.svg/.html) and print a summary')
    .option('--write-removed', 'write every removed document with the filter that removed it to OUT/removed.jsonl')
    .option('--config <file>', 'JSON overriding filter thresholds, PII and dedup settings (see --print-config)')
    .option('--print-config', 'print the default settings, with each filter and its source, and exit')
    .option('--text-field <name>', 'JSONL field holding the text', 'text')
    .option('--examples <n>', 'examples kept per filter in the report', int('--examples', 0), 5)
    .action(async (inputs: string[], opts) => {
      const { mergeCleanConfig, defaultCleanConfig, cleanCorpus } = await import('../data/clean/pipeline.ts');
      if (opts.printConfig) {
        const { DOCUMENT_FILTERS, LINE_FILTERS } = await import('../data/clean/filters.ts');
        console.log(JSON.stringify({ settings: defaultCleanConfig(), filters: [...LINE_FILTERS, ...DOCUMENT_FILTERS] }, null, 2));
        return;
      }
      if (!opts.out) throw new Error('--out <dir> is required: the folder for documents.jsonl and the report (inputs are never modified)');
      if (inputs.length === 0) throw new Error('no inputs: name text files, folders, .jsonl files or "sotu"');
      const { resolveSource } = await import('../data/corpus.ts');
      const { formatCleanSummary, writeCleanReport } = await import('../data/clean/report.ts');
      const config = mergeCleanConfig(readConfig(opts.config));
      const sources = inputs.map((i) => resolveSource(i, { textField: opts.textField }));
      const bar = progressBar(1000, 'clean', '{docs} docs | kept {kept} | {mbps} MB/s');
      let report;
      try {
        report = await cleanCorpus({
          sources, outDir: opts.out, config, writeRemoved: !!opts.writeRemoved, examples: opts.examples,
          onProgress: (p) => bar.update(Math.round((1000 * p.chars) / Math.max(1, p.totalChars)), { docs: p.documents, kept: p.kept, mbps: p.mbPerSecond.toFixed(2) }),
        });
      } finally {
        bar.stop();
      }
      console.log(`${report.input.documents} documents in, ${report.output.documents} out (${((100 * report.output.chars) / Math.max(1, report.input.chars)).toFixed(1)}% of characters kept); ${report.mbPerSecond.toFixed(2)} MB/s; wrote ${opts.out}/documents.jsonl`);
      if (opts.report) {
        const files = await writeCleanReport(opts.out, report);
        console.log(formatCleanSummary(report));
        console.log(`report: ${files.markdown}, chart: ${files.chart.png} (${files.chart.html})`);
      }
    });

  data
    .command('noisy')
    .description('build a noisy corpus from real data: SOTU speeches with web boilerplate, duplicates, mirrors, junk pages and raw SpamAssassin e-mails')
    .requiredOption('--out <dir>', 'output folder (raw.jsonl, heldout.jsonl, noisy-manifest.json)')
    .option('--emails <n>', 'raw e-mails to mix in', int('--emails', 0), 2000)
    .option('--held-out <f>', 'share of speeches held out untouched for evaluation', num('--held-out', 0, 0.9), 0.1)
    .option('--seed <n>', 'seed', int('--seed', 0), 1)
    .action(async (opts) => {
      const { buildNoisyCorpus } = await import('../data/clean/noisy.ts');
      const m = await buildNoisyCorpus({ outDir: opts.out, emails: opts.emails, heldOutFraction: opts.heldOut, seed: opts.seed });
      for (const [k, c] of Object.entries(m.counts)) console.log(`${k.padEnd(20)} ${String(c.documents).padStart(6)} documents ${c.chars.toLocaleString().padStart(12)} characters`);
      console.log(`held out: ${m.heldOut.documents} speeches; wrote ${opts.out}`);
    });

  data
    .command('experiment')
    .description('raw vs cleaned: train the same model for the same tokens on the noisy corpus and on its cleaned version; held-out loss on clean speeches')
    .option('--out <dir>', 'output folder', 'runs/clean-experiment')
    .option('--model <preset>', 'model preset', 'tiny')
    .option('--tokens <n>', 'training tokens per arm', int('--tokens'), 3_000_000)
    .option('--vocab-size <n>', 'BPE vocabulary (default: the preset)', int('--vocab-size', 258))
    .option('--emails <n>', 'raw e-mails in the noisy corpus', int('--emails', 0), 2000)
    .option('--seed <n>', 'seed', int('--seed', 0), 1)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      await initDevice(opts);
      const { runCleanExperiment } = await import('../experiments/clean-data.ts');
      const r = await runCleanExperiment({ outDir: opts.out, preset: opts.model, tokens: opts.tokens, ...(opts.vocabSize ? { vocabSize: opts.vocabSize } : {}), seed: opts.seed, noisy: { emails: opts.emails } });
      for (const a of r.arms) console.log(`${a.arm.padEnd(6)} held-out loss ${a.heldOutLoss.toFixed(4)} nats/token, ${a.heldOutBitsPerByte.toFixed(4)} bits/byte (${a.epochs.toFixed(2)} epochs of ${a.trainTokensAvailable.toLocaleString()} tokens)`);
      console.log(`raw - cleaned = ${r.improvement.toFixed(4)} nats/token; details in ${opts.out}/experiment.md`);
    });

  // The older spelling of `genlab translate pairs`.
  data.addCommand(translationPairsCommand('translation-pairs'));
  return data;
}
