// `genlab detect`: the watermark's z-score in a text, or (--study) detection and false-positive
// rates measured on a model (the work is in src/generate/watermark.ts and src/account/watermark-study.ts).

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { progressBar } from '../util/progress.ts';
import { backendOption, hubModelHelp, intList, num, threadsOption, withDevice } from './options.ts';

export function detectCommand(): Command {
  return new Command('detect')
    .description('detect the genlab watermark in text: z-score and p-value (z > 4 flags); --study measures detection and false-positive rates on a model')
    .requiredOption('--model <dir>', `${hubModelHelp('model folder')} (its tokenizer; the weights are only needed for --study, which needs a folder)`)
    .argument('[text...]', "text to test ('-' reads standard input)")
    .option('--file <path>', 'read the text from a file')
    .option('--gamma <g>', 'green-list share used when generating', num('--gamma', 0.001, 0.999), 0.25)
    .option('--key <n>', 'watermark key used when generating', num('--key', 0, 0xffffffff))
    .option('--threshold <z>', 'flag when z exceeds this', num('--threshold', 0, 100), 4)
    .option('--count-repeats', 'count repeated (previous, token) pairs every time (default: once)')
    .option('--json', 'print JSON')
    .option('--study', 'measure detection rate, false positives on held-out text and perplexity cost; records the result in run.json')
    .option('--delta <d>', '(--study) logit bias of the watermark', num('--delta', 0, 100), 2)
    .option('--prompts <n>', '(--study) prompts from held-out documents', num('--prompts', 1, 10000), 25)
    .option('--per-prompt <n>', '(--study) samples per prompt', num('--per-prompt', 1, 64), 4)
    .option('--lengths <list>', '(--study) token counts to test detection at', intList('--lengths', 2), [10, 25, 50, 100])
    .option('--temperature <t>', '(--study) sampling temperature', num('--temperature', 0.01, 10), 1)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (words: string[], opts) => {
      const wm = { gamma: opts.gamma, ...(opts.key !== undefined ? { key: opts.key } : {}) };
      if (opts.study) {
        if (words.length > 0 || opts.file) throw new Error('--study generates its own text; drop the TEXT argument or --file');
        (await import('../io/hub.ts')).rejectHubSpec('--model', opts.model, '--study records its result in the model folder (run.json or evaluations.json)');
        const { loadLanguageModel } = await import('../io/model-folder.ts');
        const { watermarkStudyCommand } = await import('../account/watermark-study.ts');
        const command = `genlab detect --model ${opts.model} --study --gamma ${opts.gamma} --delta ${opts.delta} --prompts ${opts.prompts} --per-prompt ${opts.perPrompt} --lengths ${opts.lengths.join(',')} --temperature ${opts.temperature}`;
        const r = await withDevice(opts, async () => {
          const lm = await loadLanguageModel(opts.model);
          const bar = opts.json ? null : progressBar(opts.prompts, 'study    ', 'prompts');
          try {
            return await watermarkStudyCommand(lm, opts.model, { ...wm, delta: opts.delta, prompts: opts.prompts, perPrompt: opts.perPrompt, lengths: opts.lengths, temperature: opts.temperature, threshold: opts.threshold, onProgress: (d) => bar?.update(d) }, command);
          } finally {
            bar?.stop();
          }
        });
        if (opts.json) console.log(JSON.stringify(r));
        else {
          console.log(`γ ${r.gamma}  δ ${r.delta}  z > ${r.threshold}  ${r.samples} samples  perplexity ${r.perplexityPlain.toFixed(3)} → ${r.perplexityWatermarked.toFixed(3)} with the watermark`);
          console.log('tokens  detected  FP(generated)  FP(human)  FP(human, repeats counted)  human windows  median z (wm / human)');
          for (const l of r.byLength) {
            console.log(`${String(l.tokens).padStart(6)}  ${(100 * l.detectionRate).toFixed(1).padStart(7)}%  ${(100 * l.falsePositiveRateGenerated).toFixed(2).padStart(12)}%  ${(100 * l.falsePositiveRate).toFixed(2).padStart(8)}%  ${(100 * l.falsePositiveRateCountingRepeats).toFixed(2).padStart(25)}%  ${String(l.humanWindows).padStart(13)}  ${l.medianZWatermarked.toFixed(2)} / ${l.medianZHuman.toFixed(2)}`);
          }
        }
        return;
      }
      let text: string;
      if (opts.file) text = readFileSync(opts.file, 'utf8');
      else if (words.length === 1 && words[0] === '-') text = readFileSync(0, 'utf8');
      else text = words.join(' ');
      if (text.trim() === '') throw new Error("no text to test: give it as arguments, '-' for standard input, or --file PATH");
      const { loadTokenizer } = await import('../tokenizer/files.ts');
      const { detectWatermark } = await import('../generate/watermark.ts');
      // Only the tokenizer is read, so an hf: model is fetched (or taken from the cache) as is.
      const tokenizer = await loadTokenizer(await (await import('../io/hub.ts')).resolveModelSource(opts.model));
      const ids = tokenizer.encode(text, { allowSpecial: false });
      const d = detectWatermark(ids, { ...wm, threshold: opts.threshold, ignoreRepeats: !opts.countRepeats });
      if (opts.json) console.log(JSON.stringify({ tokens: ids.length, scored: d.scored, green: d.green, gamma: d.gamma, z: d.z, pValue: d.pValue, pExact: d.pExact, flagged: d.flagged, threshold: d.threshold }));
      else {
        console.log(`${ids.length} tokens, ${d.scored} scored, ${d.green} green (expected ${(d.gamma * d.scored).toFixed(1)} without a watermark)`);
        console.log(`z = ${d.z.toFixed(3)}  p = ${d.pValue.toExponential(3)} (exact binomial ${d.pExact.toExponential(3)})  ${d.flagged ? `WATERMARKED (z > ${d.threshold})` : `not flagged (z ≤ ${d.threshold})`}`);
        if (d.scored < 25) console.log('note: fewer than 25 scored tokens; short texts rarely reach z > 4 even when watermarked');
      }
    });
}
