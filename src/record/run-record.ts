// The run record (run.json in a model or adapter folder): everything genlab knows about how the
// weights came to be, machine-readable, so a model card, an auditor or a later run can rely on it
// instead of on memory. One writer builds it for every command that writes weights
// (record-writer.ts); evaluations and declarations are appended to it later. This file holds the
// record's types and the readers.
//
// Schema 2 (genlab-run-record/2) keeps every field name of schema 1 (genlab, data, tokenizer,
// hyperparameters, parameters, training, compute, hardware, energy, emissions, evaluations,
// software), so readers of older records keep working, and adds: genlab.method, command,
// parent references that carry the parent's own record (the lineage travels with the folder),
// energy.mitigations and declarations.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeldOutTail } from '../data/prepare.ts';
import type { HubSource } from '../io/hub.ts';
import type { GptConfig } from '../models/gpt.ts';
import type { LlamaConfig } from '../models/llama.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import type { Emissions } from './emissions.ts';
import type { EnergyReport } from './energy.ts';

export const RUN_RECORD_SCHEMA = 'genlab-run-record/2';
export const RUN_RECORD_FILE = 'run.json';
/** Evaluations and declarations of folders without run.json (e.g. downloaded from the Hub). */
export const EVALUATIONS_FILE = 'evaluations.json';
export const DECLARATIONS_FILE = 'declarations.json';
/** Energy of earlier, interrupted processes of the same run (written on Ctrl-C, summed on resume). */
export const ENERGY_SEGMENTS_FILE = path.join('checkpoint', 'energy-segments.json');

/** The stage of a model's making a run record documents. */
export type RunKind = 'pretraining' | 'fine-tuning' | 'alignment' | 'merge' | 'reward-model' | 'translation';

export interface Evaluation {
  /** What was measured: 'validation-loss', 'corpus-loss', 'calibration', 'watermark', ... */
  name: string;
  /** The data it was measured on, e.g. "sotu (held-out documents)". */
  data: string;
  metrics: Record<string, number>;
  createdAt: string;
  /** The command that reproduces it. */
  command?: string;
  /** Who ran it, when not the folder's owner with a genlab command (external evaluations, red-teaming). */
  by?: string;
  details?: unknown;
}

/** A statement about the model that no measurement can make: its licence, where it is offered. */
export interface Declaration {
  name: 'licence' | 'member-states';
  value: string | string[];
  /** Who declares it, as they gave their name. */
  by: string;
  createdAt: string;
  /** How it was recorded. */
  command: string;
}

/** A model or adapter a run started from, with its run record as it was when the run read it. */
export interface ParentRef {
  /** The folder (absolute) at the time; null for a model served from memory. */
  path: string | null;
  name: string;
  /** sha256 of the parent's run.json bytes as read; null when it had none. */
  runRecordSha256: string | null;
  record: Record<string, unknown> | null;
  /** A model from the Hugging Face Hub: the spec, repo and the commit it resolved to (path is its snapshot). */
  hub?: HubSource;
}

export interface DataSourceFacts {
  name: string;
  /** 'file' | 'folder' | 'jsonl' | 'package' (corpus sources), 'preference-pairs', 'sentence-pairs'. */
  kind: string;
  path: string | null;
  package?: { name: string; version: string };
  licence?: string;
  attribution?: string;
  /** Suitability and bias of the source, when genlab's corpus catalogue reviews it. */
  review?: string;
  files?: number;
  bytes: number;
  documents: number;
  sha256: string;
  /** What sha256 covers when it is not the bytes as `sha256sum` reads them. */
  hashed?: string;
  documentsSha256?: string;
  trainDocuments?: number;
  valDocuments?: number;
}

export interface DataFacts {
  sources: DataSourceFacts[];
  trainTokens: number;
  valTokens: number;
  trainDocuments: number;
  valDocuments: number;
  split: {
    method: string;
    valFraction: number;
    seed: number | null;
    /** Whole held-out documents ("source/id"). */
    valDocumentIds?: string[];
    /** A one-document corpus holds out its tail instead of whole documents. */
    heldOutTail?: HeldOutTail;
  };
  documentSeparator?: string;
  /** Path of a data-cleaning report, or null when the sources were used as they are. */
  cleaningReport: string | null;
  datasetDir?: string;
}

export interface RunRecord {
  schema: string;
  genlab: { version: string; kind: RunKind; method: string };
  createdAt: string;
  /** The genlab command (or app action) that made the weights, as it can be run again. */
  command: string;
  preset: string | null;
  parent: { model: ParentRef | null; adapters: ParentRef[]; resumedFromStep: number };
  /** null: the run trained on no data (a merge). */
  data: DataFacts | null;
  tokenizer: { type: string; vocabSize: number; sha256: string; trainedOn: string } | null;
  config: GptConfig | LlamaConfig | Record<string, unknown> | null;
  hyperparameters: Record<string, unknown>;
  seeds: Record<string, number>;
  parameters: { total: number; trainable: number; nonEmbedding?: number };
  training: {
    steps: number;
    tokensSeen: number;
    trainingFlops: number;
    trainSeconds: number;
    wallSeconds: number;
    [extra: string]: unknown;
  };
  compute: { trainingFlops: number; forwardFlopsPerToken?: number; method: string; achievedFlopsPerSecond: number };
  hardware: { cpu: string; cpuVendor: string | null; cpuFamily: number | null; cpuModel: number | null; cores: number; memoryBytes: number; backend: string; threads: number; location: string };
  energy: EnergyReport & { segments: EnergyReport[]; note: string; mitigations: string[] };
  emissions: Emissions;
  evaluations: Evaluation[];
  declarations?: Declaration[];
  software: { genlab: string; node: string; v8: string; platform: string; os: string; gitCommit: string | null; dependencies: Record<string, string> };
  files: Record<string, string>;
}

/**
 * One process's share of a training run: which engine took which optimizer steps, on what. A run
 * may move between genlab and PyTorch (`genlab train --engine torch`) through the checkpoint, so
 * the checkpoint carries this list and each engine appends its own entry.
 */
export interface TrainingSegment {
  engine: 'genlab' | 'torch';
  /** Steps done before this process started, and when it last checkpointed. */
  fromStep: number;
  toStep: number;
  /** Training time of this process (without start-up), and its whole lifetime when measured. */
  seconds: number;
  wallSeconds?: number;
  /** genlab's backend ('native', 'wasm', 'ref'), or PyTorch's device and process group ('cpu/gloo', 'cuda/nccl'). */
  backend: string;
  /** Processes (PyTorch's DDP world size) and the threads of each. */
  processes: number;
  threadsPerProcess: number;
  /** Versions of the engine's own software (PyTorch and Python; genlab's are the record's). */
  software?: string;
  /** CPU time and peak resident memory summed over the processes, when the engine measured them (the energy estimate uses them). */
  cpuSeconds?: number;
  peakRssBytes?: number;
}

/** What `genlab train` records on top of the shared facts. */
export interface PretrainingRecord extends RunRecord {
  config: GptConfig | LlamaConfig;
  data: DataFacts;
  hyperparameters: { steps: number; batch: number; seqLen: number; gradAccum: number; lr: number; weightDecay: number; warmup: number | null; dropout: number; seed: number; valFraction: number };
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function readPackageJson(): { version?: string; dependencies?: Record<string, string> } | null {
  try {
    return JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version?: string; dependencies?: Record<string, string> };
  } catch {
    return null;
  }
}

/** genlab's version, from its package.json. */
export function genlabVersion(): string {
  return readPackageJson()?.version ?? 'unknown (package.json not found)';
}

/** Installed versions of genlab's runtime dependencies (the data packages among them). */
export function dependencyVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const pj = readPackageJson();
  if (!pj) return out;
  const req = createRequire(path.join(packageRoot, 'package.json'));
  for (const name of Object.keys(pj.dependencies ?? {}).sort()) {
    try {
      out[name] = (JSON.parse(readFileSync(req.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
    } catch {
      out[name] = 'not installed';
    }
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
    try {
      return readFileSync(path.join(gitDir, ref), 'utf8').trim();
    } catch {
      const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
      return new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').exec(packed)?.[1] ?? null;
    }
  } catch {
    return null;
  }
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

/** Reads a folder's run record; null when it has none. */
export async function readRunRecord(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, RUN_RECORD_FILE), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path.join(dir, RUN_RECORD_FILE)} is not valid JSON (${(err as Error).message}); restore it from the training run or delete it`);
  }
}

/** A list kept in run.json under `key`, or in a file of its own for folders without run.json. */
async function readFolderList<T>(dir: string, key: 'evaluations' | 'declarations', sidecar: string): Promise<T[]> {
  const record = await readRunRecord(dir);
  if (record) return Array.isArray(record[key]) ? (record[key] as T[]) : [];
  try {
    return JSON.parse(await readFile(path.join(dir, sidecar), 'utf8')) as T[];
  } catch {
    return [];
  }
}

/** Adds an item to that list, replacing the ones `same` matches; returns the file written. */
async function appendToFolderList<T>(dir: string, key: 'evaluations' | 'declarations', sidecar: string, item: T, same: (a: T) => boolean): Promise<string> {
  const record = await readRunRecord(dir);
  const list = (await readFolderList<T>(dir, key, sidecar)).filter((x) => !same(x));
  list.push(item);
  const file = path.join(dir, record ? RUN_RECORD_FILE : sidecar);
  await writeJsonAtomic(file, record ? { ...record, [key]: list } : list);
  return file;
}

/** Adds an evaluation to the folder's record, replacing an earlier one of the same name and data. */
export function recordEvaluation(dir: string, e: Evaluation): Promise<string> {
  return appendToFolderList<Evaluation>(dir, 'evaluations', EVALUATIONS_FILE, e, (x) => x.name === e.name && x.data === e.data);
}

/** Evaluations of a folder: those in run.json, else those in evaluations.json. */
export function readEvaluations(dir: string): Promise<Evaluation[]> {
  return readFolderList<Evaluation>(dir, 'evaluations', EVALUATIONS_FILE);
}

/** Records a declaration (replacing an earlier one of the same name). */
export function recordDeclaration(dir: string, d: Declaration): Promise<string> {
  return appendToFolderList<Declaration>(dir, 'declarations', DECLARATIONS_FILE, d, (x) => x.name === d.name);
}

/** Declarations of a folder: those in run.json, else those in declarations.json. */
export function readDeclarations(dir: string): Promise<Declaration[]> {
  return readFolderList<Declaration>(dir, 'declarations', DECLARATIONS_FILE);
}
