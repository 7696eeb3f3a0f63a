// Fuzzing the HTTP surface: well over 1000 random, mutated and malformed requests (wrong types,
// missing and unknown fields, huge and negative numbers, invalid JSON, deep nesting, oversized
// bodies, wrong content types, odd methods and paths) over real HTTP. The server must answer every
// one without a 5xx, with an OpenAI-style error object for every refused API call, and stay up.
// GENLAB_FUZZ_SEED picks another deterministic run; GENLAB_FUZZ_REQUESTS another count.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';

const SEED = Number(process.env['GENLAB_FUZZ_SEED'] ?? 20240601);
const REQUESTS = Number(process.env['GENLAB_FUZZ_REQUESTS'] ?? 1000);
const BODY_LIMIT = 64 * 1024;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the fuzzer meant to send: each kind has its own expected answer. */
type FuzzKind = 'mutated' | 'valid' | 'wrong-shape' | 'invalid-json' | 'wrong-content-type' | 'oversized' | 'method-path' | 'odd-path';
const KINDS: readonly FuzzKind[] = ['mutated', 'valid', 'wrong-shape', 'invalid-json', 'wrong-content-type', 'oversized', 'method-path', 'odd-path'];

/** The answer each kind must get; the others (mutations, methods, odd paths) may be anything but a 5xx. */
const EXPECTED: Partial<Record<FuzzKind, (status: number) => boolean>> = {
  valid: (s) => s === 200 || s === 201,
  'wrong-shape': (s) => s === 400,
  'invalid-json': (s) => s === 400,
  // application/json with a form body is a JSON parse error (400); other types are refused (415).
  'wrong-content-type': (s) => s === 415 || s === 400,
  oversized: (s) => s === 413,
};

interface FuzzRequest {
  kind: FuzzKind;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const VALID: Record<string, () => Record<string, unknown>> = {
  '/v1/completions': () => ({ model: 'tiny', prompt: 'The Union', max_tokens: 4, temperature: 0.7, top_p: 0.9, n: 2, seed: 1, logprobs: 2, echo: false, stop: ['\n'] }),
  '/v1/chat/completions': () => ({ model: 'tiny', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], max_tokens: 4, logprobs: true, top_logprobs: 2, stream_options: null }),
  '/api/autocomplete': () => ({ context: 'We the people', length: 4, temperature: 0.8, top_k: 40, top_p: 0.9, n: 3 }),
  '/api/analyze': () => ({ text: 'The state of the Union', top_k: 3 }),
  '/api/feedback': () => ({ kind: 'preference', prompt: 'The', chosen: ' army', rejected: ' navy' }),
};
const POST_PATHS = Object.keys(VALID);
const GET_PATHS = ['/v1/models', '/v1/models/tiny', '/v1/models/none', '/health', '/api/config', '/api/feedback/stats', '/api/feedback/export', '/api/feedback/export?ratings=true', '/api/feedback/export?ratings=maybe', '/api/feedback/export?x=1', '/'];
const ODD_PATHS = ['/v1', '/v1/', '/v1/completions/', '/V1/completions', '/api', '/api/../v1/models', '/%2e%2e/etc/passwd', '/v1/models/%00', '/v1/models/' + 'a'.repeat(3000), '/?' + 'q='.repeat(500), '/assets/../../package.json', '/api/feedback/export?ratings=1&ratings=0'];

export function makeFuzzer(seed: number) {
  const rand = mulberry32(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

  const nasty = (): unknown =>
    pick<() => unknown>([
      () => -1,
      () => 0,
      () => 1,
      () => 2.5,
      () => -0.0001,
      () => 1e308,
      () => -1e308,
      () => 2 ** 53 + 2,
      () => 9.3e18,
      () => int(100000) - 50000,
      () => '5',
      () => '',
      () => 'x'.repeat(int(3) === 0 ? 5000 : 40),
      () => '\u0000\ud800<|endoftext|>\u202e',
      () => null,
      () => true,
      () => false,
      () => [],
      () => {},
      () => [1, 'a', null],
      () => Array.from({ length: int(300) }, () => int(400)),
      () => [[1, 2], [3]],
      () => [[]],
      () => ['a', 'b', 'c', 'd', 'e', 'f'],
      () => ({ role: 'user', content: 'hi' }),
      () => [{ role: 'user' }],
      () => [{ role: 'user', content: [{ type: 'image_url', text: 'x' }] }],
      () => [{ role: 'assistant', content: null }],
      () => ({ include_usage: 'yes' }),
      () => ({ __proto__: { polluted: true } }),
      () => JSON.parse('{"__proto__": {"polluted": true}}'),
      () => ({ constructor: { prototype: { polluted: true } } }),
    ])();

  const fields = ['model', 'prompt', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'n', 'stop', 'seed', 'echo', 'logprobs', 'top_logprobs', 'stream', 'stream_options', 'messages', 'context', 'length', 'text', 'kind', 'rating', 'chosen', 'rejected', 'completion', 'settings', 'best_of', 'presence_penalty', 'logit_bias', 'suffix', 'user', 'tools', '__proto__', 'constructor'];

  function mutate(body: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...body };
    const edits = 1 + int(3);
    for (let e = 0; e < edits; e++) {
      const keys = Object.keys(out);
      const op = int(4);
      if (op === 0 && keys.length > 0) delete out[pick(keys)];
      else if (op === 1 && keys.length > 0) out[pick(keys)] = nasty();
      else if (op === 2) out[pick(fields)] = nasty();
      else if (Array.isArray(out['messages'])) {
        const msgs = [...(out['messages'] as unknown[])];
        msgs[int(msgs.length + 1)] = pick([nasty(), { role: pick(['user', 'robot', 'assistant', 1]), content: nasty() }]);
        out['messages'] = msgs;
      } else out['stream'] = rand() < 0.5;
    }
    return out;
  }

  /** Valid requests with random in-range settings (they exercise generation, streaming included). */
  function valid(path: string): Record<string, unknown> {
    const body = VALID[path]!();
    // max_tokens 0 is valid only with echo (scoring the prompt).
    const maxTokens = int(9);
    if (path === '/v1/completions') Object.assign(body, { n: 1 + int(3), max_tokens: maxTokens, echo: maxTokens === 0 || rand() < 0.5, stream: rand() < 0.4, seed: int(1000), logprobs: rand() < 0.5 ? int(6) : null, temperature: rand() * 2 });
    if (path === '/v1/chat/completions') Object.assign(body, { n: 1 + int(2), stream: rand() < 0.4, stream_options: { include_usage: rand() < 0.5 }, temperature: rand() * 2, top_k: int(50) });
    if (path === '/api/autocomplete') Object.assign(body, { stream: rand() < 0.5, length: 1 + int(8), context: pick(['', ' ', 'We the people ', 'The Union\n', '🇺🇸 émigré']) });
    if (path === '/api/feedback' && rand() < 0.5) Object.assign(body, { kind: 'rating', completion: ' army', rating: pick(['up', 'down']) });
    return body;
  }

  function deepNest(depth: number): string {
    return '{"model":"tiny","prompt":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
  }

  return function next(): FuzzRequest {
    const json = { 'content-type': 'application/json' };
    const r = rand();
    if (r < 0.4) {
      const path = pick(POST_PATHS);
      return { kind: 'mutated', method: 'POST', path, headers: json, body: JSON.stringify(mutate(VALID[path]!())) };
    }
    if (r < 0.55) {
      const path = pick(POST_PATHS);
      // A byte-order mark before JSON is allowed (RFC 8259 lets parsers ignore it).
      return { kind: 'valid', method: 'POST', path, headers: json, body: (rand() < 0.1 ? '\ufeff' : '') + JSON.stringify(valid(path)) };
    }
    if (r < 0.65) {
      const path = pick(POST_PATHS);
      return { kind: 'wrong-shape', method: 'POST', path, headers: json, body: JSON.stringify(nasty()) };
    }
    if (r < 0.75) {
      const path = pick(POST_PATHS);
      const text = JSON.stringify(VALID[path]!());
      const bad = pick([
        () => text.slice(0, int(text.length)),
        () => text.replace(':', ''),
        () => text + '}',
        () => "{'model': 'tiny'}",
        () => Array.from({ length: 50 }, () => String.fromCharCode(int(128))).join(''),
        () => deepNest(1 + int(5000)),
        () => 'NaN',
        () => '{"max_tokens": Infinity}',
        () => '',
      ])();
      return { kind: 'invalid-json', method: 'POST', path, headers: json, body: bad };
    }
    if (r < 0.82) {
      const path = pick(POST_PATHS);
      const headers = pick<Record<string, string>>([{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }, {}, { 'content-type': 'application/json; charset=latin1' }]);
      return { kind: 'wrong-content-type', method: 'POST', path, headers, body: 'model=tiny&prompt=x' };
    }
    if (r < 0.87) {
      const path = pick(POST_PATHS);
      return { kind: 'oversized', method: 'POST', path, headers: json, body: JSON.stringify({ model: 'tiny', prompt: 'x'.repeat(BODY_LIMIT + int(10000)) }) };
    }
    if (r < 0.95) {
      return { kind: 'method-path', method: pick(['GET', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']), path: pick([...GET_PATHS, ...POST_PATHS]), headers: {} };
    }
    return { kind: 'odd-path', method: pick(['GET', 'POST']), path: pick(ODD_PATHS), headers: json, body: '{}' };
  };
}

describe('fuzzing the server', () => {
  let tiny: TinyModel;
  let srv: TestServer;

  before(async () => {
    tiny = await makeTinyModel();
    srv = await startTestServer(tiny.lm, tiny.dir, { limits: { maxTokens: 8, maxN: 4, bodyLimit: BODY_LIMIT, maxQueue: 64 } });
  });

  after(async () => {
    await srv.close();
    await tiny.cleanup();
  });

  it(`answers ${REQUESTS} random and malformed requests without a 5xx or a crash`, async () => {
    const next = makeFuzzer(SEED);
    const statuses = new Map<number, number>();
    const byKind = new Map<FuzzKind, Map<number, number>>();
    const failures: string[] = [];
    const send = async (req: FuzzRequest): Promise<void> => {
      const label = `${req.method} ${req.path.slice(0, 80)} ${req.body?.slice(0, 160) ?? ''}`;
      let res: Response;
      try {
        res = await fetch(srv.url + req.path, { method: req.method, headers: req.headers, ...(req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD' ? { body: req.body } : {}) });
      } catch (err) {
        failures.push(`${label} → connection error ${(err as Error).message}`);
        return;
      }
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const seen = byKind.get(req.kind) ?? new Map<number, number>();
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      byKind.set(req.kind, seen);
      if (res.status >= 500) failures.push(`${label} → ${res.status} ${text.slice(0, 200)}`);
      const api = req.path.startsWith('/v1') || req.path.startsWith('/api');
      if (api && res.status >= 400 && req.method !== 'HEAD') {
        try {
          const e = (JSON.parse(text) as { error: { message: unknown; type: unknown; param: unknown } }).error;
          if (typeof e.message !== 'string' || typeof e.type !== 'string' || !('param' in e)) failures.push(`${label} → error object without message/type/param: ${text.slice(0, 200)}`);
        } catch {
          failures.push(`${label} → ${res.status} without a JSON error object: ${text.slice(0, 200)}`);
        }
      }
      if (res.status === 200 && (res.headers.get('content-type') ?? '').startsWith('text/event-stream') && !text.endsWith('data: [DONE]\n\n')) {
        failures.push(`${label} → event stream not ended with [DONE]`);
      }
    };
    const batch = 8;
    for (let i = 0; i < REQUESTS; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, REQUESTS - i) }, () => send(next())));
    }
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    const health = await fetch(`${srv.url}/health`);
    assert.equal(health.status, 200, 'the server is still up');
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} bad answers; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.equal(total, REQUESTS);
    // Every kind of request was sent, and each kind with one right answer got it.
    const answers = JSON.stringify(Object.fromEntries([...byKind].map(([k, m]) => [k, Object.fromEntries(m)])));
    for (const kind of KINDS) assert.ok(byKind.has(kind), `no ${kind} request among ${REQUESTS}: ${answers}`);
    for (const [kind, ok] of Object.entries(EXPECTED) as [FuzzKind, (status: number) => boolean][]) {
      const wrong = [...byKind.get(kind)!.keys()].filter((status) => !ok(status));
      assert.deepEqual(wrong, [], `${kind} requests answered ${wrong.join(', ')}: ${answers}`);
    }
    // Both refusals and successes must occur, or the fuzzer is not exercising the server.
    assert.ok((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > 50, JSON.stringify(Object.fromEntries(statuses)));
    assert.ok((statuses.get(400) ?? 0) > 200, JSON.stringify(Object.fromEntries(statuses)));
  });
});
