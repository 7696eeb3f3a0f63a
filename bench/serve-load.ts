// `npm run bench:serve` (bench/serve.ts): K concurrent clients (autocannon) send generation requests to a genlab
// server for T seconds; reports requests/s, generated tokens/s, p50/p99 latency and errors
// (target: 0). The server runs in its own process, as in production, so the load generator does
// not share its event loop. Without --model a tiny random-weight model is made (say so in results:
// its speed is not a real model's).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import type { BackendName } from '../src/backend/device.ts';

export type BenchEndpoint = 'completions' | 'chat' | 'autocomplete';

export interface ServeBenchOptions {
  /** Model folder; default: a tiny random-weight model made for the run. */
  model?: string;
  /** Concurrent clients (default 4). */
  connections?: number;
  /** Seconds of load (default 10). */
  duration?: number;
  /** Tokens per completion (default 16). */
  maxTokens?: number;
  endpoint?: BenchEndpoint;
  /** Ask for Server-Sent Events (default false). */
  stream?: boolean;
  backend?: BackendName;
  json?: boolean;
  print?: (line: string) => void;
}

export interface ServeBenchResult {
  bench: 'serve';
  model: string;
  endpoint: BenchEndpoint;
  stream: boolean;
  connections: number;
  duration_s: number;
  max_tokens: number;
  requests: number;
  requests_per_s: number;
  generated_tokens: number;
  generated_tokens_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  errors: number;
  non_2xx: number;
  timeouts: number;
}

const PROMPT = 'Fellow citizens of the Senate and House of Representatives, the state of the Union';

function requestBody(endpoint: BenchEndpoint, model: string, maxTokens: number, stream: boolean): { path: string; body: string } {
  const usage = stream ? { stream: true, stream_options: { include_usage: true } } : {};
  switch (endpoint) {
    case 'completions':
      return { path: '/v1/completions', body: JSON.stringify({ model, prompt: PROMPT, max_tokens: maxTokens, temperature: 0.8, ...usage }) };
    case 'chat':
      return { path: '/v1/chat/completions', body: JSON.stringify({ model, messages: [{ role: 'user', content: 'What is the state of the Union?' }], max_tokens: maxTokens, ...usage }) };
    case 'autocomplete':
      return { path: '/api/autocomplete', body: JSON.stringify({ model, context: PROMPT, length: maxTokens, n: 3, stream }) };
  }
}

/** Generated tokens in one response body (usage, or the suggestions' token counts). */
export function generatedTokens(body: string): number {
  if (body.startsWith('data: ') || body.includes('\ndata: ')) {
    let tokens = 0;
    let deltas = 0;
    for (const line of body.split('\n')) {
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const ev = JSON.parse(line.slice(6)) as { usage?: { completion_tokens: number } | null; type?: string };
      if (ev.usage) tokens = ev.usage.completion_tokens;
      if (ev.type === 'delta') deltas++;
    }
    // Streamed suggestions carry no usage: count text pieces (a lower bound of tokens).
    return tokens || deltas;
  }
  const parsed = JSON.parse(body) as { usage?: { completion_tokens: number }; suggestions?: { tokens: number }[] };
  return parsed.usage?.completion_tokens ?? (parsed.suggestions ?? []).reduce((s, x) => s + x.tokens, 0);
}

interface ChildServer {
  url: string;
  modelId: string;
  stop(): Promise<void>;
}

async function startServerProcess(opts: { model?: string; backend?: BackendName }, tmp: string): Promise<ChildServer> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve-child', JSON.stringify({ ...opts, tmp })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { url, modelId } = await new Promise<{ url: string; modelId: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^READY (\S+) (\S+)$/m.exec(out);
      if (m) resolve({ url: m[1]!, modelId: m[2]! });
    });
    child.once('exit', (code) => reject(new Error(`the bench server exited (code ${code}) before it was ready`)));
  });
  return {
    url,
    modelId,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function benchServe(opts: ServeBenchOptions = {}): Promise<ServeBenchResult> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const connections = opts.connections ?? 4;
  const duration = opts.duration ?? 10;
  const maxTokens = opts.maxTokens ?? 16;
  const endpoint = opts.endpoint ?? 'completions';
  const stream = opts.stream ?? false;
  for (const [name, v, min] of [['connections', connections, 1], ['duration', duration, 1], ['max tokens', maxTokens, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`serve bench: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-bench-serve-'));
  const server = await startServerProcess({ ...(opts.model ? { model: opts.model } : {}), ...(opts.backend ? { backend: opts.backend } : {}) }, tmp);
  try {
    const req = requestBody(endpoint, server.modelId, maxTokens, stream);
    let generated = 0;
    if (!opts.json) print(`serve bench: ${connections} clients × ${duration} s, POST ${req.path} (${maxTokens} tokens${stream ? ', streamed' : ''}) on model ${server.modelId}${opts.model ? '' : ' (tiny random-weight model)'}`);
    const result = await autocannon({
      url: server.url,
      connections,
      duration,
      timeout: 120,
      requests: [
        {
          method: 'POST',
          path: req.path,
          headers: { 'content-type': 'application/json' },
          body: req.body,
          onResponse: (status: number, body: string) => {
            if (status === 200) generated += generatedTokens(body);
          },
        },
      ],
    });
    const ok = result.requests.total;
    const out: ServeBenchResult = {
      bench: 'serve',
      model: opts.model ?? 'tiny random-weight (2 layers, 64 wide, vocab 300)',
      endpoint,
      stream,
      connections,
      duration_s: result.duration,
      max_tokens: maxTokens,
      requests: ok,
      requests_per_s: ok / result.duration,
      generated_tokens: generated,
      generated_tokens_per_s: generated / result.duration,
      latency_p50_ms: result.latency.p50,
      latency_p99_ms: result.latency.p99,
      latency_max_ms: result.latency.max,
      errors: result.errors,
      non_2xx: result.non2xx,
      timeouts: result.timeouts,
    };
    if (opts.json) print(JSON.stringify(out));
    else {
      print(`  requests/s        ${out.requests_per_s.toFixed(2)}  (${ok} in ${out.duration_s.toFixed(1)} s)`);
      print(`  generated tok/s   ${out.generated_tokens_per_s.toFixed(1)}  (${generated} tokens)`);
      print(`  latency p50/p99   ${out.latency_p50_ms} / ${out.latency_p99_ms} ms (max ${out.latency_max_ms} ms)`);
      print(`  errors            ${out.errors + out.non_2xx + out.timeouts}  (connection ${out.errors}, non-2xx ${out.non_2xx}, timeouts ${out.timeouts})`);
    }
    return out;
  } finally {
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The server process of the bench: loads (or makes) the model, listens, prints READY url id. */
async function serveChild(config: { model?: string; backend?: BackendName; tmp: string }): Promise<void> {
  const { serveCommand } = await import('../src/serve/index.ts');
  let dir = config.model;
  if (!dir) {
    const { makeTinyModel } = await import('../src/serve/testing/fixtures.ts');
    dir = (await makeTinyModel({ name: 'tiny' })).dir;
  }
  const running = await serveCommand({ model: dir, port: 0, db: path.join(config.tmp, 'feedback.sqlite'), webRoot: null, ...(config.backend ? { backend: config.backend } : {}) });
  process.stdout.write(`READY ${running.url} ${path.basename(path.resolve(dir))}\n`);
  process.once('SIGTERM', () => {
    void running.close().then(() => process.exit(0));
  });
}

if (process.argv[2] === '--serve-child' && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await serveChild(JSON.parse(process.argv[3]!) as { model?: string; backend?: BackendName; tmp: string });
}
