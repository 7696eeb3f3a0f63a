// `genlab serve`: load model folders, open the feedback database, start the HTTP server.

import { isIPv4 } from 'node:net';
import path from 'node:path';
import type { BackendName } from '../backend/device.ts';
import { defaultDevice, init, type Precision } from '../backend/registry.ts';
import { loadRewardModel, type LoadedRewardModel } from '../align/reward-model.ts';
import { generationDefaults, ignoredNote } from '../generate/generation-defaults.ts';
import { parseHubSpec, resolveModelSource } from '../io/hub.ts';
import { loadLanguageModel } from '../io/model-folder.ts';
import { loadAdapter } from '../io/peft.ts';
import type { LoraAdapter } from '../nn/lora.ts';
import { FeedbackStore } from './feedback-store.ts';
import type { ServeLimits } from './limits.ts';
import { scalingSources } from './scaling-sweeps.ts';
import { createServer, type GenlabServer } from './server.ts';
import { loadTranslators } from './translate-routes.ts';

export { CHAT_STOP, chatPrompt, renderChat, type ChatMessage, type ChatPrompt } from './chat-template.ts';
export { ApiError } from './errors.ts';
export { FeedbackStore, type FeedbackInput, type PreferencePair } from './feedback-store.ts';
export { defaultLimits, type ServeLimits } from './limits.ts';
export { GenerationQueue } from './queue.ts';
export { createServer, defaultWebRoot, type GenlabServer, type ServerOptions } from './server.ts';

export interface ServeCommandOptions {
  /** Model folder(s) or hf:ORG/NAME[@REV]; each is served under its folder name (a Hub model under NAME). */
  model: string | readonly string[];
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Require `Authorization: Bearer <apiKey>` on /v1 and /api. */
  apiKey?: string;
  /** Feedback database (default runs/feedback.sqlite under the working directory). */
  db?: string;
  /** Backend when no default device was chosen yet (default: wasm, or GENLAB_BACKEND). */
  backend?: BackendName;
  threads?: number;
  /** Matmul precision of that device (int8: weights in q8_0 blocks, the fastest decoding). */
  precision?: Precision;
  limits?: Partial<ServeLimits>;
  /** Built web app folder (default web/dist of this package). */
  webRoot?: string | null;
  logger?: boolean;
  /** LoRA adapter folders served as models named `name` on the first model (one copy of the base in memory). */
  adapters?: ReadonlyArray<{ name: string; dir: string }>;
  /** Reward model folder: ranks best_of candidates and answers POST /api/reward. */
  rewardModel?: string;
  /** Where alignment runs started from the app write their adapters (default runs/align). */
  runsDir?: string;
  /** Scaling sweep folders shown in the app's Scaling tab (GET /api/scaling). */
  scaling?: readonly string[];
}

export interface RunningServer {
  url: string;
  server: GenlabServer;
  store: FeedbackStore;
  close(): Promise<void>;
}

export const defaultDbPath = (): string => path.join(process.cwd(), 'runs', 'feedback.sqlite');

async function ensureDevice(backend: BackendName | undefined, threads: number | undefined, precision: Precision | undefined): Promise<void> {
  try {
    defaultDevice();
    return;
  } catch {
    // No device yet: choose one below.
  }
  try {
    await init({ ...(backend ? { backend } : {}), ...(threads !== undefined ? { threads } : {}), ...(precision ? { precision } : {}) });
  } catch (err) {
    // Serving on the slower reference backend beats not serving, unless a backend was asked for.
    if (backend !== undefined || process.env['GENLAB_BACKEND'] !== undefined) throw err;
    console.warn(`genlab serve: the default (wasm) backend is unavailable (${(err as Error).message}); using the ref backend`);
    await init({ backend: 'ref', ...(precision ? { precision } : {}) });
  }
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}

/**
 * What an operator must hear before anyone else can reach the server: without a key, whoever can
 * connect generates text, writes feedback and starts training runs. Null when bound to loopback or
 * with a key.
 */
export function exposureWarning(host: string, apiKey: string | undefined): string | null {
  if (apiKey !== undefined || isLoopbackHost(host)) return null;
  return `warning: listening on ${host} without --api-key: anyone who can reach this address can generate text, write feedback and start training runs on this machine. Pass --api-key KEY (clients then send 'Authorization: Bearer KEY'), or bind --host 127.0.0.1.`;
}

export async function serveCommand(opts: ServeCommandOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer from 0 to 65535, got ${opts.port}`);
  const specs = typeof opts.model === 'string' ? [opts.model] : [...opts.model];
  if (specs.length === 0) throw new Error('serve needs a model folder: pass --model DIR');
  // hf:ORG/NAME is fetched into the Hub cache and served as NAME (its folder is named by commit).
  const dirs: string[] = [];
  for (const spec of specs) dirs.push(await resolveModelSource(spec));
  const hubNames = new Map(specs.map((spec, i) => [dirs[i]!, parseHubSpec(spec)?.repoId.split('/').pop()]));
  // Sweep folders are checked before the (slower) model loading; createServer checks them again.
  scalingSources(opts.scaling ?? []);
  await ensureDevice(opts.backend, opts.threads, opts.precision);
  // Translation model folders among --model are served by POST /api/translate (translate-routes.ts).
  const translators = await loadTranslators(dirs);
  const loaded = [];
  for (const dir of dirs) if (!translators.some((t) => t.dir === dir)) loaded.push(await loadLanguageModel(dir));
  if (loaded.length === 0) throw new Error('serve needs a language model folder too: pass --model LM_DIR next to the translation model(s)');
  for (const lm of loaded) {
    const note = ignoredNote(generationDefaults(lm));
    if (note) process.stderr.write(`genlab: ${lm.dir}: ${note}\n`);
  }
  const adapters: Array<{ name: string; adapter: LoraAdapter; dir: string }> = [];
  for (const a of opts.adapters ?? []) {
    try {
      adapters.push({ name: a.name, adapter: await loadAdapter(a.dir, loaded[0]!.model), dir: a.dir });
    } catch (err) {
      throw new Error(`--adapter ${a.name}=${a.dir}: ${(err as Error).message}`);
    }
  }
  const rewardModel: LoadedRewardModel | null = opts.rewardModel ? await loadRewardModel(opts.rewardModel) : null;
  const store = new FeedbackStore(opts.db ?? defaultDbPath());
  let server: GenlabServer;
  try {
    server = await createServer({
      models: loaded.map((lm) => ({ lm, dir: lm.dir, id: hubNames.get(lm.dir) })),
      translators,
      adapters,
      rewardModel,
      ...(opts.runsDir !== undefined ? { runsDir: opts.runsDir } : {}),
      ...(opts.scaling ? { scaling: opts.scaling } : {}),
      store,
      ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.webRoot !== undefined ? { webRoot: opts.webRoot } : {}),
      logger: opts.logger ?? false,
    });
    await server.app.listen({ host, port });
  } catch (err) {
    store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${port} on ${host} is already in use; pass another --port (0 picks a free one)`);
    throw err;
  }
  const exposed = exposureWarning(host, opts.apiKey);
  if (exposed) process.stderr.write(`genlab: ${exposed}\n`);
  const addr = server.app.server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actualPort}`,
    server,
    store,
    async close() {
      await server.app.close();
      store.close();
    },
  };
}
