// The self-assessment against Stanford CRFM's rubric, as data: each entry is one requirement
// point, the facts that earn it (paths into a run record, the folder's evaluations and
// declarations) and, at most, a check over those same values. A point is earned only when every
// cited fact is present (and the check passes) — for a point about how the weights were made, in
// every stage of the model's lineage. Nothing else can earn anything: the prose the card writes,
// the examples it generates and the flags given to `genlab card` never do, so a folder without a
// run record, evaluations or declarations scores 0.
//
// Fact paths: dotted keys; `list[*].key` means the key in every element (present only when the
// list is non-empty and every element has it); `list[a,b].key` the first element named a or b;
// `a.b|a.c` the first of two alternative facts that is present (one way or another of stating it).

import { stageLabel, type Stage } from './card-lineage.ts';
import { MAX_TOTAL, REQUIREMENTS, type RequirementKey } from './crfm.ts';

/**
 * model: the folder itself (its run record, evaluations, declarations, counted weights);
 * stages: every stage of the lineage; data-stages: the stages that trained on data (a merge did not).
 */
export type Scope = 'model' | 'stages' | 'data-stages';

export interface RubricPoint {
  id: string;
  requirement: RequirementKey;
  points: number;
  /** What the point is for, in the rubric's terms. */
  awards: string;
  scope: Scope;
  facts: readonly string[];
  /** A test over the cited values (in the order of `facts`); returns why it fails, or null. */
  check?: (values: readonly unknown[]) => string | null;
}

const knownLocation = (v: readonly unknown[]): string | null => (String(v[1]).startsWith('unknown') ? 'the location of the machine is unknown (set GENLAB_LOCATION)' : null);
const sameCount = (v: readonly unknown[]): string | null => (v[0] === v[1] ? null : `run.json says ${String(v[0])} parameters, the weights hold ${String(v[1])}`);
const differentData = (v: readonly unknown[]): string | null => (v[0] === v[1] ? 'both measured on the same data' : null);

export const RUBRIC: readonly RubricPoint[] = [
  { id: 'data.describe', requirement: 'dataSources', points: 1, awards: 'a general description of the data: every source named, with its kind', scope: 'data-stages', facts: ['data.sources[*].name', 'data.sources[*].kind'] },
  { id: 'data.stage', requirement: 'dataSources', points: 1, awards: 'the training stage the data was used in, for every stage that made the weights', scope: 'stages', facts: ['genlab.kind'] },
  { id: 'data.size', requirement: 'dataSources', points: 1, awards: 'the size of each source (bytes) and the tokens trained on', scope: 'data-stages', facts: ['data.sources[*].bytes', 'data.trainTokens'] },
  { id: 'data.provenance', requirement: 'dataSources', points: 1, awards: 'fine-grained provenance: a content hash of each source', scope: 'data-stages', facts: ['data.sources[*].sha256'] },

  { id: 'governance.split', requirement: 'dataGovernance', points: 1, awards: 'evaluation data held out from training by a stated rule', scope: 'data-stages', facts: ['data.split.method', 'data.split.valFraction'] },
  { id: 'governance.heldOut', requirement: 'dataGovernance', points: 1, awards: 'the held-out text listed (documents, or the tail of a single document), so leaks into training can be checked', scope: 'data-stages', facts: ['data.split.valDocumentIds|data.split.heldOutTail'] },
  { id: 'governance.review', requirement: 'dataGovernance', points: 1, awards: 'the suitability and biases of every source reviewed', scope: 'data-stages', facts: ['data.sources[*].review'] },
  { id: 'governance.cleaning', requirement: 'dataGovernance', points: 1, awards: 'the cleaning of the data documented in a report', scope: 'data-stages', facts: ['data.cleaningReport'] },

  { id: 'copyright.licence', requirement: 'copyrightedData', points: 2, awards: 'copyright status separated source by source: a licence recorded for every source', scope: 'data-stages', facts: ['data.sources[*].licence'] },
  { id: 'copyright.attribution', requirement: 'copyrightedData', points: 1, awards: 'the authors or packagers of every source named', scope: 'data-stages', facts: ['data.sources[*].attribution'] },

  { id: 'compute.size', requirement: 'compute', points: 1, awards: 'model size, recorded and matching the weights', scope: 'model', facts: ['parameters.total', 'weights.parameters'], check: sameCount },
  { id: 'compute.time', requirement: 'compute', points: 1, awards: 'training time with the number and type of hardware, for every stage', scope: 'stages', facts: ['training.wallSeconds', 'hardware.cpu', 'hardware.cores'] },
  { id: 'compute.flops', requirement: 'compute', points: 1, awards: 'training FLOPs, for every stage', scope: 'stages', facts: ['training.trainingFlops'] },
  { id: 'compute.context', requirement: 'compute', points: 1, awards: 'how the FLOPs were counted and where the compute ran', scope: 'stages', facts: ['compute.method', 'hardware.location'], check: knownLocation },

  { id: 'energy.used', requirement: 'energy', points: 1, awards: 'energy used, for every stage', scope: 'stages', facts: ['energy.kWh'] },
  { id: 'energy.emissions', requirement: 'energy', points: 1, awards: 'emissions with the grid intensity used, for every stage', scope: 'stages', facts: ['emissions.gCO2e', 'emissions.intensity.gPerKWh'] },
  { id: 'energy.method', requirement: 'energy', points: 1, awards: 'how energy was measured or estimated', scope: 'stages', facts: ['energy.method', 'energy.description'] },
  { id: 'energy.mitigations', requirement: 'energy', points: 1, awards: 'measures taken in the run that reduced its energy', scope: 'stages', facts: ['energy.mitigations'] },

  { id: 'capabilities.heldOut', requirement: 'capabilities', points: 1, awards: 'a capability measured: likelihood on held-out text of its training data', scope: 'model', facts: ['evaluations[validation-loss].metrics.loss'] },
  { id: 'capabilities.otherText', requirement: 'capabilities', points: 1, awards: 'a limitation measured: likelihood on other named text', scope: 'model', facts: ['evaluations[corpus-loss].metrics.loss'] },
  { id: 'capabilities.confidence', requirement: 'capabilities', points: 1, awards: 'how far its confidence can be trusted: accuracy against confidence', scope: 'model', facts: ['evaluations[calibration].metrics.top1Accuracy', 'evaluations[calibration].metrics.meanConfidence'] },
  { id: 'capabilities.task', requirement: 'capabilities', points: 1, awards: 'the task it was trained for, measured (translation, preference pairs)', scope: 'model', facts: ['evaluations[translation,preference-pairs].metrics'] },

  { id: 'risks.foreseeable', requirement: 'risks', points: 1, awards: 'foreseeable risks specific to its data: the biases reviewed for every source', scope: 'data-stages', facts: ['data.sources[*].review'] },
  { id: 'risks.mitigation', requirement: 'risks', points: 1, awards: 'a mitigation of passing its text off as human (the watermark) measured on this model', scope: 'model', facts: ['evaluations[watermark].details.byLength'] },
  { id: 'risks.signals', requirement: 'risks', points: 1, awards: 'how well the confidence signals offered against fabrication work: calibration error', scope: 'model', facts: ['evaluations[calibration].metrics.ece'] },
  { id: 'risks.residual', requirement: 'risks', points: 1, awards: 'why a risk is left unmitigated by default: the measured cost of the watermark', scope: 'model', facts: ['evaluations[watermark].metrics.perplexityPlain', 'evaluations[watermark].metrics.perplexityWatermarked'] },

  { id: 'evaluations.datasets', requirement: 'evaluations', points: 1, awards: 'accuracy measured on more than one dataset', scope: 'model', facts: ['evaluations[validation-loss].data', 'evaluations[corpus-loss].data'], check: differentData },
  { id: 'evaluations.bias', requirement: 'evaluations', points: 1, awards: 'unintentional harms (bias) evaluated', scope: 'model', facts: ['evaluations[bias].metrics'] },
  { id: 'evaluations.misuse', requirement: 'evaluations', points: 1, awards: 'intentional harms (misuse) evaluated', scope: 'model', facts: ['evaluations[misuse].metrics'] },
  { id: 'evaluations.other', requirement: 'evaluations', points: 1, awards: 'other properties evaluated: calibration', scope: 'model', facts: ['evaluations[calibration].metrics.ece'] },

  { id: 'testing.calibration', requirement: 'testing', points: 1, awards: 'internal testing with its process: calibration on held-out text, with the command', scope: 'model', facts: ['evaluations[calibration].command'] },
  { id: 'testing.watermark', requirement: 'testing', points: 1, awards: 'internal testing with its process: the watermark study, with the command', scope: 'model', facts: ['evaluations[watermark].command'] },
  { id: 'testing.external', requirement: 'testing', points: 1, awards: 'external evaluation, by someone outside', scope: 'model', facts: ['evaluations[external-evaluation].by'] },
  { id: 'testing.redTeam', requirement: 'testing', points: 1, awards: 'external red-teaming', scope: 'model', facts: ['evaluations[red-team].by'] },

  { id: 'machineGenerated.watermark', requirement: 'machineGenerated', points: 1, awards: 'a mechanism that keeps its text identifiable (the watermark), with measured detection', scope: 'model', facts: ['evaluations[watermark].details.byLength'] },

  { id: 'memberStates.declared', requirement: 'memberStates', points: 2, awards: 'the member states where it is made available, declared by a named person', scope: 'model', facts: ['declarations[member-states].value', 'declarations[member-states].by'] },

  { id: 'downstream.record', requirement: 'downstream', points: 1, awards: 'machine-readable documentation ships with the weights: a run record', scope: 'model', facts: ['schema'] },
  { id: 'downstream.lineage', requirement: 'downstream', points: 1, awards: 'every stage that made the weights documented and linked to its parents', scope: 'stages', facts: ['parent'] },
  { id: 'downstream.reproduce', requirement: 'downstream', points: 1, awards: 'what a downstream provider needs to reproduce every stage: hyperparameters and software versions', scope: 'stages', facts: ['hyperparameters', 'software.genlab'] },
  { id: 'downstream.licence', requirement: 'downstream', points: 1, awards: 'the terms of use for downstream providers: a licence declared by a named person', scope: 'model', facts: ['declarations[licence].value', 'declarations[licence].by'] },
];

// ------------------------------------------------------------------ fact paths

interface Segment {
  key: string;
  /** '*' for every element, or names to select one element by its `name`. */
  select: '*' | string[] | null;
}

function parsePath(p: string): Segment[] {
  return p.split(/\.(?![^[]*\])/).map((part) => {
    const m = /^([^[]+)(?:\[([^\]]+)\])?$/.exec(part);
    if (!m) throw new Error(`bad fact path ${p}`);
    return { key: m[1]!, select: m[2] === undefined ? null : m[2] === '*' ? '*' : m[2].split(',') };
  });
}

/** A value that states something: not missing, not empty, not a non-finite number. */
export function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

const named = (e: unknown, names: string[]): boolean => !!e && typeof e === 'object' && names.includes(String((e as { name?: unknown }).name));

function readSegments(v: unknown, segs: Segment[]): unknown {
  if (segs.length === 0) return v;
  if (!v || typeof v !== 'object') return undefined;
  const [seg, ...rest] = segs as [Segment, ...Segment[]];
  const value = (v as Record<string, unknown>)[seg.key];
  if (seg.select === null) return readSegments(value, rest);
  if (!Array.isArray(value)) return undefined;
  if (seg.select === '*') {
    const values = value.map((e) => readSegments(e, rest));
    return values.length > 0 && values.every(isPresent) ? values : undefined;
  }
  return readSegments(value.find((e) => named(e, seg.select as string[])), rest);
}

/** The value at a fact path (the first present of `|` alternatives), or undefined when the fact is absent. */
export function readFact(doc: unknown, p: string): unknown {
  for (const alternative of p.split('|')) {
    const v = readSegments(doc, parsePath(alternative));
    if (isPresent(v)) return v;
  }
  return undefined;
}

function removeSegments(v: unknown, segs: Segment[]): void {
  if (!v || typeof v !== 'object' || segs.length === 0) return;
  const [seg, ...rest] = segs as [Segment, ...Segment[]];
  const o = v as Record<string, unknown>;
  if (seg.select === null) {
    if (rest.length === 0) delete o[seg.key];
    else removeSegments(o[seg.key], rest);
    return;
  }
  const list = o[seg.key];
  if (!Array.isArray(list)) return;
  const hit = (e: unknown): boolean => seg.select === '*' || named(e, seg.select as string[]);
  if (rest.length === 0) o[seg.key] = list.filter((e) => !hit(e));
  else for (const e of list.filter(hit)) removeSegments(e, rest);
}

/** A copy of doc without the fact at the path (for ablation). */
export function removeFact<T>(doc: T, p: string): T {
  const copy = structuredClone(doc);
  for (const alternative of p.split('|')) removeSegments(copy, parsePath(alternative));
  return copy;
}

// ------------------------------------------------------------------ assessment

export interface PointResult {
  id: string;
  requirement: RequirementKey;
  awards: string;
  points: number;
  earned: number;
  /** The facts that earned it (location, path and value), or what is missing. */
  evidence: string;
}

export interface Assessment {
  key: RequirementKey;
  title: string;
  points: number;
  /** The most genlab's rubric can award for this requirement (CRFM's scale is 0–4). */
  max: number;
  evidence: string[];
  items: PointResult[];
}

/** A folder's facts: its stages and the document of the folder itself (record + evaluations + declarations + weights). */
export interface FolderFacts {
  lineage: readonly Stage[];
  model: Record<string, unknown>;
  /** Where a model fact path is cited from: "run.json", "evaluations.json", "model.safetensors". */
  citeModel: (factPath: string) => string;
}

function show(v: unknown): string {
  if (Array.isArray(v)) return v.length <= 3 && v.every((x) => typeof x !== 'object') ? v.map(show).join(', ') : `${v.length} values`;
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e6 ? v.toLocaleString('en-US') : v.toPrecision(4);
  if (typeof v === 'string') return v.length > 60 ? `"${v.slice(0, 57)}…"` : `"${v}"`;
  if (v && typeof v === 'object') return '{…}';
  return String(v);
}

function assessPoint(p: RubricPoint, f: FolderFacts): PointResult {
  const result = (earned: boolean, evidence: string): PointResult => ({ id: p.id, requirement: p.requirement, awards: p.awards, points: p.points, earned: earned ? p.points : 0, evidence });
  const docs: { doc: Record<string, unknown> | null; cite: (fact: string) => string; label: string }[] =
    p.scope === 'model'
      ? [{ doc: f.model, cite: f.citeModel, label: 'this folder' }]
      : f.lineage
          .filter((s) => p.scope === 'stages' || s.record?.data !== null)
          .map((s) => ({ doc: s.record as Record<string, unknown> | null, cite: () => s.at, label: stageLabel(f.lineage, s) }));
  if (docs.length === 0) return result(false, 'no stage of this model trained on data');
  const cited: string[] = [];
  for (const d of docs) {
    if (!d.doc) return result(false, `missing: ${d.label} has no run record (origin unknown)`);
    const values = p.facts.map((fact) => readFact(d.doc, fact));
    const missing = p.facts.filter((_, i) => values[i] === undefined);
    if (missing.length > 0) return result(false, `missing: ${missing.map((m) => `${d.cite(m)} ${m}`).join(', ')}${docs.length > 1 ? ` (${d.label})` : ''}`);
    const problem = p.check?.(values);
    if (problem) return result(false, `not earned: ${problem}${docs.length > 1 ? ` (${d.label})` : ''}`);
    cited.push(...p.facts.map((fact, i) => `${d.cite(fact)} ${fact} = ${show(values[i])}`));
  }
  return result(true, cited.join('; '));
}

/** Every rubric point, judged on the folder's facts, grouped by requirement in CRFM's order. */
export function assess(f: FolderFacts): { assessments: Assessment[]; total: number } {
  const results = RUBRIC.map((p) => assessPoint(p, f));
  const assessments = REQUIREMENTS.map((req) => {
    const items = results.filter((r) => r.requirement === req.key);
    const points = Math.min(4, items.reduce((a, r) => a + r.earned, 0));
    return {
      key: req.key,
      title: req.title,
      points,
      max: Math.min(4, items.reduce((a, r) => a + r.points, 0)),
      evidence: items.map((r) => `${r.earned ? `+${r.earned}` : '+0'} ${r.awards}: ${r.evidence}`),
      items,
    };
  });
  const total = assessments.reduce((a, s) => a + s.points, 0);
  if (total > MAX_TOTAL) throw new Error(`self-assessment total ${total} exceeds ${MAX_TOTAL}`);
  return { assessments, total };
}
