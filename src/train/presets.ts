// Model presets: a GPT-2 shape plus the tokenizer size and training defaults that suit it on a
// 2-core machine. `tiny` is what tests use; `base` is the default, the shape that reached the lowest
// validation loss in 15 minutes on 2 cores; `app` is what `npm start` trains.

import type { GptConfig } from '../models/gpt.ts';

export interface Preset {
  /** One line for --help. */
  description: string;
  model: Omit<GptConfig, 'vocabSize'>;
  /** BPE vocabulary size (including <|endoftext|>). */
  vocabSize: number;
  /** Training defaults. */
  batch: number;
  seqLen: number;
  steps: number;
  lr: number;
}

const common = { nInner: null, layerNormEpsilon: 1e-5, embdPdrop: 0, residPdrop: 0, attnPdrop: 0, initializerRange: 0.02 };

export const presets = {
  tiny: {
    description: '2 layers, 64 wide, 64-token context: trains in about a minute (tests)',
    model: { ...common, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2 },
    vocabSize: 512,
    batch: 16,
    seqLen: 64,
    steps: 1000,
    lr: 3e-3,
  },
  small: {
    description: '4 layers, 128 wide, 128-token context (benchmark config a)',
    model: { ...common, nPositions: 128, nEmbd: 128, nLayer: 4, nHead: 4 },
    vocabSize: 1024,
    batch: 16,
    seqLen: 128,
    steps: 1500,
    lr: 2e-3,
  },
  app: {
    description: "4 layers, 128 wide, 128-token context: the app's default model (about 5 minutes on 2 cores)",
    model: { ...common, nPositions: 128, nEmbd: 128, nLayer: 4, nHead: 4 },
    vocabSize: 2048,
    batch: 16,
    seqLen: 128,
    steps: 1000,
    lr: 2e-3,
  },
  base: {
    description: '4 layers, 128 wide, 256-token context: the default, the best of the shapes tried for 15 minutes on 2 cores',
    // bench/choose-default-preset.ts: at 15 minutes (7,800 steps here) this shape reached a lower
    // validation loss than 4 × 96 (10,000 steps); wider shapes lost already at half that budget.
    model: { ...common, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4 },
    vocabSize: 2048,
    batch: 8,
    seqLen: 256,
    steps: 7800,
    lr: 2e-3,
  },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof presets;
export const presetNames = Object.keys(presets) as PresetName[];
export const defaultPreset: PresetName = 'base';
