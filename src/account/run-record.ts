// The run record (run.json in a model folder): everything genlab knows about how a model came to
// be, machine-readable, so a model card, an auditor or a later run can rely on it instead of on
// memory. Training, fine-tuning and alignment runs build it here; evaluations append to it.
// Field names of the first version (genlab, data, tokenizer, hyperparameters, parameters, training,
// hardware, software) are kept, so readers of older records keep working.

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatasetManifest, SourceManifest } from '../data/prepare.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { forwardFlopsPerToken, trainingFlops } from '../models/flops.ts';
import type { GptConfig } from '../models/gpt.ts';
import { readCpuIdentity } from './cpu-power.ts';
import { carbonIntensityFromEnv, emissionsFor, type Emissions } from './emissions.ts';
import type { EnergyReport } from './energy.ts';

export const RUN_RECORD_SCHEMA = 'genlab-run-record/1';
export const RUN_RECORD_FILE = 'run.json';
/** Energy of earlier, interrupted processes of the same run (written on Ctrl-C, summed on resume). */
export const ENERGY_SEGMENTS_FILE = path.join('checkpoint', 'energy-segments.json');

export type RunKind = 'pretraining' | 'fine-tuning' | 'alignment';

export interface Evaluation {
  /** What was measured: 'validation-loss', 'corpus-loss', 'calibration', 'watermark', ... */
  name: string;
  /** The data it was measured on, e.g. "sotu (held-out documents)". */
  data: string;
  metrics: Record<string, number>;
  createdAt: string;
  /** The command that reproduces it. */
  command?: string;
  details?: unknown;
}

export interface RunRecord {
  schema: typeof RUN_RECORD_SCHEMA;
  genlab: { version: string; kind: RunKind };
  createdAt: string;
  preset: string;
  parent: { model: string | null; adapters: string[]; resumedFromStep: number };
  data: {
    sources: SourceManifest[];
    trainTokens: number;
    valTokens: number;
    trainDocuments: number;
    valDocuments: number;
    split: DatasetManifest['split'];
    documentSeparator: DatasetManifest['documentSeparator'];
    /** Path of a data-cleaning report, or null when the sources were used as they are. */
    cleaningReport: string | null;
    datasetDir: string;
  };
  tokenizer: { type: string; vocabSize: number; sha256: string; trainedOn: string };
  config: GptConfig;
  hyperparameters: { steps: number; batch: number; seqLen: number; gradAccum: number; lr: number; weightDecay: number; warmup: number | null; dropout: number; seed: number; valFraction: number };
  seeds: { init: number; dataOrder: number; dropout: number; validationSplit: number };
  parameters: { total: number; nonEmbedding: number };
  training: {
    steps: number;
    tokensSeen: number;
    trainingFlops: number;
    trainSeconds: number;
    wallSeconds: number;
    finalTrainLoss: number;
    finalValLoss: number;
    lossSpikesSkipped: number;
    resumedFromStep: number;
    stoppedEarly: boolean;
  };
  compute: { trainingFlops: number; forwardFlopsPerToken: number; method: string; achievedFlopsPerSecond: number };
  hardware: { cpu: string; cpuVendor: string | null; cpuFamily: number | null; cpuModel: number | null; cores: number; memoryBytes: number; backend: string; threads: number; location: string };
  energy: EnergyReport & { segments: EnergyReport[]; note: string };
  emissions: Emissions;
  evaluations: Evaluation[];
  software: { genlab: string; node: string; v8: string; platform: string; os: string; gitCommit: string | null; dependencies: Record<string, string> };
  files: { metrics: string; checkpoint: string };
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function genlabVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Installed versions of genlab's runtime dependencies (the data packages among them). */
function dependencyVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const pj = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const req = createRequire(path.join(packageRoot, 'package.json'));
    for (const name of Object.keys(pj.dependencies ?? {}).sort()) {
      try {
        out[name] = (JSON.parse(readFileSync(req.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
      } catch {
        out[name] = 'not installed';
      }
    }
  } catch {
    // A packaged genlab without its package.json has no dependency list to report.
  }
  return out;
}

/** The commit genlab's source is at, read from .git without running git; null outside a checkout. */
export function gitCommit(root = packageRoot): string | null {
  try {
    const gitDir = path.join(root, '.git');
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (!ref) return null;
    const loose = path.join(gitDir, ref);
    if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
    const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
    return new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').exec(packed)?.[1] ?? null;
  } catch {
    return null;
  }
}

export interface RunFacts {
  kind: RunKind;
  preset: string;
  config: GptConfig;
  parameters: { total: number; nonEmbedding: number };
  tokenizer: { vocabSize: number; sha256: string };
  dataset: { dir: string; manifest: DatasetManifest };
  hyperparameters: { steps: number; batch: number; seqLen: number; gradAccum: number; lr: number; weightDecay: number; warmup?: number; dropout: number; seed: number; valFraction: number };
  result: { steps: number; tokens: number; finalLoss: number; valLoss: number; seconds: number; spikes: number; resumedFrom: number };
  wallSeconds: number;
  energy: EnergyReport;
  device: { name: string; threads: number };
  outDir: string;
  parent?: { model: string | null; adapters?: string[] };
  cleaningReport?: string | null;
}

/** Energy reports of interrupted earlier processes of this run, oldest first. */
export async function readEnergySegments(outDir: string): Promise<EnergyReport[]> {
  try {
    return JSON.parse(await readFile(path.join(outDir, ENERGY_SEGMENTS_FILE), 'utf8')) as EnergyReport[];
  } catch {
    return [];
  }
}

/** Saves the energy of a process that stops mid-run, so the resumed run can count it. */
export async function saveEnergySegment(outDir: string, report: EnergyReport): Promise<void> {
  const segments = await readEnergySegments(outDir);
  segments.push(report);
  await writeJsonAtomic(path.join(outDir, ENERGY_SEGMENTS_FILE), segments);
}

/** Sums this process's energy with the segments of earlier interrupted processes. */
function combineEnergy(current: EnergyReport, segments: EnergyReport[], resumedFromStep: number): RunRecord['energy'] {
  const all = [...segments, current];
  const sum = (f: (r: EnergyReport) => number): number => all.reduce((a, r) => a + f(r), 0);
  const joules = sum((r) => r.joules);
  let note = segments.length > 0 ? `sum of ${all.length} processes (the run was interrupted and resumed)` : 'one process';
  if (resumedFromStep > 0 && segments.length === 0) {
    note = `this process only: the run resumed from step ${resumedFromStep} and the energy of the process(es) before it was not recorded (it stopped without Ctrl-C), so the total is a lower bound`;
  }
  return {
    ...current,
    wallSeconds: sum((r) => r.wallSeconds),
    cpuSeconds: sum((r) => r.cpuSeconds),
    cpuJoules: sum((r) => r.cpuJoules),
    ramJoules: sum((r) => r.ramJoules),
    joules,
    kWh: joules / 3.6e6,
    segments,
    note,
  };
}

/** Builds the run record for a finished run from the facts the trainer has at hand. */
export async function buildRunRecord(f: RunFacts): Promise<RunRecord> {
  const m = f.dataset.manifest;
  const flops = trainingFlops(f.config, f.result.tokens, f.hyperparameters.seqLen);
  const energy = combineEnergy(f.energy, await readEnergySegments(f.outDir), f.result.resumedFrom);
  const cpu = readCpuIdentity();
  const h = f.hyperparameters;
  return {
    schema: RUN_RECORD_SCHEMA,
    genlab: { version: genlabVersion(), kind: f.kind },
    createdAt: new Date().toISOString(),
    preset: f.preset,
    parent: { model: f.parent?.model ?? null, adapters: f.parent?.adapters ?? [], resumedFromStep: f.result.resumedFrom },
    data: {
      sources: m.sources,
      trainTokens: m.train.tokens,
      valTokens: m.val.tokens,
      trainDocuments: m.train.documents,
      valDocuments: m.val.documents,
      split: m.split,
      documentSeparator: m.documentSeparator,
      cleaningReport: f.cleaningReport ?? null,
      datasetDir: f.dataset.dir,
    },
    tokenizer: { type: 'byte-level BPE', vocabSize: f.tokenizer.vocabSize, sha256: f.tokenizer.sha256, trainedOn: 'the training sources (all documents, before the split)' },
    config: f.config,
    hyperparameters: { steps: h.steps, batch: h.batch, seqLen: h.seqLen, gradAccum: h.gradAccum, lr: h.lr, weightDecay: h.weightDecay, warmup: h.warmup ?? null, dropout: h.dropout, seed: h.seed, valFraction: h.valFraction },
    seeds: { init: h.seed, dataOrder: h.seed, dropout: h.seed, validationSplit: h.seed },
    parameters: f.parameters,
    training: {
      steps: f.result.steps,
      tokensSeen: f.result.tokens,
      trainingFlops: flops,
      trainSeconds: f.result.seconds,
      wallSeconds: f.wallSeconds,
      finalTrainLoss: f.result.finalLoss,
      finalValLoss: f.result.valLoss,
      lossSpikesSkipped: f.result.spikes,
      resumedFromStep: f.result.resumedFrom,
      stoppedEarly: f.result.steps < h.steps,
    },
    compute: {
      trainingFlops: flops,
      forwardFlopsPerToken: forwardFlopsPerToken(f.config, h.seqLen),
      method: 'counted from the model shapes (src/models/flops.ts): 2·m·n·k per matmul including causal attention, backward = 2× forward; elementwise ops (<1%) not counted, as in Kaplan et al. 2020',
      achievedFlopsPerSecond: f.result.seconds > 0 ? flops / f.result.seconds : 0,
    },
    hardware: {
      cpu: cpu.modelName,
      cpuVendor: cpu.vendor,
      cpuFamily: cpu.family,
      cpuModel: cpu.model,
      cores: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      backend: f.device.name,
      threads: f.device.threads,
      location: process.env.GENLAB_LOCATION ?? 'unknown (set GENLAB_LOCATION, e.g. "Frankfurt, DE")',
    },
    energy,
    emissions: emissionsFor(energy.kWh, carbonIntensityFromEnv()),
    evaluations: [
      {
        name: 'validation-loss',
        data: `held-out documents of the training sources (${m.val.documents} document${m.val.documents === 1 ? '' : 's'}, ${m.val.tokens} tokens, ${(100 * m.split.valFraction).toFixed(1)}% by characters)`,
        metrics: { loss: f.result.valLoss, perplexity: Math.exp(f.result.valLoss) },
        createdAt: new Date().toISOString(),
        command: `measured by the trainer at the end of training: mean over its first validation batches (at most ${8 * Math.min(h.batch, 8) * h.seqLen} tokens)`,
      },
    ],
    software: {
      genlab: genlabVersion(),
      node: process.version,
      v8: process.versions.v8,
      platform: `${process.platform}-${process.arch}`,
      os: `${os.type()} ${os.release()}`,
      gitCommit: gitCommit(),
      dependencies: dependencyVersions(),
    },
    files: { metrics: 'metrics.jsonl', checkpoint: 'checkpoint/' },
  };
}

/** Reads a folder's run record; null when it has none. */
export async function readRunRecord(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, RUN_RECORD_FILE), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path.join(dir, RUN_RECORD_FILE)} is not valid JSON (${(err as Error).message}); restore it from the training run or delete it`);
  }
}

/**
 * Adds an evaluation to the folder's record, replacing an earlier one of the same name and data.
 * Folders without run.json (e.g. downloaded from the Hub) keep evaluations in evaluations.json.
 */
export async function recordEvaluation(dir: string, e: Evaluation): Promise<string> {
  const record = await readRunRecord(dir);
  const file = record ? path.join(dir, RUN_RECORD_FILE) : path.join(dir, 'evaluations.json');
  let list: Evaluation[];
  if (record) {
    list = Array.isArray(record.evaluations) ? (record.evaluations as Evaluation[]) : [];
  } else {
    try {
      list = JSON.parse(await readFile(file, 'utf8')) as Evaluation[];
    } catch {
      list = [];
    }
  }
  list = list.filter((x) => !(x.name === e.name && x.data === e.data));
  list.push(e);
  await writeJsonAtomic(file, record ? { ...record, evaluations: list } : list);
  return file;
}

/** Evaluations of a folder: those in run.json, else those in evaluations.json. */
export async function readEvaluations(dir: string): Promise<Evaluation[]> {
  const record = await readRunRecord(dir);
  if (record) return Array.isArray(record.evaluations) ? (record.evaluations as Evaluation[]) : [];
  try {
    return JSON.parse(await readFile(path.join(dir, 'evaluations.json'), 'utf8')) as Evaluation[];
  } catch {
    return [];
  }
}
