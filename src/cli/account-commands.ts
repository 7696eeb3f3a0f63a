// `genlab card` and `genlab detect`: the accountability commands (src/account/). Registered on the
// main program by registerAccountCommands so their wiring lives next to each other.

import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

function integerList(name: string) {
  return (v: string): number[] =>
    v.split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 2) throw new InvalidArgumentError(`${name} must be comma-separated integers >= 2, got '${v}'`);
      return n;
    });
}

async function withDevice<T>(opts: { backend?: 'wasm' | 'ref'; threads?: number }, fn: () => Promise<T>): Promise<T> {
  const { init } = await import('../backend/registry.ts');
  const dev = await init({ ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.threads ? { threads: opts.threads } : {}) });
  try {
    return await fn();
  } finally {
    await dev.close();
  }
}

const backendOption = (): Option => new Option('--backend <name>', 'compute backend (default: wasm, or $GENLAB_BACKEND)').choices(['wasm', 'ref']);
const threadsOption = (): Option => new Option('--threads <n>', 'worker threads (default: all cores)').argParser(number('--threads', 1, 256));

export function registerAccountCommands(program: Command): void {
  program
    .command('card')
    .description('write the model card (README.md + card.html + compute chart) into a model folder, from its run record and evaluations')
    .requiredOption('--model <dir>', 'model folder')
    .option('--carbon-intensity <g>', 'recompute emissions with this grid intensity (gCO2e/kWh) instead of the one recorded at training', number('--carbon-intensity', 0, 2000))
    .option('--carbon-source <text>', 'where --carbon-intensity comes from (shown in the card)')
    .option('--member-states <states...>', 'EU member states where the model is made available')
    .option('--license <id>', 'licence of the weights (SPDX id or Hugging Face licence name)')
    .option('--no-samples', 'do not generate example continuations')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { writeModelCard } = await import('../account/card.ts');
      const { carbonIntensity } = await import('../account/emissions.ts');
      if (opts.carbonSource && opts.carbonIntensity === undefined) throw new Error('--carbon-source needs --carbon-intensity');
      const card = await withDevice(opts, () =>
        writeModelCard({
          model: opts.model,
          ...(opts.carbonIntensity !== undefined ? { intensity: carbonIntensity(opts.carbonIntensity, opts.carbonSource ?? 'given with genlab card --carbon-intensity (no source stated)') } : {}),
          ...(opts.memberStates ? { memberStates: opts.memberStates } : {}),
          ...(opts.license ? { license: opts.license } : {}),
          samples: opts.samples !== false,
        }),
      );
      for (const a of card.assessments) console.log(`${a.title.padEnd(30)} ${a.points}/4  ${a.evidence.join('; ')}`);
      console.log(`CRFM self-assessment: ${card.total}/48`);
      console.log(`wrote ${card.files.readme}, ${card.files.html}, ${card.files.chart.svg} (+ .png, .html)`);
    });

  program
    .command('detect')
    .description('detect the genlab watermark in text: z-score and p-value (z > 4 flags); --study measures detection and false-positive rates on a model')
    .requiredOption('--model <dir>', 'model folder (its tokenizer; the weights are only needed for --study)')
    .argument('[text...]', "text to test ('-' reads standard input)")
    .option('--file <path>', 'read the text from a file')
    .option('--gamma <g>', 'green-list share used when generating', number('--gamma', 0.001, 0.999), 0.25)
    .option('--key <n>', 'watermark key used when generating', number('--key', 0, 0xffffffff))
    .option('--threshold <z>', 'flag when z exceeds this', number('--threshold', 0, 100), 4)
    .option('--count-repeats', 'count repeated (previous, token) pairs every time (default: once)')
    .option('--json', 'print JSON')
    .option('--study', 'measure detection rate, false positives on held-out text and perplexity cost; records the result in run.json')
    .option('--delta <d>', '(--study) logit bias of the watermark', number('--delta', 0, 100), 2)
    .option('--prompts <n>', '(--study) prompts from held-out documents', number('--prompts', 1, 10000), 25)
    .option('--per-prompt <n>', '(--study) samples per prompt', number('--per-prompt', 1, 64), 4)
    .option('--lengths <list>', '(--study) token counts to test detection at', integerList('--lengths'), [10, 25, 50, 100])
    .option('--temperature <t>', '(--study) sampling temperature', number('--temperature', 0.01, 10), 1)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (words: string[], opts) => {
      const wm = { gamma: opts.gamma, ...(opts.key !== undefined ? { key: opts.key } : {}) };
      if (opts.study) {
        if (words.length > 0 || opts.file) throw new Error('--study generates its own text; drop the TEXT argument or --file');
        const { loadModel } = await import('../io/model-folder.ts');
        const { watermarkStudyCommand } = await import('../account/watermark-study.ts');
        const { progressBar } = await import('./progress.ts');
        const command = `genlab detect --model ${opts.model} --study --gamma ${opts.gamma} --delta ${opts.delta} --prompts ${opts.prompts} --per-prompt ${opts.perPrompt} --lengths ${opts.lengths.join(',')} --temperature ${opts.temperature}`;
        const r = await withDevice(opts, async () => {
          const lm = await loadModel(opts.model);
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
      const tokenizer = await loadTokenizer(opts.model);
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
