// OpenAI-compatible endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models.
// Request and response shapes follow OpenAI's API reference, so the official clients work
// unchanged. Extensions: `top_k` on both generation endpoints (as vLLM has it); `watermark`
// (account-routes.ts), echoed as `watermark: { gamma, delta }`; each token's `entropy` next to its
// logprob (legacy: an `entropies` array parallel to `token_logprobs`). `best_of` > n
// generates best_of candidates and returns the n best: by the server's reward model when it has
// one, else by mean token log-probability (what OpenAI's completions endpoint ranked by).

import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { scoreCompletions, type LoadedRewardModel } from '../align/reward-model.ts';
import { generateStream, type GenerateOptions } from '../generate/generate.ts';
import { generationDefaults, type GenerationDefaults } from '../generate/generation-defaults.ts';
import type { SamplingOptions } from '../generate/sampling.ts';
import { DEFAULT_WATERMARK } from '../generate/watermark.ts';
import { requestWatermark, type WatermarkField } from './account-routes.ts';
import { chatPrompt, ChatTemplateError, type ChatMessage, type ChatPrompt } from './chat-template.ts';
import { ChoiceAccumulator, chatLogprobs, concatLegacy, legacyLogprobs, type LegacyLogprobs, type TokenEntry } from './choices.ts';
import { ApiError, badRequest } from './errors.ts';
import { streamTo, withScope } from './http.ts';
import type { ServeLimits } from './limits.ts';
import { checkContext, encodePrompt, type ModelRegistry, type ServedModel } from './models.ts';
import { chatSchema, completionSchema } from './schemas.ts';
import { scoreIds } from './scoring.ts';

interface SamplingFields {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, unknown> | null;
  best_of?: number | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  watermark?: WatermarkField;
}

interface CompletionBody extends SamplingFields {
  model: string;
  prompt: string | string[] | number[] | number[][];
  max_tokens?: number | null;
  echo?: boolean | null;
  logprobs?: number | null;
}

interface ChatBody extends SamplingFields {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
}

export const newId = (prefix: string): string => `${prefix}-${randomBytes(12).toString('hex')}`;

/** The low 32 bits of a (possibly 64-bit) seed: what the sampler's generator takes. */
export function seed32(seed: number | null | undefined): number | undefined {
  if (seed === null || seed === undefined) return undefined;
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

/**
 * The sampler settings of a request; what it leaves out comes from `defaults` (the model's
 * generation_config.json), else OpenAI's defaults (temperature 1, no top-p or top-k cut).
 */
export function samplingOptions(body: SamplingFields, defaults: Partial<GenerationDefaults> = {}): SamplingOptions & { seed?: number } {
  let temperature = body.temperature ?? defaults.temperature ?? 1;
  const topP = body.top_p ?? defaults.topP ?? 1;
  // top_p 0 keeps only the most likely token: greedy decoding.
  if (topP === 0) temperature = 0;
  const out: SamplingOptions & { seed?: number } = { temperature, topP: topP === 0 ? 1 : topP, topK: Math.max(0, body.top_k ?? defaults.topK ?? 0) };
  const s = seed32(body.seed);
  if (s !== undefined) out.seed = s;
  return out;
}

export function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return (typeof stop === 'string' ? [stop] : stop).filter((s) => s.length > 0);
}

/** Refuses OpenAI parameters this server accepts only at their neutral values. */
function checkUnsupported(body: SamplingFields): void {
  for (const key of ['presence_penalty', 'frequency_penalty'] as const) {
    const v = body[key];
    if (v !== null && v !== undefined && v !== 0) throw badRequest(`'${key}' is not supported by this server; omit it or pass 0.`, key, 'unsupported_parameter');
  }
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw badRequest("'logit_bias' is not supported by this server; omit it or pass {}.", 'logit_bias', 'unsupported_parameter');
  const n = body.n ?? 1;
  const bestOf = body.best_of ?? n;
  if (bestOf < n) throw badRequest(`'best_of' (${bestOf}) must be at least 'n' (${n}): it is how many candidates the n results are picked from.`, 'best_of', 'invalid_value');
  if (bestOf > n && body.stream) throw badRequest("'best_of' larger than 'n' cannot be streamed: the best candidates are known only at the end. Set stream to false.", 'best_of', 'invalid_value');
}

/**
 * Indexes of the n best candidates, best first: by reward when the server has a reward model,
 * else by mean token log-probability. Equal scores keep generation order.
 */
function pickBest(n: number, texts: readonly string[], meanLogprobs: readonly number[], prompt: string, reward: LoadedRewardModel | null): number[] {
  const scores = reward ? scoreCompletions(reward, prompt, texts) : meanLogprobs;
  return scores
    .map((score, i) => ({ score: Number.isNaN(score) ? -Infinity : score, i }))
    .sort((a, b) => (b.score === a.score ? a.i - b.i : b.score - a.score))
    .slice(0, n)
    .map((x) => x.i);
}

/** Mean log-probability of each candidate's generated tokens (events of one generateStream). */
class MeanLogprobs {
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  constructor(n: number) {
    this.sums = new Float64Array(n);
    this.counts = new Float64Array(n);
  }
  push(ev: { type: string; index: number; token?: { logprob: number } }): void {
    if (ev.type !== 'token' || !ev.token) return;
    this.sums[ev.index]! += ev.token.logprob;
    this.counts[ev.index]!++;
  }
  values(): number[] {
    return Array.from(this.sums, (s, i) => (this.counts[i]! > 0 ? s / this.counts[i]! : -Infinity));
  }
}

function usage(promptTokens: number, completionTokens: number): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export function registerOpenAiRoutes(app: FastifyInstance, models: ModelRegistry, limits: ServeLimits, reward: LoadedRewardModel | null = null, watermarkKey = DEFAULT_WATERMARK.key): void {
  app.get('/v1/models', async () => ({
    object: 'list',
    data: models.list().map((m) => ({
      id: m.id,
      object: 'model',
      created: m.created,
      owned_by: 'genlab',
      context_length: m.contextLength,
      vocab_size: m.lm.model.config.vocabSize,
      parent: m.adapter ? m.baseId : null,
    })),
  }));

  app.get('/v1/models/:id', async (req) => {
    const m = models.get((req.params as { id: string }).id);
    return { id: m.id, object: 'model', created: m.created, owned_by: 'genlab', context_length: m.contextLength, vocab_size: m.lm.model.config.vocabSize, parent: m.adapter ? m.baseId : null };
  });

  app.post('/v1/completions', { schema: { body: completionSchema(limits) } }, async (req, reply) => completions(req.body as CompletionBody, reply, models, limits, reward, watermarkKey));
  app.post('/v1/chat/completions', { schema: { body: chatSchema(limits) } }, async (req, reply) => chat(req.body as ChatBody, reply, models, limits, reward, watermarkKey));
}

async function completions(body: CompletionBody, reply: FastifyReply, models: ModelRegistry, limits: ServeLimits, reward: LoadedRewardModel | null, watermarkKey: number): Promise<unknown> {
  const served = models.get(body.model);
  checkUnsupported(body);
  const { tokenizer } = served.lm;
  const prompts: (string | number[])[] =
    typeof body.prompt === 'string' ? [body.prompt] : typeof body.prompt[0] === 'number' ? [body.prompt as number[]] : (body.prompt as (string | number[])[]);
  const n = body.n ?? 1;
  const bestOf = body.best_of ?? n;
  if (prompts.length * bestOf > limits.maxN) {
    const what = bestOf > n ? `best_of=${bestOf}` : `n=${n}`;
    throw badRequest(`${prompts.length} prompts × ${what} = ${prompts.length * bestOf} completions; this server generates at most ${limits.maxN} per request.`, bestOf > n ? 'best_of' : 'n', 'invalid_value');
  }
  const echo = body.echo ?? false;
  if (body.max_tokens === 0 && !echo) throw badRequest("'max_tokens' must be at least 1 (0 is allowed only with echo: true, to score the prompt).", 'max_tokens', 'invalid_value');
  const k = body.logprobs ?? null;
  const promptParam = (i: number): string => (prompts.length > 1 ? `prompt[${i}]` : 'prompt');
  const encoded = prompts.map((p, i) => encodePrompt(served, p, promptParam(i)));
  const defaults = generationDefaults(served.lm);
  const longest = encoded.reduce((m, ids) => Math.max(m, ids.length), 0);
  // Without max_tokens: the model's max_new_tokens (within the server's limit and the context), else OpenAI's 16.
  const maxTokens = body.max_tokens ?? (defaults.maxTokens !== undefined ? Math.max(1, Math.min(defaults.maxTokens, limits.maxTokens, served.contextLength - longest)) : 16);
  encoded.forEach((ids, i) => checkContext(served, ids.length, maxTokens, promptParam(i), 'max_tokens'));
  const wm = requestWatermark(body.watermark, watermarkKey);
  const wmEcho = wm ? { watermark: wm.echo } : {};
  const stopTokenIds = defaults.stopTokenIds;
  const opts: GenerateOptions = { ...samplingOptions(body, defaults), maxTokens, n, stop: stopList(body.stop), stopTokenIds, logprobs: k ?? 0, ...(wm ? { watermark: wm.options } : {}) };
  const promptTexts = prompts.map((p, i) => (typeof p === 'string' ? p : tokenizer.decode(encoded[i]!)));
  const id = newId('cmpl');
  const created = Math.floor(Date.now() / 1000);
  const includeUsage = body.stream_options?.include_usage === true;
  const promptTokens = encoded.reduce((s, ids) => s + ids.length, 0);

  const echoLogprobs = (p: number): LegacyLogprobs => {
    const ids = encoded[p]!;
    const pieces = tokenizer.tokenPieces(ids);
    let offset = 0;
    const entries: TokenEntry[] = scoreIds(served.lm, ids, k ?? 0).map((s, i) => {
      const e = { token: { id: s.id, text: tokenizer.tokenText(s.id), logprob: s.logprob, top: s.top, entropy: s.entropy }, start: offset };
      offset += pieces[i]!.length;
      return e;
    });
    return legacyLogprobs(entries, 0);
  };

  return withScope(reply, limits.requestTimeoutMs, (scope) =>
    served.queue.run(scope.signal, async () => {
      if (body.stream) {
        const chunk = (index: number, text: string, logprobs: LegacyLogprobs | null, finish: string | null): unknown => ({
          id,
          object: 'text_completion',
          created,
          model: served.id,
          choices: [{ text, index, logprobs, finish_reason: finish }],
          ...wmEcho,
          ...(includeUsage ? { usage: null } : {}),
        });
        return streamTo(reply, async (sse) => {
          let completionTokens = 0;
          for (let p = 0; p < encoded.length; p++) {
            const base = promptTexts[p]!.length;
            if (echo) {
              const lp = k !== null ? echoLogprobs(p) : null;
              for (let i = 0; i < n; i++) sse.send(chunk(p * n + i, promptTexts[p]!, lp, null));
            }
            const accs = Array.from({ length: n }, () => new ChoiceAccumulator(tokenizer, stopTokenIds));
            if (maxTokens > 0) {
              for await (const ev of generateStream(served.lm, encoded[p]!, { ...opts, signal: scope.signal })) {
                const up = accs[ev.index]!.push(ev);
                const lp = k !== null ? legacyLogprobs(up.entries, base) : null;
                if (ev.type === 'done') sse.send(chunk(p * n + ev.index, up.text, lp, ev.finishReason));
                else if (up.text !== '' || up.entries.length > 0) sse.send(chunk(p * n + ev.index, up.text, lp, null));
              }
              scope.check();
            } else {
              for (let i = 0; i < n; i++) sse.send(chunk(p * n + i, '', null, 'length'));
            }
            completionTokens += accs.reduce((s, a) => s + a.completionTokens, 0);
          }
          if (includeUsage) sse.send({ id, object: 'text_completion', created, model: served.id, choices: [], usage: usage(promptTokens, completionTokens) });
        });
      }

      const choices: unknown[] = [];
      let completionTokens = 0;
      for (let p = 0; p < encoded.length; p++) {
        const candidates = maxTokens > 0 ? bestOf : n;
        const all = Array.from({ length: candidates }, () => new ChoiceAccumulator(tokenizer, stopTokenIds));
        const means = new MeanLogprobs(candidates);
        if (maxTokens > 0) {
          for await (const ev of generateStream(served.lm, encoded[p]!, { ...opts, n: candidates, signal: scope.signal })) {
            all[ev.index]!.push(ev);
            means.push(ev);
          }
          scope.check();
        }
        completionTokens += all.reduce((sum, a) => sum + a.completionTokens, 0);
        const accs = candidates > n ? pickBest(n, all.map((a) => a.text), means.values(), promptTexts[p]!, reward).map((i) => all[i]!) : all;
        const echoed = echo && k !== null ? echoLogprobs(p) : null;
        const base = promptTexts[p]!.length;
        accs.forEach((acc, i) => {
          let logprobs: LegacyLogprobs | null = null;
          if (k !== null) {
            const own = legacyLogprobs(acc.entries, base);
            logprobs = echoed ? concatLegacy(echoed, own) : own;
          }
          choices.push({ text: (echo ? promptTexts[p]! : '') + acc.text, index: p * n + i, logprobs, finish_reason: acc.finishReason ?? 'length' });
        });
      }
      return { id, object: 'text_completion', created, model: served.id, choices, usage: usage(promptTokens, completionTokens), ...wmEcho };
    }),
  );
}

/**
 * Removes the whitespace a reply starts with when the plain template is used (it ends with
 * "Assistant:"), also across streamed pieces; with the model's own template it changes nothing.
 */
class LeadingTrim {
  private started: boolean;
  constructor(enabled: boolean) {
    this.started = !enabled;
  }
  apply(text: string): string {
    if (this.started) return text;
    const t = text.replace(/^\s+/, '');
    if (t !== '') this.started = true;
    return t;
  }
}

async function chat(body: ChatBody, reply: FastifyReply, models: ModelRegistry, limits: ServeLimits, reward: LoadedRewardModel | null, watermarkKey: number): Promise<unknown> {
  const served: ServedModel = models.get(body.model);
  checkUnsupported(body);
  const { tokenizer } = served.lm;
  if (body.top_logprobs !== null && body.top_logprobs !== undefined && body.logprobs !== true) {
    throw badRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs', 'invalid_value');
  }
  const n = body.n ?? 1;
  const bestOf = body.best_of ?? n;
  let prompt: ChatPrompt;
  try {
    prompt = chatPrompt(tokenizer, body.messages);
  } catch (e) {
    if (!(e instanceof ChatTemplateError)) throw e;
    if (e.fault === 'template') throw new ApiError(500, `${e.message}. Fix chat_template in the model folder's tokenizer_config.json.`, null, 'chat_template_error');
    throw badRequest(`${e.message}.`, 'messages', 'invalid_value');
  }
  const ids = encodePrompt(served, prompt.ids, 'messages');
  const defaults = generationDefaults(served.lm);
  const requested = body.max_completion_tokens ?? body.max_tokens ?? null;
  const maxParam = body.max_completion_tokens !== null && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  // Without a limit in the request: the model's max_new_tokens, within the server's limit and the context.
  const maxTokens = requested ?? Math.min(defaults.maxTokens ?? limits.maxTokens, limits.maxTokens, Math.max(1, served.contextLength - ids.length));
  checkContext(served, ids.length, maxTokens, 'messages', maxParam);
  const wantLogprobs = body.logprobs === true;
  const wm = requestWatermark(body.watermark, watermarkKey);
  const wmEcho = wm ? { watermark: wm.echo } : {};
  const opts: GenerateOptions = {
    ...samplingOptions(body, defaults),
    maxTokens,
    n,
    stop: [...prompt.stop, ...stopList(body.stop)],
    stopTokenIds: defaults.stopTokenIds,
    logprobs: wantLogprobs ? (body.top_logprobs ?? 0) : 0,
    ...(wm ? { watermark: wm.options } : {}),
  };
  const id = newId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const includeUsage = body.stream_options?.include_usage === true;

  return withScope(reply, limits.requestTimeoutMs, (scope) =>
    served.queue.run(scope.signal, async () => {
      const accs = Array.from({ length: n }, () => new ChoiceAccumulator(tokenizer, defaults.stopTokenIds));
      if (body.stream) {
        const trims = accs.map(() => new LeadingTrim(prompt.trimLeading));
        const chunk = (index: number, delta: Record<string, unknown>, entries: TokenEntry[] | null, finish: string | null): unknown => ({
          id,
          object: 'chat.completion.chunk',
          created,
          model: served.id,
          system_fingerprint: null,
          choices: [{ index, delta, logprobs: entries ? { content: chatLogprobs(tokenizer, entries), refusal: null } : null, finish_reason: finish }],
          ...wmEcho,
          ...(includeUsage ? { usage: null } : {}),
        });
        return streamTo(reply, async (sse) => {
          for (let i = 0; i < n; i++) sse.send(chunk(i, { role: 'assistant', content: '' }, null, null));
          for await (const ev of generateStream(served.lm, ids, { ...opts, signal: scope.signal })) {
            const up = accs[ev.index]!.push(ev);
            const text = trims[ev.index]!.apply(up.text);
            const entries = wantLogprobs && up.entries.length > 0 ? up.entries : null;
            if (text !== '' || entries) sse.send(chunk(ev.index, text !== '' ? { content: text } : {}, entries, null));
            if (ev.type === 'done') sse.send(chunk(ev.index, {}, null, ev.finishReason));
          }
          scope.check();
          if (includeUsage) {
            const completionTokens = accs.reduce((s, a) => s + a.completionTokens, 0);
            sse.send({ id, object: 'chat.completion.chunk', created, model: served.id, system_fingerprint: null, choices: [], usage: usage(ids.length, completionTokens) });
          }
        });
      }
      const all = bestOf > n ? Array.from({ length: bestOf }, () => new ChoiceAccumulator(tokenizer, defaults.stopTokenIds)) : accs;
      const means = new MeanLogprobs(all.length);
      for await (const ev of generateStream(served.lm, ids, { ...opts, n: all.length, signal: scope.signal })) {
        all[ev.index]!.push(ev);
        means.push(ev);
      }
      scope.check();
      const picked = bestOf > n ? pickBest(n, all.map((a) => new LeadingTrim(prompt.trimLeading).apply(a.text)), means.values(), prompt.text, reward).map((i) => all[i]!) : accs;
      return {
        id,
        object: 'chat.completion',
        created,
        model: served.id,
        system_fingerprint: null,
        choices: picked.map((acc, index) => ({
          index,
          message: { role: 'assistant', content: new LeadingTrim(prompt.trimLeading).apply(acc.text), refusal: null },
          logprobs: wantLogprobs ? { content: chatLogprobs(tokenizer, acc.entries), refusal: null } : null,
          finish_reason: acc.finishReason ?? 'length',
        })),
        usage: usage(ids.length, all.reduce((s, a) => s + a.completionTokens, 0)),
        ...wmEcho,
      };
    }),
  );
}
