// The one writer of run records. Every command that writes weights (train, finetune, merge, align,
// reward train, the app's Align tab, translation training) starts a RunRecorder before its work
// and ends with it, so every record carries the same facts measured the same way: hardware,
// software versions (read from package.json and the running Node, never typed in), wall time,
// FLOPs, energy (energy.ts), emissions, data hashes and the parent it started from. The command
// supplies only what it alone knows: its data, hyperparameters, FLOP count and evaluations.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatasetManifest } from '../data/prepare.ts';
import type { HubSource } from '../io/hub.ts';
import { forwardFlopsPerToken, trainingFlops, type DecoderConfig } from '../models/flops.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { readCpuIdentity } from './cpu-power.ts';
import { carbonIntensityFromEnv, emissionsFor } from './emissions.ts';
import { EnergyMeter, type EnergyMeterOptions, type EnergyReport } from './energy.ts';
import {
  dependencyVersions,
  genlabVersion,
  gitCommit,
  readEnergySegments,
  RUN_RECORD_FILE,
  RUN_RECORD_SCHEMA,
  type DataFacts,
  type Evaluation,
  type ParentRef,
  type PretrainingRecord,
  type RunKind,
  type RunRecord,
  type TrainingSegment,
} from './run-record.ts';

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** sha256 of a file's bytes, streamed (what `sha256sum FILE` prints). */
export async function fileSha256(file: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), bytes };
}

/** What a command alone knows about its run; the recorder adds the rest. */
export interface RecordFacts {
  kind: RunKind;
  /** How, in a few words: "LoRA", "full fine-tuning", "DPO with LoRA", "LoRA merge", ... */
  method: string;
  command: string;
  preset?: string | null;
  parent?: { model?: ParentRef | null; adapters?: ParentRef[]; resumedFromStep?: number };
  data: DataFacts | null;
  tokenizer?: RunRecord['tokenizer'];
  config?: RunRecord['config'];
  hyperparameters: Record<string, unknown>;
  seeds?: Record<string, number>;
  parameters: RunRecord['parameters'];
  training: { steps: number; tokensSeen: number; trainingFlops: number; trainSeconds: number; [extra: string]: unknown };
  compute: { method: string; forwardFlopsPerToken?: number };
  device: { name: string; threads: number };
  evaluations?: Evaluation[];
  /** Measures of this run that saved energy (reused caches, a resumed checkpoint, a small adapter). */
  mitigations?: string[];
  /** Added to the energy note (e.g. what else the measured process did). */
  energyNote?: string;
  files?: Record<string, string>;
  /** Kind-specific fields kept at the top level of the record. */
  extra?: Record<string, unknown>;
  /** Folder whose interrupted-process energy segments belong to this run. */
  outDir?: string;
}

/** A parent folder and its run record as it is now (the child keeps this copy). */
export async function parentRef(dir: string, name?: string): Promise<ParentRef> {
  const abs = path.resolve(dir);
  const file = path.join(abs, RUN_RECORD_FILE);
  let bytes: Buffer | null = null;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let record: Record<string, unknown> | null = null;
  if (bytes) {
    try {
      record = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${file} is not valid JSON (${(err as Error).message}); restore it from the training run or delete it`);
    }
  }
  return { path: abs, name: name ?? path.basename(abs), runRecordSha256: bytes ? sha256Hex(bytes) : null, record };
}

/**
 * The parent reference of a loaded base model. A Hub model is named by its spec and keeps the
 * commit it resolved to, since a branch like main moves on; path is then its cache snapshot.
 */
export async function modelParentRef(lm: { dir: string; hub: HubSource | null }): Promise<ParentRef> {
  if (!lm.hub) return parentRef(lm.dir);
  const { spec, repoId, revision, commit } = lm.hub;
  return { ...(await parentRef(lm.dir, spec)), hub: { spec, repoId, revision, commit } };
}

/** The data block of a run that read token shards prepared by src/data/prepare.ts. */
export function datasetFacts(manifest: DatasetManifest, dir: string, cleaningReport: string | null = null): DataFacts {
  return {
    sources: manifest.sources,
    trainTokens: manifest.train.tokens,
    valTokens: manifest.val.tokens,
    trainDocuments: manifest.train.documents,
    valDocuments: manifest.val.documents,
    split: manifest.split,
    documentSeparator: manifest.documentSeparator,
    cleaningReport,
    datasetDir: dir,
  };
}

function hardwareFacts(device: { name: string; threads: number }): RunRecord['hardware'] {
  const cpu = readCpuIdentity();
  return {
    cpu: cpu.modelName,
    cpuVendor: cpu.vendor,
    cpuFamily: cpu.family,
    cpuModel: cpu.model,
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    backend: device.name,
    threads: device.threads,
    location: process.env.GENLAB_LOCATION ?? 'unknown (set GENLAB_LOCATION, e.g. "Frankfurt, DE")',
  };
}

function softwareFacts(): RunRecord['software'] {
  return {
    genlab: genlabVersion(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    os: `${os.type()} ${os.release()}`,
    gitCommit: gitCommit(),
    dependencies: dependencyVersions(),
  };
}

/** This process's energy plus the segments of earlier interrupted processes of the run. */
function combineEnergy(current: EnergyReport, segments: EnergyReport[], resumedFromStep: number, extraNote: string | undefined, mitigations: string[]): RunRecord['energy'] {
  const all = [...segments, current];
  const sum = (f: (r: EnergyReport) => number): number => all.reduce((a, r) => a + f(r), 0);
  const joules = sum((r) => r.joules);
  let note = segments.length > 0 ? `sum of ${all.length} processes (the run was paused or interrupted and resumed, or trained partly in PyTorch's processes)` : 'one process';
  if (resumedFromStep > 0 && segments.length === 0) {
    note = `this process only: the run resumed from step ${resumedFromStep} and the energy of the process(es) before it was not recorded (it stopped without Ctrl-C), so the total is a lower bound`;
  }
  if (extraNote) note += `; ${extraNote}`;
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
    mitigations,
  };
}

/** The record from the command's facts and what was measured around it. */
export async function assembleRunRecord(f: RecordFacts, measured: { energy: EnergyReport; wallSeconds: number }): Promise<RunRecord> {
  const resumedFromStep = f.parent?.resumedFromStep ?? 0;
  const segments = f.outDir ? await readEnergySegments(f.outDir) : [];
  const energy = combineEnergy(measured.energy, segments, resumedFromStep, f.energyNote, f.mitigations ?? []);
  const t = f.training;
  return {
    schema: RUN_RECORD_SCHEMA,
    genlab: { version: genlabVersion(), kind: f.kind, method: f.method },
    createdAt: new Date().toISOString(),
    command: f.command,
    preset: f.preset ?? null,
    parent: { model: f.parent?.model ?? null, adapters: f.parent?.adapters ?? [], resumedFromStep },
    data: f.data,
    tokenizer: f.tokenizer ?? null,
    config: f.config ?? null,
    hyperparameters: f.hyperparameters,
    seeds: f.seeds ?? {},
    parameters: f.parameters,
    training: { ...t, wallSeconds: measured.wallSeconds },
    compute: {
      trainingFlops: t.trainingFlops,
      ...(f.compute.forwardFlopsPerToken !== undefined ? { forwardFlopsPerToken: f.compute.forwardFlopsPerToken } : {}),
      method: f.compute.method,
      achievedFlopsPerSecond: t.trainSeconds > 0 ? t.trainingFlops / t.trainSeconds : 0,
    },
    hardware: hardwareFacts(f.device),
    energy,
    emissions: emissionsFor(energy.kWh, carbonIntensityFromEnv()),
    evaluations: f.evaluations ?? [],
    software: softwareFacts(),
    files: f.files ?? {},
    ...(f.extra ?? {}),
  };
}

/**
 * Measures a run from start() to its record: wall time and energy (RAPL or the CPU-time
 * estimate). write() stops the meter and writes run.json atomically; build({ final: false })
 * gives the record so far without stopping it (a trainer that saves its best model mid-run).
 */
export class RunRecorder {
  private readonly t0 = performance.now();
  private readonly meter: EnergyMeter;

  private constructor(opts: EnergyMeterOptions) {
    this.meter = EnergyMeter.start(opts);
  }

  static start(opts: EnergyMeterOptions = {}): RunRecorder {
    return new RunRecorder(opts);
  }

  /** Seconds since start(). */
  get wallSeconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  async build(f: RecordFacts, o: { final?: boolean } = {}): Promise<RunRecord> {
    const energy = o.final === false ? this.meter.snapshot() : this.meter.stop();
    return assembleRunRecord(f, { energy, wallSeconds: this.wallSeconds });
  }

  /** Ends the measurement without a record (a run that failed or was cancelled). */
  stop(): void {
    this.meter.stop();
  }

  async write(dir: string, f: RecordFacts, o: { final?: boolean } = {}): Promise<RunRecord> {
    const record = await this.build(f, o);
    await writeJsonAtomic(path.join(dir, RUN_RECORD_FILE), record);
    return record;
  }
}

/** What `genlab train` knows at the end of a run. */
export interface RunFacts {
  preset: string;
  /** GPT-2's config, or the Llama recipe's (it carries modelType). */
  config: DecoderConfig;
  parameters: { total: number; nonEmbedding: number };
  tokenizer: { vocabSize: number; sha256: string };
  dataset: { dir: string; manifest: DatasetManifest; reused?: boolean };
  hyperparameters: { steps: number; batch: number; seqLen: number; gradAccum: number; lr: number; weightDecay: number; warmup?: number; dropout: number; seed: number; valFraction: number };
  result: { steps: number; tokens: number; finalLoss: number; valLoss: number; seconds: number; spikes: number; resumedFrom: number; segments?: TrainingSegment[] };
  /** The engine of this command (`--engine torch --nproc N`), when not genlab's own. */
  engine?: { engine: 'genlab' | 'torch'; nproc?: number };
  wallSeconds: number;
  energy: EnergyReport;
  device: { name: string; threads: number };
  outDir: string;
  cleaningReport?: string | null;
}

/** How a source is named on the command line: built-in corpora by name, the others by path. */
const sourceSpec = (s: { kind: string; name: string; path: string | null }): string => (s.kind === 'package' ? s.name : (s.path ?? s.name));

/** The pre-training record (`genlab train`), through the shared assembler. */
export async function buildRunRecord(f: RunFacts): Promise<PretrainingRecord> {
  const m = f.dataset.manifest;
  const h = f.hyperparameters;
  const flops = trainingFlops(f.config, f.result.tokens, h.seqLen);
  const mitigations: string[] = [];
  if (f.dataset.reused) mitigations.push(`the token shards were reused from the cache (${f.dataset.dir}) instead of tokenizing the sources again`);
  if (f.result.resumedFrom > 0) mitigations.push(`resumed from the checkpoint at step ${f.result.resumedFrom} instead of starting over`);
  const command = [
    `genlab train --model ${f.preset} --data ${m.sources.map(sourceSpec).join(' ')}`,
    `--steps ${h.steps} --batch ${h.batch} --seq-len ${h.seqLen}${h.gradAccum !== 1 ? ` --grad-accum ${h.gradAccum}` : ''} --lr ${h.lr} --weight-decay ${h.weightDecay}${h.warmup !== undefined ? ` --warmup ${h.warmup}` : ''}${h.dropout ? ` --dropout ${h.dropout}` : ''}`,
    `--vocab-size ${f.tokenizer.vocabSize} --val-fraction ${h.valFraction} --seed ${h.seed} --out ${f.outDir}${f.engine?.engine === 'torch' ? ` --engine torch --nproc ${f.engine.nproc ?? 1}` : ''}`,
  ].join(' ');
  const segments = f.result.segments ?? [];
  const record = await assembleRunRecord(
    {
      kind: 'pretraining',
      method: 'next-token prediction from random initialisation',
      command,
      preset: f.preset,
      parent: { model: null, adapters: [], resumedFromStep: f.result.resumedFrom },
      data: datasetFacts(m, f.dataset.dir, f.cleaningReport ?? null),
      tokenizer: { type: 'byte-level BPE', vocabSize: f.tokenizer.vocabSize, sha256: f.tokenizer.sha256, trainedOn: 'the training sources (all documents, before the split)' },
      config: f.config,
      hyperparameters: { steps: h.steps, batch: h.batch, seqLen: h.seqLen, gradAccum: h.gradAccum, lr: h.lr, weightDecay: h.weightDecay, warmup: h.warmup ?? null, dropout: h.dropout, seed: h.seed, valFraction: h.valFraction },
      seeds: { init: h.seed, dataOrder: h.seed, dropout: h.seed, validationSplit: h.seed },
      parameters: { total: f.parameters.total, trainable: f.parameters.total, nonEmbedding: f.parameters.nonEmbedding },
      training: {
        steps: f.result.steps,
        tokensSeen: f.result.tokens,
        trainingFlops: flops,
        trainSeconds: f.result.seconds,
        finalTrainLoss: f.result.finalLoss,
        finalValLoss: f.result.valLoss,
        lossSpikesSkipped: f.result.spikes,
        resumedFromStep: f.result.resumedFrom,
        stoppedEarly: f.result.steps < h.steps,
        // Which engine took which steps (genlab's loop, or PyTorch's DDP processes), oldest first.
        ...(segments.length > 0 ? { segments } : {}),
      },
      compute: {
        method: 'counted from the model shapes (src/models/flops.ts): 2·m·n·k per matmul including causal attention, backward = 2× forward; elementwise ops (<1%) not counted, as in Kaplan et al. 2020',
        forwardFlopsPerToken: forwardFlopsPerToken(f.config, h.seqLen),
      },
      device: f.device,
      evaluations: [
        {
          name: 'validation-loss',
          data: m.split.heldOutTail
            ? `the held-out tail of the training source's one document (${m.split.heldOutTail.chars} characters of \`${m.split.heldOutTail.document}\`, ${m.val.tokens} tokens)`
            : `held-out documents of the training sources (${m.val.documents} document${m.val.documents === 1 ? '' : 's'}, ${m.val.tokens} tokens, ${(100 * m.split.valFraction).toFixed(1)}% by characters)`,
          metrics: { loss: f.result.valLoss, perplexity: Math.exp(f.result.valLoss) },
          createdAt: new Date().toISOString(),
          command: `measured by the trainer at the end of training: mean over its first validation batches (at most ${8 * Math.min(h.batch, 8) * h.seqLen} tokens)`,
        },
      ],
      mitigations,
      files: { metrics: 'metrics.jsonl', checkpoint: 'checkpoint/' },
      outDir: f.outDir,
    },
    { energy: f.energy, wallSeconds: f.wallSeconds },
  );
  return record as PretrainingRecord;
}
