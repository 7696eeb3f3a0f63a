// The web app's endpoints: autocomplete (Write With Transformer's suggestions, optionally
// watermarked), analyze (each token's probability, entropy and alternatives, and the spans of
// low-confidence tokens), and human feedback (ratings, preferences, export).

import type { FastifyInstance, FastifyReply } from 'fastify';
import { generateStream, startOfTextId } from '../generate/generate.ts';
import { generationDefaults } from '../generate/generation-defaults.ts';
import { DEFAULT_WATERMARK } from '../generate/watermark.ts';
import { confidenceSpans, requestWatermark } from './account-routes.ts';
import { ChoiceAccumulator } from './choices.ts';
import { badRequest } from './errors.ts';
import type { FeedbackStore } from './feedback-store.ts';
import { streamTo, withScope } from './http.ts';
import type { ServeLimits } from './limits.ts';
import type { ModelRegistry } from './models.ts';
import { newId, samplingOptions, stopList } from './openai-routes.ts';
import { analyzeSchema, autocompleteSchema, feedbackSchema } from './schemas.ts';
import { scoreIdsWindowed } from './scoring.ts';
import type { Alternative, AnalyzedToken, AnalyzeRequest, Analysis, AutocompleteHead, AutocompleteRequest, AutocompleteResponse, FeedbackCreated, FeedbackRequest, FeedbackStats, SuggestEvent } from './wire.ts';

/** Analysis reads texts up to this many model contexts long. */
const ANALYZE_WINDOWS = 8;

/** Write With Transformer's defaults: short, varied, but not wild continuations. */
export const AUTOCOMPLETE_DEFAULTS = { length: 20, n: 3, temperature: 0.8, top_k: 40, top_p: 0.9 } as const;

/**
 * A context ending in spaces: byte-level BPE attaches a space to the word after it, so the model
 * continues best from the text without them and writes " word" itself. The suggestion then drops
 * that one leading space, because the person already typed it.
 */
class SpaceJoin {
  private first = true;
  constructor(private readonly active: boolean) {}
  apply(text: string): string {
    if (!this.active || !this.first || text === '') return text;
    this.first = false;
    return text.startsWith(' ') ? text.slice(1) : text;
  }
}

export function registerAppRoutes(app: FastifyInstance, models: ModelRegistry, store: FeedbackStore, limits: ServeLimits, watermarkKey = DEFAULT_WATERMARK.key): void {
  app.post('/api/autocomplete', { schema: { body: autocompleteSchema(limits) } }, async (req, reply) => autocomplete(req.body as AutocompleteRequest, reply, models, limits, watermarkKey));

  app.post('/api/analyze', { schema: { body: analyzeSchema(limits) } }, async (req, reply) => {
    const body = req.body as AnalyzeRequest;
    const served = models.get(body.model);
    const { tokenizer } = served.lm;
    const ids = tokenizer.encode(body.text, { allowSpecial: false });
    const maxTokens = ANALYZE_WINDOWS * served.contextLength;
    if (ids.length > maxTokens) {
      throw badRequest(`The text has ${ids.length} tokens; analysis reads at most ${maxTokens} (${ANALYZE_WINDOWS} × the model's context of ${served.contextLength}). Analyze a shorter text.`, 'text', 'context_length_exceeded');
    }
    const topK = body.top_k ?? 5;
    const fits = ids.length + (startOfTextId(tokenizer) === null ? 0 : 1) <= served.contextLength;
    return withScope(reply, limits.requestTimeoutMs, (scope) =>
      served.queue.run(scope.signal, async (): Promise<Analysis> => {
        scope.check();
        // One pass when the text fits the context, else overlapping windows (see scoreIdsWindowed).
        const pieces = tokenizer.tokenPieces(ids);
        let offset = 0;
        const tokens = scoreIdsWindowed(served.lm, ids, topK).map((s, i) => {
          const t = { id: s.id, text: pieces[i]!, offset, logprob: s.logprob, top: s.top, entropy: s.entropy };
          offset += pieces[i]!.length;
          return t;
        });
        const known = tokens.filter((t) => t.logprob !== null);
        const sum = known.reduce((s, t) => s + t.logprob!, 0);
        return {
          object: 'analysis',
          model: served.id,
          windowed: !fits,
          tokens: tokens.map((t): AnalyzedToken => ({
            id: t.id,
            text: t.text,
            offset: t.offset,
            logprob: t.logprob,
            prob: t.logprob === null ? null : Math.exp(t.logprob),
            entropy: t.entropy,
            top: t.top.map((a): Alternative => ({ id: a.id, text: a.text, logprob: a.logprob, prob: Math.exp(a.logprob) })),
          })),
          total_logprob: sum,
          perplexity: known.length > 0 ? Math.exp(-sum / known.length) : null,
          low_confidence_spans: confidenceSpans(tokens),
        };
      }),
    );
  });

  app.post('/api/feedback', { schema: { body: feedbackSchema(limits) } }, async (req, reply) => {
    const body = req.body as FeedbackRequest;
    if (body.kind === 'preference' && body.chosen === body.rejected) {
      throw badRequest("'rejected' is the same text as 'chosen'; a preference needs two different completions.", 'rejected', 'invalid_value');
    }
    const id = store.add(body);
    reply.code(201);
    return { id, object: 'feedback', kind: body.kind } satisfies FeedbackCreated;
  });

  app.get('/api/feedback/stats', async (): Promise<FeedbackStats> => ({ object: 'feedback.stats', ...store.count() }));

  app.get(
    '/api/feedback/export',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ratings: { enum: ['true', 'false', '1', '0'], description: "'true' to add pairs made from 👍/👎 ratings of the same prompt" },
            model: { type: 'string', maxLength: 256, description: 'a model id' },
          },
        },
      },
    },
    async (req, reply) => {
      const q = req.query as { ratings?: string; model?: string };
      // Built in one synchronous pass: better-sqlite3 cannot run inserts while an iterator is open.
      let out = '';
      for (const pair of store.pairs({ ratings: q.ratings === 'true' || q.ratings === '1', ...(q.model !== undefined ? { model: q.model } : {}) })) {
        out += `${JSON.stringify(pair)}\n`;
      }
      reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('content-disposition', 'attachment; filename="preferences.jsonl"');
      return out;
    },
  );
}

async function autocomplete(body: AutocompleteRequest, reply: FastifyReply, models: ModelRegistry, limits: ServeLimits, watermarkKey: number): Promise<unknown> {
  const served = models.get(body.model);
  const { tokenizer } = served.lm;
  const length = body.length ?? Math.min(AUTOCOMPLETE_DEFAULTS.length, limits.maxTokens);
  if (length >= served.contextLength) {
    throw badRequest(`'length' must be less than the model's context of ${served.contextLength} tokens.`, 'length', 'context_length_exceeded');
  }
  const n = body.n ?? Math.min(AUTOCOMPLETE_DEFAULTS.n, limits.maxN);
  const spaced = / +$/.test(body.context);
  const text = spaced ? body.context.replace(/ +$/, '') : body.context;
  // The editor may hold more text than the model reads: suggest from the end of it. A Llama
  // tokenizer's BOS comes first, as in every prompt (promptIds).
  const all = tokenizer.encode(text, { allowSpecial: false, addSpecialTokens: true });
  const budget = served.contextLength - length;
  const ids = all.length > budget ? all.slice(all.length - budget) : all.length > 0 ? all : tokenizer.eotId !== null ? [tokenizer.eotId] : [];
  if (ids.length === 0) throw badRequest("'context' is empty and the model has no end-of-text token to start from; type some text first.", 'context', 'invalid_value');
  const sampling = samplingOptions({
    temperature: body.temperature ?? AUTOCOMPLETE_DEFAULTS.temperature,
    top_k: body.top_k ?? AUTOCOMPLETE_DEFAULTS.top_k,
    top_p: body.top_p ?? AUTOCOMPLETE_DEFAULTS.top_p,
    seed: body.seed ?? null,
  });
  const wm = requestWatermark(body.watermark, watermarkKey);
  const { stopTokenIds } = generationDefaults(served.lm);
  const opts = { ...sampling, maxTokens: length, n, stop: stopList(body.stop), stopTokenIds, ...(wm ? { watermark: wm.options } : {}) };
  const id = newId('sugg');
  const head: AutocompleteHead = { id, model: served.id, context_tokens: ids.length, truncated: all.length > budget, ...(wm ? { watermark: wm.echo } : {}) };

  return withScope(reply, limits.requestTimeoutMs, (scope) =>
    served.queue.run(scope.signal, async () => {
      const accs = Array.from({ length: n }, () => new ChoiceAccumulator(tokenizer, stopTokenIds));
      const joins = accs.map(() => new SpaceJoin(spaced));
      if (body.stream) {
        return streamTo(reply, async (sse) => {
          const send = (e: SuggestEvent): void => sse.send(e);
          send({ type: 'start', n, ...head });
          for await (const ev of generateStream(served.lm, ids, { ...opts, signal: scope.signal })) {
            const piece = joins[ev.index]!.apply(accs[ev.index]!.push(ev).text);
            if (piece !== '') send({ type: 'delta', index: ev.index, text: piece });
            if (ev.type === 'done') send({ type: 'done', index: ev.index, finish_reason: ev.finishReason });
          }
          scope.check();
        });
      }
      for await (const ev of generateStream(served.lm, ids, { ...opts, signal: scope.signal })) accs[ev.index]!.push(ev);
      scope.check();
      return {
        object: 'autocomplete',
        ...head,
        suggestions: accs.map((acc, index): AutocompleteResponse['suggestions'][number] => ({ index, text: joins[index]!.apply(acc.text), finish_reason: acc.finishReason ?? 'length', tokens: acc.completionTokens })),
      } satisfies AutocompleteResponse;
    }),
  );
}
