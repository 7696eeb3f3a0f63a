// Model shapes for scaling sweeps: a ladder of GPT-2 shapes from a few thousand to a few million
// parameters (head size 16, depth growing slowly with width, as in Kaplan et al.'s finding that
// the aspect ratio barely matters), parameter counts from the config alone, and the training
// FLOPs per token they imply (counted by models/flops.ts, attention included).

import { trainingFlops } from '../models/flops.ts';
import type { GptConfig } from '../models/gpt.ts';

export interface Shape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
}

/** Smallest to largest; roughly ×2 in non-embedding parameters per rung at the top. */
export const LADDER: readonly Shape[] = [
  { nLayer: 1, nEmbd: 8, nHead: 1 },
  { nLayer: 1, nEmbd: 12, nHead: 1 },
  { nLayer: 1, nEmbd: 16, nHead: 1 },
  { nLayer: 1, nEmbd: 24, nHead: 2 },
  { nLayer: 2, nEmbd: 24, nHead: 2 },
  { nLayer: 2, nEmbd: 32, nHead: 2 },
  { nLayer: 2, nEmbd: 48, nHead: 3 },
  { nLayer: 3, nEmbd: 48, nHead: 3 },
  { nLayer: 3, nEmbd: 64, nHead: 4 },
  { nLayer: 4, nEmbd: 80, nHead: 5 },
  { nLayer: 4, nEmbd: 96, nHead: 6 },
  { nLayer: 4, nEmbd: 128, nHead: 8 },
  { nLayer: 5, nEmbd: 160, nHead: 10 },
  { nLayer: 6, nEmbd: 192, nHead: 12 },
  { nLayer: 6, nEmbd: 256, nHead: 16 },
];

export function shapeName(s: Shape): string {
  return `L${s.nLayer}-C${s.nEmbd}`;
}

/** "L4-C128", "4x128" or "4x128x8" (layers × width × heads; heads default to width/16). */
export function parseShape(spec: string): Shape {
  const m = /^(?:L(\d+)-C(\d+)(?:-H(\d+))?|(\d+)x(\d+)(?:x(\d+))?)$/i.exec(spec.trim());
  if (m === null) throw new Error(`model shape "${spec}" is not of the form L4-C128 or 4x128 (layers × width); ladder: ${LADDER.map(shapeName).join(', ')}`);
  const nLayer = Number(m[1] ?? m[4]);
  const nEmbd = Number(m[2] ?? m[5]);
  const nHead = Number(m[3] ?? m[6] ?? Math.max(1, Math.round(nEmbd / 16)));
  if (nLayer < 1 || nEmbd < 1 || nEmbd % nHead !== 0) throw new Error(`model shape "${spec}": width ${nEmbd} must be a positive multiple of the ${nHead} heads`);
  return { nLayer, nEmbd, nHead };
}

export function configFor(s: Shape, vocabSize: number, seqLen: number): GptConfig {
  return {
    vocabSize, nPositions: seqLen, nEmbd: s.nEmbd, nLayer: s.nLayer, nHead: s.nHead, nInner: null,
    layerNormEpsilon: 1e-5, embdPdrop: 0, residPdrop: 0, attnPdrop: 0, initializerRange: 0.02,
  };
}

/** Parameter counts of the GPT-2 module tree (biases included; the LM head is tied to wte). */
export function parameterCounts(c: GptConfig): { total: number; nonEmbedding: number } {
  const C = c.nEmbd;
  const H = c.nInner ?? 4 * C;
  const perLayer = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (C * H + H) + (H * C + C);
  const nonEmbedding = c.nLayer * perLayer + 2 * C;
  return { nonEmbedding, total: nonEmbedding + c.vocabSize * C + c.nPositions * C };
}

export function flopsPerToken(c: GptConfig, seqLen: number): number {
  return trainingFlops(c, 1, seqLen);
}
