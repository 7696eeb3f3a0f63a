// PyTorch as genlab's second training engine, for runs that outgrow a CPU: `genlab train --engine
// torch [--nproc N]` hands the run to scripts/torch_train.py under torchrun (DistributedDataParallel;
// gloo on CPUs, nccl on GPUs). Nothing is converted on the way: the script reads genlab's checkpoint
// (the flat parameter block, AdamW's moments, the loader's position), its token shards and this
// file's plan (the layout of the flat block, the loader, schedule, optimizer and guard settings as
// trainer.ts resolves them), trains, and writes the same checkpoint and metrics.jsonl back. Either
// engine then resumes the other's checkpoint, and genlab writes the Hugging Face folder and run.json
// from it as after its own training.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchLoader } from '../data/loader.ts';
import type { PreparedDataset } from '../data/prepare.ts';
import { Gpt } from '../models/gpt.ts';
import type { Llama } from '../models/llama.ts';
import { AdamW } from '../optim/adamw.ts';
import type { TrainingSegment } from '../record/run-record.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { CHECKPOINT, loadCheckpoint, saveCheckpoint } from './loop.ts';
import { trainSettings, type TrainLoopOptions, type TrainResult } from './trainer.ts';

/** The script genlab ships (package.json "files" carries scripts/). */
export const TORCH_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'torch_train.py');
export const TORCH_PLAN_FILE = 'torch-plan.json';
const PLAN_FORMAT = 'genlab-torch-plan/1';

export interface TorchPython {
  python: string;
  torchVersion: string;
}

const found = new Map<string, TorchPython>();

/**
 * An interpreter that imports torch and numpy: $GENLAB_PYTHON when set, else `python3` on the PATH,
 * else /usr/bin/python3 (Debian's python3-torch is installed for the system interpreter, which a
 * pyenv or venv python3 first on the PATH may not be).
 */
export function findTorchPython(env: NodeJS.ProcessEnv = process.env): TorchPython {
  const fromEnv = env['GENLAB_PYTHON']?.trim();
  const key = fromEnv ?? '';
  const known = found.get(key);
  if (known) return known;
  const candidates = fromEnv ? [fromEnv] : ['python3', ...(existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : [])];
  const problems: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import numpy, torch; print(torch.__version__)'], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      const t = { python, torchVersion: r.stdout.trim() };
      found.set(key, t);
      return t;
    }
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit code ${r.status}`);
    problems.push(`${python}: ${why}`);
  }
  throw new Error(
    `--engine torch needs PyTorch, and no Python here imports it (${problems.join('; ')}). Install it (Debian/Ubuntu: apt-get install python3-torch; elsewhere: pip install torch numpy)` +
      (fromEnv ? `, or point GENLAB_PYTHON at an interpreter that has it` : `, or set GENLAB_PYTHON to an interpreter that has it`),
  );
}

export interface TorchTrainOptions extends TrainLoopOptions {
  /** Processes torchrun starts (DDP ranks); each takes batch/nproc rows of every step. */
  nproc: number;
  data: PreparedDataset;
  quiet?: boolean;
  /** Environment of the PyTorch processes (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** What the script reports when it ends (rank 0 writes it next to the plan). */
interface TorchRunResult {
  steps: number;
  tokens: number;
  finalLoss: number | null;
  valLoss: number | null;
  seconds: number;
  spikes: number;
  resumedFrom: number;
  stopped: TrainResult['stopped'];
  segment: TrainingSegment;
}

/**
 * Trains `model` with PyTorch from the checkpoint in o.outDir (from genlab's initial weights when
 * there is none or o.resume is off), then loads the checkpoint PyTorch left back into `model`.
 */
export async function trainWithTorch(model: Gpt | Llama, train: BatchLoader, val: BatchLoader, o: TorchTrainOptions): Promise<TrainResult & { torchSegment: TrainingSegment | null }> {
  if (!(model instanceof Gpt)) throw new Error('--engine torch trains GPT-2 models; train Llama-recipe models with --engine genlab');
  if (!(Number.isInteger(o.nproc) && o.nproc >= 1)) throw new Error(`--nproc must be a whole number of processes >= 1, got ${o.nproc}`);
  if (train.batchSize % o.nproc !== 0) {
    throw new Error(`--batch ${train.batchSize} does not split evenly over --nproc ${o.nproc} processes (each takes batch/nproc rows of every step); choose an --nproc that divides --batch`);
  }
  if (train.mode !== 'shuffle') throw new Error(`the torch engine follows the shuffled training loader; this one is '${train.mode}'`);
  const env = o.env ?? process.env;
  const { python, torchVersion } = findTorchPython(env);
  const s = trainSettings(o);

  // The flat block exactly as the genlab loop lays it out (FlatParameters), named for the script.
  const opt = new AdamW(model.parameters(), { ...s.optimizer });
  const names = new Map(model.namedParameters().map(([name, t]) => [t, name]));
  const layout = {
    size: opt.flat.size,
    decaySize: opt.flat.decay.size,
    tensors: opt.flat.tensors.map((t) => ({ name: names.get(t)!, shape: [...t.shape], offset: t.offset })),
  };
  const meta = o.resume ? await loadCheckpoint(o.outDir, opt) : null;
  if (!meta) {
    // A run that starts in PyTorch starts from genlab's initialisation, so the seed means the same.
    await saveCheckpoint(o.outDir, opt.flat.snapshot(), { step: 0, tokens: 0, optimizerStep: 0, loader: train.state(), lossEma: null, elapsedSeconds: 0, flops: 0, segments: [] });
  }

  const dir = path.resolve(o.outDir, CHECKPOINT);
  const planFile = path.join(dir, TORCH_PLAN_FILE);
  const resultFile = path.join(dir, 'torch-result.json');
  await writeJsonAtomic(planFile, {
    format: PLAN_FORMAT,
    architecture: 'gpt2',
    model: model.config,
    layout,
    vocabSize: model.config.vocabSize,
    checkpoint: path.join(dir, 'state.safetensors'),
    metrics: path.resolve(o.outDir, 'metrics.jsonl'),
    result: resultFile,
    train: { files: o.data.trainFiles.map((f) => path.resolve(f)), mode: train.mode, batch: train.batchSize, seqLen: train.seqLen, seed: train.seed },
    val: { files: o.data.valFiles.map((f) => path.resolve(f)), batch: val.batchSize, batches: s.evalBatches },
    steps: o.steps,
    schedule: s.schedule,
    optimizer: s.optimizer,
    gradClip: s.gradClip,
    gradAccum: s.gradAccum,
    spikeFactor: s.spikeFactor,
    evalEvery: o.evalEvery ?? 0,
    checkpointEvery: o.checkpointEvery ?? 0,
  });

  const from = meta?.step ?? 0;
  if (o.stopAt !== undefined && from >= o.stopAt) {
    // Already there: the plan is written (for a launcher of one's own), nothing to train.
    return { steps: from, tokens: meta?.tokens ?? 0, finalLoss: NaN, valLoss: NaN, seconds: 0, spikes: 0, resumedFrom: from, stopped: 'paused', segments: meta?.segments ?? [], torchSegment: null };
  }
  const args = [TORCH_SCRIPT, '--plan', planFile, '--nproc', String(o.nproc), ...(o.stopAt !== undefined ? ['--stop-at', String(o.stopAt)] : []), ...(o.quiet ? ['--quiet'] : [])];
  if (!o.quiet) process.stderr.write(`PyTorch ${torchVersion} (${python}): torchrun, ${o.nproc} process(es)\n`);
  await rm(resultFile, { force: true });
  const { code, sig, stderr } = await runScript(python, args, env, o.quiet ?? false, o.signal);
  // 130: stopped by Ctrl-C or SIGTERM after a step, with a checkpoint and a result like any other end.
  if (code !== 0 && !(code === 130 && existsSync(resultFile))) {
    const tail = stderr.trim().split('\n').slice(-15).join('\n');
    throw new Error(`PyTorch training (${python} ${path.basename(TORCH_SCRIPT)}) failed with ${sig ? `signal ${sig}` : `exit code ${code}`}${tail ? `:\n${tail}` : ' (its output is above)'}`);
  }

  const r = JSON.parse(await readFile(resultFile, 'utf8')) as TorchRunResult;
  const after = await loadCheckpoint(o.outDir, opt);
  if (!after || after.step !== r.steps) throw new Error(`PyTorch reported step ${r.steps} but the checkpoint in ${dir} is at step ${after?.step}; run again with --resume`);
  return {
    steps: r.steps,
    tokens: r.tokens,
    finalLoss: r.finalLoss ?? NaN,
    valLoss: r.valLoss ?? NaN,
    seconds: r.seconds,
    spikes: r.spikes,
    resumedFrom: r.resumedFrom,
    stopped: r.stopped,
    segments: after.segments ?? [],
    torchSegment: r.segment,
  };
}

/** Runs the script, forwarding an abort as SIGINT (the workers finish the step and checkpoint). */
function runScript(python: string, args: string[], env: NodeJS.ProcessEnv, quiet: boolean, signal: AbortSignal | undefined): Promise<{ code: number | null; sig: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { env, stdio: quiet ? ['ignore', 'ignore', 'pipe'] : 'inherit' });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-8000);
    });
    const onAbort = (): void => {
      child.kill('SIGINT');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => reject(new Error(`could not start ${python}: ${err.message}`)));
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      resolve({ code, sig, stderr });
    });
  });
}
