// `genlab scaling sweep | status | fit | predict | verify`: predict a model's loss before paying
// for it. Flags are parsed here; the work lives in src/scaling/.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { initDevice, int, num, positive } from './options.ts';

/** Re-runs this command without --detach as a background process logging to `log`. */
function detach(log: string): void {
  const args = process.argv.slice(2).filter((a) => a !== '--detach');
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, 'a');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  child.unref();
  fs.closeSync(fd);
  console.log(`running in the background as process ${child.pid}; follow it with: tail -f ${log}`);
}

/** --threads of `scaling sweep` and `scaling verify` (they take no --backend; $GENLAB_BACKEND picks one). */
const workerThreads = (): Option => new Option('--threads <n>', 'worker threads').argParser(int('--threads'));

const targetOptions = (c: Command): Command =>
  c
    .option('--model <shape>', 'target shape, e.g. L4-C128 or 4x128 (layers × width)')
    .option('--tokens <n>', 'training tokens of the target', positive('--tokens'))
    .option('--flops <c>', 'or: a compute budget; the shape nearest the compute-optimal N is chosen (the sweep’s depth at any width when all its runs share one, else the built-in ladder)', positive('--flops'));

function targetOf(opts: { model?: string; tokens?: number; flops?: number }): { shape?: string; tokens?: number; flops?: number } {
  if (opts.model !== undefined) return { shape: opts.model, ...(opts.tokens !== undefined ? { tokens: opts.tokens } : {}) };
  if (opts.flops !== undefined) return { flops: opts.flops };
  throw new Error('name the target: --model SHAPE --tokens N, or --flops C');
}

export function scalingCommand(): Command {
  const scaling = new Command('scaling').description('scaling laws: sweep small models, fit L(N, D) and L(C), predict and verify a larger run');

  const sweep = scaling
    .command('sweep')
    .description('train a grid of small models chosen from a compute budget; resumable (finished runs are kept)')
    .requiredOption('--out <dir>', 'sweep folder (sweep.json, runs.json, runs/)')
    .option('--data <sources...>', "corpus: text files, folders, .jsonl, or 'sotu' / 'moby-dick'", ['sotu'])
    .option('--budget <flops>', 'total training FLOPs of the sweep', positive('--budget'), 1e12)
    .option('--levels <n>', 'compute levels (IsoFLOP profiles)', int('--levels'), 4)
    .option('--level-factor <x>', 'compute ratio between levels', positive('--level-factor'), 3)
    .option('--min-tokens-per-param <x>', 'smallest D/N in a level', positive('--min-tokens-per-param'), 4)
    .option('--max-tokens-per-param <x>', 'largest D/N in a level', positive('--max-tokens-per-param'), 100)
    .option('--max-per-level <n>', 'shapes per level', int('--max-per-level'), 4)
    .option('--min-steps <n>', 'drop runs shorter than this', int('--min-steps'), 30)
    .option('--shapes <list>', 'comma-separated shapes to plan with, e.g. L2-C16,L2-C32 (default: the built-in ladder)', (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x !== ''), [])
    .option('--tokens <list>', 'a grid instead of IsoFLOP levels: train every --shapes shape for each token count, e.g. 2e6,4e6,8e6 (--budget is then unused)', (v: string) => v.split(',').map((x) => Number(x.trim())), [])
    .option('--max-run-flops <c>', 'with --tokens: leave out grid cells costing more than this', positive('--max-run-flops'), 0)
    .option('--vocab-size <n>', 'BPE vocabulary', int('--vocab-size', 258), 512)
    .option('--seq-len <n>', 'context length', int('--seq-len', 2), 64)
    .option('--batch <n>', 'sequences per step', int('--batch'), 8)
    .option('--lr <lr>', 'peak learning rate at width 64', positive('--lr'), 5e-3)
    .option('--lr-width-exponent <x>', 'lr·(64/width)^x for other widths (0 = one rate for all)', num('--lr-width-exponent', -2, 2), 0.5)
    .option('--eval-batches <n>', 'validation batches (8 sequences each), the same for every run', int('--eval-batches'), 64)
    .option('--val-fraction <f>', 'share of documents held out for validation', num('--val-fraction', 0.001, 0.5), 0.05)
    .option('--seed <n>', 'seed', int('--seed', 0), 1)
    .option('--cache <dir>', 'tokenizer and shard cache', '.cache/genlab')
    .option('--dry-run', 'print the plan and exit')
    .option('--detach', 'run in the background, logging to OUT/sweep.log')
    .addOption(workerThreads());
  sweep.action(async (opts) => {
    if (opts.detach) return detach(path.join(opts.out, 'sweep.log'));
    const keys = ['data', 'budget', 'levels', 'levelFactor', 'minTokensPerParam', 'maxTokensPerParam', 'maxPerLevel', 'minSteps', 'vocabSize', 'seqLen', 'batch', 'lr', 'lrWidthExponent', 'evalBatches', 'valFraction', 'seed', 'shapes', 'tokens', 'maxRunFlops', 'cache'] as const;
    const exists = fs.existsSync(path.join(opts.out, 'sweep.json'));
    // A resumed sweep keeps its settings: only options given on this command line are checked.
    const spec = Object.fromEntries(keys.filter((k) => !exists || sweep.getOptionValueSource(k) === 'cli').map((k) => [k, opts[k]]));
    if (opts.dryRun) {
      const { DEFAULT_SWEEP, planRuns } = await import('../scaling/sweep.ts');
      const full = { ...DEFAULT_SWEEP, ...spec };
      const plan = planRuns(full);
      for (const p of plan) console.log(`level ${p.level}  ${p.id.padEnd(22)} N=${p.params.total.toLocaleString().padStart(9)}  ${p.steps.toString().padStart(6)} steps  ${p.flops.toExponential(2)} FLOPs  D/N=${(p.tokens / p.params.total).toFixed(1)}`);
      console.log(`${plan.length} runs, ${plan.reduce((a, p) => a + p.flops, 0).toExponential(2)} FLOPs (vocabulary assumed ${full.vocabSize})`);
      return;
    }
    await initDevice({ threads: opts.threads });
    const { runSweep, describeRun } = await import('../scaling/sweep.ts');
    const stop = new AbortController();
    const onSigint = (): void => {
      process.stderr.write('\nstopping after this step with a checkpoint; run the same command to continue\n');
      stop.abort();
    };
    process.once('SIGINT', onSigint);
    try {
      const r = await runSweep(opts.out, spec, { signal: stop.signal });
      for (const run of r.runs) console.log(describeRun(run));
      console.log(r.interrupted ? `stopped with ${r.runs.length}/${r.state.plan.length} runs done` : `sweep complete: ${r.runs.length} runs; next: genlab scaling fit ${opts.out}`);
    } finally {
      process.off('SIGINT', onSigint);
    }
  });

  scaling
    .command('status')
    .description('runs done and remaining in a sweep folder')
    .argument('<dir>', 'sweep folder')
    .action(async (dir: string) => {
      const { readSweep, readRuns, describeRun } = await import('../scaling/sweep.ts');
      const state = readSweep(dir);
      const runs = readRuns(dir);
      const done = new Set(runs.map((r) => r.id));
      const total = state.plan.reduce((a, p) => a + p.flops, 0);
      const doneFlops = runs.reduce((a, r) => a + r.flops, 0);
      console.log(`${runs.length}/${state.plan.length} runs done, ${((100 * doneFlops) / total).toFixed(1)}% of ${total.toExponential(2)} FLOPs`);
      for (const r of runs) console.log(`  done     ${describeRun(r)}`);
      for (const p of state.plan.filter((x) => !done.has(x.id))) console.log(`  pending  ${p.id} (${p.flops.toExponential(2)} FLOPs)`);
      const log = path.join(dir, 'sweep.log');
      if (fs.existsSync(log)) console.log(`log: ${log}`);
    });

  scaling
    .command('fit')
    .description('fit L(N, D) = E + A/N^α + B/D^β (Huber on log-loss, L-BFGS from a grid) and L(C) = aC^b + c; bootstrap intervals; writes fit.json and scaling.png/.html')
    .argument('<dir>', 'sweep folder')
    .addOption(new Option('--params <kind>', 'N = all parameters or non-embedding ones').choices(['total', 'non-embedding']).default('total'))
    .option('--bootstrap <n>', 'bootstrap resamples', int('--bootstrap', 0), 200)
    .option('--json', 'print fit.json')
    .action(async (dir: string, opts) => {
      const { fitSweep, formatFit } = await import('../scaling/analysis.ts');
      const f = await fitSweep(dir, { paramKind: opts.params === 'total' ? 'total' : 'nonEmbedding', bootstrap: opts.bootstrap });
      console.log(opts.json ? JSON.stringify(f, null, 2) : formatFit(f));
      if (!opts.json) console.log(`wrote ${path.join(dir, 'fit.json')} and ${path.join(dir, 'scaling.png')} (.html, .svg)`);
    });

  targetOptions(
    scaling
      .command('predict')
      .description('predicted validation loss of a target run, with a 95% bootstrap interval and its compute relative to the sweep')
      .argument('<dir>', 'sweep folder (after `scaling fit`)'),
  )
    .option('--json', 'print JSON')
    .action(async (dir: string, opts) => {
      const { predictTarget, formatPrediction } = await import('../scaling/analysis.ts');
      const { readSweep, readRuns } = await import('../scaling/sweep.ts');
      const { writeScalingChart } = await import('../scaling/plots.ts');
      const { readFit, readVerifications, recordPrediction } = await import('../scaling/results.ts');
      const state = readSweep(dir);
      const fit = readFit(dir);
      const p = predictTarget(state, fit, targetOf(opts));
      await recordPrediction(dir, p);
      await writeScalingChart(dir, state, readRuns(dir), fit, readVerifications(dir));
      console.log(opts.json ? JSON.stringify(p, null, 2) : formatPrediction(p));
    });

  targetOptions(
    scaling
      .command('verify')
      .description('train the target with the sweep recipe and compare its validation loss with the prediction (resumable)')
      .argument('<dir>', 'sweep folder (after `scaling fit`)'),
  )
    .option('--detach', 'run in the background, logging to DIR/verify.log')
    .addOption(workerThreads())
    .action(async (dir: string, opts) => {
      if (opts.detach) return detach(path.join(dir, 'verify.log'));
      await initDevice({ threads: opts.threads });
      const { verifyTarget, formatPrediction } = await import('../scaling/analysis.ts');
      const stop = new AbortController();
      const onSigint = (): void => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const v = await verifyTarget(dir, targetOf(opts), { signal: stop.signal });
        if (v === null) {
          console.log('stopped with a checkpoint; run the same command to continue');
          return;
        }
        console.log(formatPrediction(v.prediction));
        console.log(`measured validation loss ${v.run.valLoss.toFixed(4)}: prediction error ${(100 * v.relativeError).toFixed(2)}% (${v.insideInterval ? 'inside' : 'outside'} the 95% interval); target compute = ${v.prediction.ratioToLargestRun.toFixed(0)}× the largest sweep run, ${v.prediction.ratioToSweep.toFixed(1)}× the whole sweep`);
        console.log(`chart: ${path.join(dir, 'scaling.png')}`);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
  return scaling;
}
