// The HTTP server: Fastify with a JSON Schema for every request body, OpenAI-style errors for
// everything that goes wrong, optional bearer-token auth for /v1 and /api, and the built web app
// served as static files from the same origin.

import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LoadedRewardModel } from '../align/reward-model.ts';
import type { LoraAdapter } from '../nn/lora.ts';
import { registerAccountRoutes, resolveWatermarkKey } from './account-routes.ts';
import { AlignmentRuns } from './align-runs.ts';
import { registerAlignRoutes } from './align-routes.ts';
import { AUTOCOMPLETE_DEFAULTS, registerAppRoutes } from './app-routes.ts';
import { ApiError, validationError } from './errors.ts';
import type { FeedbackStore } from './feedback-store.ts';
import { securityHeaders } from './http.ts';
import { resolveLimits, type ServeLimits } from './limits.ts';
import { ModelRegistry, type ModelSource } from './models.ts';
import { registerOpenAiRoutes } from './openai-routes.ts';
import { registerScalingRoutes } from './scaling-routes.ts';
import { scalingSources } from './scaling-sweeps.ts';
import { registerTranslateRoutes, type TranslatorSource } from './translate-routes.ts';
import type { ServedModelInfo, ServerConfig } from './wire.ts';

export interface ServerOptions {
  models: readonly ModelSource[];
  store: FeedbackStore;
  /** When set, /v1 and /api routes need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  limits?: Partial<ServeLimits>;
  /** Folder of the built web app (default: web/dist of this package); null serves no app. */
  webRoot?: string | null;
  /** Log requests (Fastify's logger) to stdout. */
  logger?: boolean;
  /** LoRA adapters served as models of their own on a plain model (default: the first). */
  adapters?: ReadonlyArray<{ name: string; adapter: LoraAdapter; base?: string; dir?: string }>;
  /** Ranks `best_of` candidates and answers POST /api/reward. */
  rewardModel?: LoadedRewardModel | null;
  /** Where alignment runs started from the app write their adapters (default runs/align). */
  runsDir?: string;
  /** Secret key of the `watermark` option and of POST /api/detect (default: GENLAB_WATERMARK_KEY, else the library's public key). */
  watermarkKey?: number;
  /** Translation models (POST /api/translate); see translate-routes.ts. */
  translators?: readonly TranslatorSource[];
  /** Scaling sweep folders (made by `genlab scaling sweep --out DIR`) shown in the app's Scaling tab. */
  scaling?: readonly string[];
}

export interface GenlabServer {
  app: FastifyInstance;
  models: ModelRegistry;
  alignRuns: AlignmentRuns;
  limits: ServeLimits;
  /** Where the web app is served from, or null when it is not built. */
  webRoot: string | null;
}

/** web/dist of the package, both from src/serve (tsx) and from dist/serve (compiled). */
export const defaultWebRoot = (): string => fileURLToPath(new URL('../../web/dist', import.meta.url));

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function fastifyErrorToApi(err: FastifyError, bodyLimit: number): ApiError | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'The request body is not valid JSON. Send a JSON object with Content-Type: application/json.', null, 'invalid_json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'The request body is empty; send a JSON object.', null, 'invalid_json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, `The request body is larger than the server's limit of ${bodyLimit} bytes.`, null, 'request_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Unsupported Content-Type; send the body as JSON with Content-Type: application/json.', null, 'unsupported_media_type');
    default:
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new ApiError(err.statusCode, err.message, null, err.code ?? null);
      }
      return null;
  }
}

/**
 * Fastify answers an oversized body with `Connection: close` without reading it, and Node then
 * closes the socket while the client is still sending: the client's TCP stack gets a reset, and
 * Node's fetch and the openai client report EPIPE ("fetch failed") instead of the 413 (curl,
 * which reads the answer first, sees it). Keeping the connection lets Node read and discard the
 * rest of the body (its framing is intact: Content-Length or chunked), so every client reads the
 * 413. Node's requestTimeout no longer applies once the answer is sent, so the drain has its own
 * time limit.
 */
function keepReadingOversizedBody(req: FastifyRequest, reply: FastifyReply, drainMs: number): void {
  reply.removeHeader('connection');
  const raw = req.raw;
  if (raw.complete) return;
  const timer = setTimeout(() => {
    if (!raw.complete) raw.socket.destroy();
  }, drainMs);
  timer.unref();
  raw.once('end', () => clearTimeout(timer));
}

export async function createServer(opts: ServerOptions): Promise<GenlabServer> {
  const limits = resolveLimits(opts.limits);
  // Checked before anything else starts: a mistyped folder fails here, not at the first request.
  const sweeps = scalingSources(opts.scaling ?? []);
  const models = new ModelRegistry(opts.models, limits.maxQueue);
  for (const a of opts.adapters ?? []) models.addAdapter(a.name, a.base ?? models.list()[0]!.id, a.adapter, a.dir ? { dir: a.dir } : {});
  const rewardModel = opts.rewardModel ?? null;
  const watermarkKey = resolveWatermarkKey(opts.watermarkKey);
  const alignRuns = new AlignmentRuns(models, opts.store, opts.runsDir ?? path.join(process.cwd(), 'runs', 'align'));
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: limits.bodyLimit,
    // A slow client may not hold a connection open forever while sending its request.
    requestTimeout: 30_000,
    forceCloseConnections: true,
    // Errors raised before routing (e.g. a path parameter over maxParamLength) get the same error objects.
    frameworkErrors: (err, _req, res) => {
      const api = fastifyErrorToApi(err, limits.bodyLimit) ?? new ApiError(400, err.message, null, err.code ?? null);
      const reply = res as unknown as FastifyReply;
      void reply.code(api.status).headers(api.headers).send(api.toBody());
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, verbose: true, allowUnionTypes: true } },
  });
  // Bodies are JSON only; anything else is refused with 415 rather than half-parsed.
  app.removeContentTypeParser(['text/plain']);

  app.setErrorHandler((err: FastifyError & { validation?: unknown[]; validationContext?: string }, req, reply) => {
    let api: ApiError;
    if (err instanceof ApiError) api = err;
    else if (Array.isArray(err.validation)) api = validationError(err.validation as Parameters<typeof validationError>[0], err.validationContext ?? 'body');
    else {
      const mapped = fastifyErrorToApi(err, limits.bodyLimit);
      if (mapped) api = mapped;
      else {
        req.log.error(err);
        api = new ApiError(500, 'The server failed to handle the request; see its log.', null, 'internal_error');
      }
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') keepReadingOversizedBody(req, reply, limits.bodyDrainMs);
    void reply.code(api.status).headers(api.headers).send(api.toBody());
  });

  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split('?')[0] ?? '';
    if (url.startsWith('/v1') || url.startsWith('/api')) {
      void reply.code(404).send(new ApiError(404, `Unknown endpoint: ${req.method} ${url}.`, null, 'unknown_url').toBody());
    } else {
      void reply.code(404).type('text/plain; charset=utf-8').send('Not found.\n');
    }
  });

  if (opts.apiKey !== undefined) {
    if (opts.apiKey.length === 0) throw new Error('the API key is empty; pass a non-empty --api-key or none');
    const expected = digest(`Bearer ${opts.apiKey}`);
    app.addHook('onRequest', async (req) => {
      // The matched route pattern, not the raw URL, decides: encoded or odd paths cannot dodge the check.
      const route = req.routeOptions.url ?? '';
      if (!route.startsWith('/v1') && !route.startsWith('/api')) return;
      const given = req.headers.authorization ?? '';
      if (!timingSafeEqual(digest(given), expected)) {
        throw new ApiError(401, "Missing or wrong API key: send the header 'Authorization: Bearer <key>' with the key the server was started with.", null, 'invalid_api_key', 'invalid_request_error');
      }
    });
  }

  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(securityHeaders)) reply.header(k, v);
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    return payload;
  });

  // A run still training when the server closes stops after its current step (it writes nothing).
  app.addHook('onClose', async () => alignRuns.close());

  app.get('/health', async () => ({
    status: 'ok',
    models: models.list().map((m) => ({ id: m.id, queue: m.queue.stats() })),
  }));

  app.get('/api/config', async (): Promise<ServerConfig> => ({
    models: models.list().map((m): ServedModelInfo => ({ id: m.id, context_length: m.contextLength, vocab_size: m.lm.model.config.vocabSize, parent: m.adapter ? m.baseId : null })),
    limits: { max_tokens: limits.maxTokens, max_n: limits.maxN, max_top_logprobs: limits.maxTopLogprobs },
    reward_model: rewardModel !== null,
    autocomplete_defaults: AUTOCOMPLETE_DEFAULTS,
    auth: opts.apiKey !== undefined,
  }));

  registerOpenAiRoutes(app, models, limits, rewardModel, watermarkKey);
  registerAppRoutes(app, models, opts.store, limits, watermarkKey);
  registerAccountRoutes(app, models, limits, watermarkKey);
  registerAlignRoutes(app, alignRuns, rewardModel, limits);
  registerTranslateRoutes(app, opts.translators ?? [], limits);
  registerScalingRoutes(app, sweeps);

  const root = opts.webRoot === undefined ? defaultWebRoot() : opts.webRoot;
  const webRoot = root !== null && existsSync(path.join(root, 'index.html')) ? path.resolve(root) : null;
  if (webRoot) {
    await app.register(fastifyStatic, {
      root: webRoot,
      prefix: '/',
      index: ['index.html'],
      dotfiles: 'deny',
      // Vite names built assets by content hash, so they never change; index.html always may.
      setHeaders: (res, file) => res.header('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache'),
    });
  } else {
    const where = root ?? '(no web folder configured)';
    app.get('/', async (_req, reply) =>
      reply
        .code(404)
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><meta charset="utf-8"><title>genlab: web app not built</title><h1>The web app is not built</h1><p>No <code>index.html</code> in <code>${escapeHtml(where)}</code>. Build it with <code>npm run build:web</code> (it is also built by <code>npm install</code> and <code>npm run build</code>), then restart the server.</p><p>The API works without it: <code>/v1/completions</code>, <code>/v1/chat/completions</code>, <code>/v1/models</code>, <code>/api/…</code>.</p>`,
        ),
    );
  }
  return { app, models, alignRuns, limits, webRoot };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
