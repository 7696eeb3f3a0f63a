// Machine-generated content and hallucination signals in the API (issue 7): the request-level
// `watermark` option of the generation endpoints, POST /api/detect, and the low-confidence spans of
// an analysis. The watermark key is the server's secret (GENLAB_WATERMARK_KEY): clients choose γ
// and δ but never the key, so only the server (or whoever holds the key) can detect the mark.

import type { FastifyInstance } from 'fastify';
import { lowConfidenceSpans, type ScoredPiece } from '../account/confidence.ts';
import { DEFAULT_WATERMARK, detectWatermark, watermarkParams, type WatermarkOptions } from '../generate/watermark.ts';
import type { ServeLimits } from './limits.ts';
import type { ModelRegistry } from './models.ts';
import { detectSchema } from './schemas.ts';
import type { ConfidenceSpan, DetectRequest, Detection, WatermarkRequest } from './wire.ts';

export const WATERMARK_KEY_ENV = 'GENLAB_WATERMARK_KEY';

/** Tokens the model gave less than this probability are marked as low-confidence. */
export const LOW_CONFIDENCE_PROBABILITY = 0.1;

/** The `watermark` field of a request, as the schema admits it. */
export type WatermarkField = WatermarkRequest | undefined;

export interface RequestWatermark {
  /** What generateStream takes. */
  options: WatermarkOptions;
  /** What the response echoes (the key stays secret). */
  echo: { gamma: number; delta: number };
}

/**
 * The server's watermark key: GENLAB_WATERMARK_KEY when set, else the library's public default
 * (the paper's hash key), with which anyone can detect the mark.
 */
export function watermarkKeyFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[WATERMARK_KEY_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_WATERMARK.key;
  const key = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(key) || key > 0xffffffff) {
    throw new Error(`${WATERMARK_KEY_ENV} must be an integer from 0 to 4294967295, got '${raw}'; pick a random one, e.g. \`node -p "crypto.randomInt(2 ** 32)"\``);
  }
  return key;
}

/** The key a server runs with: the one given (checked now, not at the first request), else the environment's. */
export function resolveWatermarkKey(key?: number): number {
  return key === undefined ? watermarkKeyFromEnv() : watermarkParams({ key }).key;
}

/** Generation options for a request's `watermark` field, or null when the request asks for none. */
export function requestWatermark(field: WatermarkField, key: number): RequestWatermark | null {
  if (field === null || field === undefined || field === false) return null;
  const gamma = (field === true ? undefined : field.gamma) ?? DEFAULT_WATERMARK.gamma;
  const delta = (field === true ? undefined : field.delta) ?? DEFAULT_WATERMARK.delta;
  return { options: { gamma, delta, key }, echo: { gamma, delta } };
}

/** An analysis's low-confidence spans in the API's snake_case (offsets in UTF-16 units of the text). */
export function confidenceSpans(tokens: readonly { text: string; logprob: number | null; entropy: number | null }[]): ConfidenceSpan[] {
  const pieces: ScoredPiece[] = tokens.map((t) => ({ text: t.text, logprob: t.logprob, ...(t.entropy !== null ? { entropy: t.entropy } : {}) }));
  return lowConfidenceSpans(pieces, { maxProbability: LOW_CONFIDENCE_PROBABILITY }).map((s): ConfidenceSpan => ({
    start: s.start,
    end: s.end,
    first_token: s.firstToken,
    end_token: s.endToken,
    text: s.text,
    min_probability: s.minProbability,
    max_entropy: Number.isNaN(s.maxEntropy) ? null : s.maxEntropy,
  }));
}

export function registerAccountRoutes(app: FastifyInstance, models: ModelRegistry, limits: ServeLimits, key: number): void {
  // Detection needs only the tokenizer and the key, not the model: it does not wait in the queue.
  app.post('/api/detect', { schema: { body: detectSchema(limits) } }, async (req): Promise<Detection> => {
    const body = req.body as DetectRequest;
    const served = models.get(body.model);
    const ids = served.lm.tokenizer.encode(body.text, { allowSpecial: false });
    const d = detectWatermark(ids, { gamma: body.gamma ?? DEFAULT_WATERMARK.gamma, key });
    return {
      object: 'watermark.detection',
      model: served.id,
      tokens: ids.length,
      scored: d.scored,
      green: d.green,
      gamma: d.gamma,
      z: d.z,
      p_value: d.pValue,
      p_exact: d.pExact,
      flagged: d.flagged,
      threshold: d.threshold,
    };
  });
}
