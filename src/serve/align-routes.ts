// The app's alignment endpoints: feedback pair counts and runs (start, progress, cancel), and the
// reward model's scores.
//
//   GET  /api/align                 { pairs: { preferences, from_ratings, total }, active, runs }
//   POST /api/align                 { model?, steps?, beta?, lr?, lora_r?, batch?, sft_weight?, ratings?, seed? } → 202 run
//   GET  /api/align/:id?since=N     the run, with its points from step N on (for live charts)
//   POST /api/align/:id/cancel      stops the run after its current step
//   POST /api/reward                { prompt, completions: [...] } → rewards (needs --reward-model)

import type { FastifyInstance } from 'fastify';
import { scoreCompletions, type LoadedRewardModel } from '../align/reward-model.ts';
import type { AlignmentRuns, AlignRun } from './align-runs.ts';
import { ApiError } from './errors.ts';
import type { ServeLimits } from './limits.ts';
import { bodySchema } from './schemas.ts';
import { shownPath, withoutWorkingDir } from './shown-path.ts';
import type { AlignRequest, AlignRun as AlignRunView, AlignSummary } from './wire.ts';

const int = (min: number, max: number): Record<string, unknown> => ({ type: 'integer', minimum: min, maximum: max, description: `an integer from ${min} to ${max}` });
const num = (min: number, max: number): Record<string, unknown> => ({ type: 'number', minimum: min, maximum: max, description: `a number from ${min} to ${max}` });

const startSchema = bodySchema<AlignRequest>()(
  {
    model: { type: 'string', minLength: 1, maxLength: 256, description: 'a plain model id from GET /v1/models' },
    steps: int(1, 5000),
    beta: num(0.001, 10),
    lr: num(1e-6, 0.1),
    lora_r: int(1, 256),
    lora_alpha: num(0.001, 4096),
    batch: int(1, 64),
    sft_weight: num(0, 10),
    ratings: { type: 'boolean', description: 'true or false' },
    seed: int(0, 2 ** 31 - 1),
  },
  [],
);

/** A run as the API shows it (its folder relative to the server's, never absolute); `since` drops the points before that step. */
export function runView(r: AlignRun, since = 0): AlignRunView {
  const s = r.settings;
  return {
    object: 'align.run',
    id: r.id,
    status: r.status,
    base: r.base,
    model: r.model,
    created_at: r.createdAt,
    finished_at: r.finishedAt,
    settings: { steps: s.steps, beta: s.beta, lr: s.lr, lora_r: s.loraR, lora_alpha: s.loraAlpha, batch: s.batch, sft_weight: s.sftWeight, ratings: s.ratings, seed: s.seed },
    pairs: r.pairs,
    steps: r.steps,
    step: r.step,
    points: since > 0 ? r.points.filter((p) => p.step > since) : r.points,
    events: r.events,
    eval: r.eval,
    error: r.error === null ? null : withoutWorkingDir(r.error),
    dir: r.dir === null ? null : shownPath(r.dir),
  };
}

export function registerAlignRoutes(app: FastifyInstance, runs: AlignmentRuns, reward: LoadedRewardModel | null, limits: ServeLimits): void {
  app.get('/api/align', async (): Promise<AlignSummary> => {
    const c = runs.pairCounts();
    return {
      object: 'align.summary',
      pairs: { preferences: c.preferences, from_ratings: c.fromRatings, total: c.preferences + c.fromRatings },
      active: runs.active()?.id ?? null,
      runs: runs.list().map((r): AlignRunView => ({ ...runView(r), points: r.points.slice(-1) })),
    };
  });

  app.post('/api/align', { schema: { body: startSchema } }, async (req, reply) => {
    const b = (req.body ?? {}) as AlignRequest;
    const run = runs.start({
      ...(b.model !== undefined ? { model: b.model } : {}),
      ...(b.steps !== undefined ? { steps: b.steps } : {}),
      ...(b.beta !== undefined ? { beta: b.beta } : {}),
      ...(b.lr !== undefined ? { lr: b.lr } : {}),
      ...(b.lora_r !== undefined ? { loraR: b.lora_r } : {}),
      ...(b.lora_alpha !== undefined ? { loraAlpha: b.lora_alpha } : {}),
      ...(b.batch !== undefined ? { batch: b.batch } : {}),
      ...(b.sft_weight !== undefined ? { sftWeight: b.sft_weight } : {}),
      ...(b.ratings !== undefined ? { ratings: b.ratings } : {}),
      ...(b.seed !== undefined ? { seed: b.seed } : {}),
    });
    reply.code(202);
    return runView(run);
  });

  const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } };
  app.get(
    '/api/align/:id',
    { schema: { params: idParams, querystring: { type: 'object', additionalProperties: false, properties: { since: { type: 'string', pattern: '^[0-9]{1,9}$', description: 'a step number' } } } } },
    async (req) => runView(runs.get((req.params as { id: string }).id), Number((req.query as { since?: string }).since ?? 0)),
  );

  app.post('/api/align/:id/cancel', { schema: { params: idParams } }, async (req) => runView(runs.cancel((req.params as { id: string }).id)));

  app.post(
    '/api/reward',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['completions'],
          properties: {
            prompt: { type: 'string', maxLength: limits.maxPromptChars, description: `a string of at most ${limits.maxPromptChars} characters` },
            completions: { type: 'array', minItems: 1, maxItems: limits.maxN, items: { type: 'string', maxLength: limits.maxPromptChars }, description: `1 to ${limits.maxN} strings` },
          },
        },
      },
    },
    async (req) => {
      if (!reward) throw new ApiError(404, 'This server has no reward model; start it with --reward-model DIR (train one with `genlab reward train`).', null, 'no_reward_model');
      const b = req.body as { prompt?: string; completions: string[] };
      const rewards = scoreCompletions(reward, b.prompt ?? '', b.completions);
      return { object: 'reward.list', model: shownPath(reward.dir), data: b.completions.map((c, i) => ({ index: i, completion: c, reward: rewards[i] })) };
    },
  );
}
