// Types and number formatting shared by the model card's sections.

import type { CarbonIntensity } from '../record/emissions.ts';
import type { Declaration, Evaluation, RunRecord } from '../record/run-record.ts';
import type { Block } from './card-doc.ts';
import type { Stage } from './card-lineage.ts';
import type { RequirementKey } from './crfm.ts';

export interface CardSample {
  prompt: string;
  text: string;
  /** Mean probability the model gave its own tokens, and the least confident token. */
  meanProbability: number;
  lowest: { text: string; probability: number };
  /** What the sample illustrates. */
  purpose: string;
}

/** What the folder holds, counted from its config.json and weights when the card is written. */
export interface FolderModel {
  kind: 'language-model' | 'reward-model' | 'translator';
  /** One phrase, e.g. "GPT-2 architecture: 2 layers, width 64, 4 heads". */
  architecture: string;
  /** A language model's HF model_type ('gpt2', 'llama', ...): how the folder loads in transformers. */
  family?: string;
  parameters: number;
  nPositions: number;
  vocabSize: number;
  /** Translators: the language pair. */
  languages?: { source: string; target: string };
}

export interface CardInput {
  name: string;
  /** The folder as the user named it (for commands in the card). */
  dir: string;
  record: Partial<RunRecord> | null;
  /** The model's stages, itself first (default: followed from the record's parent links). */
  lineage?: Stage[];
  evaluations: Evaluation[];
  /** Where the evaluations are kept: run.json, or evaluations.json for folders without one. */
  evaluationsFile?: string;
  declarations?: Declaration[];
  model: FolderModel;
  samples: CardSample[];
  /** Given to `genlab card` (--carbon-intensity): recomputes emissions in the text, earns nothing. */
  intensity?: CarbonIntensity;
  /** Given to `genlab card` without --declared-by: claims of whoever wrote the card, not scored. */
  memberStates?: string[];
  license?: string;
  chartFile: string;
}

/** Sections hold the card's prose; points come only from the rubric (card-rubric.ts). */
export interface Section {
  key: RequirementKey;
  blocks: Block[];
}

// ------------------------------------------------------------------ formatting

export const sci = (x: number, digits = 2): string => (x === 0 ? '0' : x.toExponential(digits).replace('e+', 'e'));
export const int = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'unknown');
export const pct = (x: number, digits = 1): string => `${(100 * x).toFixed(digits)}%`;
export function energyText(kWh: number): string {
  if (kWh >= 1) return `${kWh.toFixed(3)} kWh`;
  if (kWh >= 1e-3) return `${(kWh * 1000).toFixed(2)} Wh (${kWh.toPrecision(3)} kWh)`;
  return `${(kWh * 3.6e6).toFixed(1)} J (${kWh.toPrecision(3)} kWh)`;
}
export function gramsText(g: number): string {
  return g >= 1000 ? `${(g / 1000).toFixed(3)} kg CO2e` : g >= 1 ? `${g.toFixed(2)} g CO2e` : `${(g * 1000).toFixed(2)} mg CO2e`;
}
export function duration(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}
export const UNKNOWN = '**unknown**';

export const evalsNamed = (evals: Evaluation[], name: string): Evaluation[] => evals.filter((e) => e.name === name);
