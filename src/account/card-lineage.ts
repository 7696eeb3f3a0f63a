// The lineage of a model folder: its own run record, then the records of the models and adapters
// it was made from, followed through the `parent` links. Schema 2 records carry their parents'
// records, so the lineage travels with the folder; older records name only the parent's folder,
// which is read when it still exists. A parent without a record is a stage of unknown origin.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunKind, RunRecord } from '../record/run-record.ts';

export interface Stage {
  /** Where the stage's facts are, as the card cites them: "run.json", "run.json parent.model.record". */
  at: string;
  /** How it relates to the model: "this model", "base model of `x`", "adapter merged into `x`". */
  role: 'model' | 'base' | 'adapter';
  name: string;
  path: string | null;
  /** null: no run record, origin unknown. */
  record: Partial<RunRecord> | null;
  /** Index of the stage made from this one (null for the model itself). */
  child: number | null;
}

/** Kinds written by genlab before schema 2, by the kind they are now. */
const LEGACY_KINDS: Record<string, RunKind> = {
  'lora-finetuning': 'fine-tuning',
  'full-finetuning': 'fine-tuning',
  'dpo-lora': 'alignment',
  'dpo-full': 'alignment',
  'lora-merge': 'merge',
};

export function stageKind(r: Partial<RunRecord> | null): RunKind | null {
  const k = (r?.genlab?.kind ?? (r as { kind?: string } | null)?.kind) as string | undefined;
  if (!k) return null;
  return LEGACY_KINDS[k] ?? (k as RunKind);
}

interface ParentLink {
  role: 'base' | 'adapter';
  /** Cited location of the reference inside the child's record. */
  ref: string;
  path: string | null;
  name: string;
  embedded: Record<string, unknown> | null;
}

function linksOf(r: Record<string, unknown>): ParentLink[] {
  const p = r.parent as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') return [];
  const link = (v: unknown, role: 'base' | 'adapter', ref: string, legacyRecord?: unknown): ParentLink | null => {
    if (typeof v === 'string') return { role, ref, path: v, name: path.basename(v), embedded: (legacyRecord as Record<string, unknown> | null | undefined) ?? null };
    if (v && typeof v === 'object') {
      const o = v as { path?: string | null; name?: string; record?: Record<string, unknown> | null };
      return { role, ref, path: o.path ?? null, name: o.name ?? (o.path ? path.basename(o.path) : 'unnamed'), embedded: o.record ?? null };
    }
    return null;
  };
  const out: ParentLink[] = [];
  const base = link(p.model, 'base', 'parent.model', p.runRecord);
  if (base) out.push(base);
  const adapters = Array.isArray(p.adapters) ? p.adapters : typeof p.adapter === 'string' ? [p.adapter] : [];
  adapters.forEach((a, i) => {
    const l = link(a, 'adapter', Array.isArray(p.adapters) ? `parent.adapters[${i}]` : 'parent.adapter');
    if (l) out.push(l);
  });
  return out;
}

function readRecordSync(dir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The model's stages, the model itself first; `read` finds records that are not embedded. */
export function lineageOf(record: Record<string, unknown> | null, name: string, o: { read?: (dir: string) => Record<string, unknown> | null; maxDepth?: number } = {}): Stage[] {
  const read = o.read ?? readRecordSync;
  const stages: Stage[] = [{ at: 'run.json', role: 'model', name, path: null, record: record as Partial<RunRecord> | null, child: null }];
  const seen = new Set<string>();
  const queue: { index: number; depth: number }[] = [{ index: 0, depth: 0 }];
  while (queue.length > 0) {
    const { index, depth } = queue.shift()!;
    const s = stages[index]!;
    if (!s.record || depth >= (o.maxDepth ?? 8)) continue;
    for (const l of linksOf(s.record as Record<string, unknown>)) {
      let rec = l.embedded;
      let at = `${s.at} ${l.ref}.record`;
      if (!rec && l.path) {
        rec = read(l.path);
        at = `${path.join(l.path, 'run.json')}`;
      }
      if (!rec) at = `${s.at} ${l.ref}`;
      // The same ancestor reached twice (an adapter's base is the merge's base) is one stage.
      const key = rec ? `${l.path ?? l.name}|${String(rec.createdAt)}` : `${l.path ?? l.name}|none`;
      if (seen.has(key)) continue;
      seen.add(key);
      stages.push({ at, role: l.role, name: l.name, path: l.path, record: rec as Partial<RunRecord> | null, child: index });
      queue.push({ index: stages.length - 1, depth: depth + 1 });
    }
  }
  return stages;
}

/** Indices of the stages a stage was made from. */
export const parentsOf = (lineage: readonly Stage[], i: number): number[] => lineage.flatMap((s, j) => (s.child === i ? [j] : []));

/** How the card names a stage. */
export function stageLabel(lineage: readonly Stage[], s: Stage): string {
  if (s.role === 'model') return 'this model';
  const child = s.child === null ? null : lineage[s.child]!;
  const of = child && child.role !== 'model' ? ` of \`${child.name}\`` : '';
  return s.role === 'base' ? `base model \`${s.name}\`${of}` : `adapter \`${s.name}\`${of}`;
}

const sourceNames = (r: Partial<RunRecord>): string => {
  const names = (r.data?.sources ?? []).map((s) => `\`${s.name}\``);
  return names.length ? names.join(', ') : 'unrecorded data';
};

/** What one stage did, without its ancestors. */
export function stepText(s: Stage): string {
  const r = s.record;
  if (!r) return `\`${s.name}\`, of unknown origin (no run record)`;
  const method = r.genlab?.method ? ` (${r.genlab.method})` : '';
  const pairs = r.data?.sources?.[0]?.documents;
  switch (stageKind(r)) {
    case 'pretraining':
      return `pre-trained from random initialisation on ${sourceNames(r)}`;
    case 'fine-tuning':
      return `fine-tuned${method} on ${sourceNames(r)}`;
    case 'alignment':
      return `aligned${method} on ${pairs !== undefined ? `${pairs} preference pairs (${sourceNames(r)})` : sourceNames(r)}`;
    case 'reward-model':
      return `trained as a reward model${method} on ${pairs !== undefined ? `${pairs} preference pairs (${sourceNames(r)})` : sourceNames(r)}`;
    case 'translation':
      return `trained as a translation model${method} on ${sourceNames(r)}`;
    case 'merge':
      return `made by merging${method}`;
    default:
      return `made by a genlab run of kind "${stageKind(r) ?? 'unrecorded'}"`;
  }
}

/** The model's history, oldest stage first: "pre-trained on …, then fine-tuned (LoRA …) on …". */
export function historyText(lineage: readonly Stage[], i = 0): string {
  const s = lineage[i]!;
  if (!s.record) return stepText(s);
  const parents = parentsOf(lineage, i);
  const base = parents.find((j) => lineage[j]!.role === 'base');
  const adapters = parents.filter((j) => lineage[j]!.role === 'adapter');
  if (stageKind(s.record) === 'merge') {
    const merged = adapters.map((j) => `adapter \`${lineage[j]!.name}\` (${lineage[j]!.record ? stepText(lineage[j]!) : 'of unknown origin: no run record'})`).join(' and ');
    return `a LoRA merge of ${base !== undefined ? `base model \`${lineage[base]!.name}\` (${historyText(lineage, base)})` : 'an unrecorded base model'} with ${merged || 'an unrecorded adapter'}`;
  }
  return base !== undefined ? `${historyText(lineage, base)}, then ${stepText(s)}` : stepText(s);
}
