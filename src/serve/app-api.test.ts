// The app endpoints (autocomplete, analyze, feedback) and the server's reliability and security
// rules: queue limits, cancellation, time limits, auth, static files and body limits.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { scoreText } from '../generate/generate.ts';
import { scoreIds } from './scoring.ts';
import { makeTinyModel, sseData, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import type { AutocompleteResponse } from './wire.ts';

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('app endpoints and server rules', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let tmp: string;

  before(async () => {
    tiny = await makeTinyModel();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-app-'));
    srv = await startTestServer(tiny.lm, tiny.dir, { db: path.join(tmp, 'feedback.sqlite') });
  });

  after(async () => {
    await srv.close();
    await tiny.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  const post = async (url: string, body: unknown): Promise<Response> => fetch(srv.url + url, json(body));

  it('autocomplete gives 3 suggestions; streamed deltas add up to the same texts', async () => {
    const req = { context: 'The Congress of the United States', length: 12, seed: 21 };
    const res = await post('/api/autocomplete', req);
    assert.equal(res.status, 200);
    const body = (await res.json()) as AutocompleteResponse;
    assert.equal(body.suggestions.length, 3);
    assert.ok(body.suggestions.every((s) => s.tokens >= 1 && s.tokens <= 12));
    const streamed = await post('/api/autocomplete', { ...req, stream: true });
    assert.match(streamed.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = sseData(await streamed.text()) as { type: string; index?: number; text?: string }[];
    assert.equal(events[0]!.type, 'start');
    const texts = ['', '', ''];
    for (const e of events) if (e.type === 'delta') texts[e.index!] += e.text;
    assert.deepEqual(
      texts,
      body.suggestions.map((s) => s.text),
    );
    assert.equal(events.filter((e) => e.type === 'done').length, 3);
  });

  it('autocomplete after a typed space continues the word-level text without a doubled space', async () => {
    const base = { length: 10, seed: 3, n: 3 };
    const spaced = (await (await post('/api/autocomplete', { ...base, context: 'We the people ' })).json()) as AutocompleteResponse;
    const plain = (await (await post('/api/autocomplete', { ...base, context: 'We the people' })).json()) as AutocompleteResponse;
    assert.deepEqual(
      spaced.suggestions.map((s) => s.text),
      plain.suggestions.map((s) => (s.text.startsWith(' ') ? s.text.slice(1) : s.text)),
    );
  });

  it('autocomplete reads the end of a context longer than the model', async () => {
    const res = await post('/api/autocomplete', { context: 'and the people of the Union '.repeat(60), length: 8, n: 1 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as AutocompleteResponse;
    assert.equal(body.truncated, true);
    assert.equal(body.context_tokens, 128 - 8);
  });

  it('analyze returns every token with its probability and sorted alternatives, as scoreText computes', async () => {
    const text = 'Fellow citizens, the state of the Union is strong.';
    const res = await post('/api/analyze', { text, top_k: 4 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { tokens: { text: string; offset: number; logprob: number; prob: number; top: { logprob: number; prob: number }[] }[]; perplexity: number };
    assert.equal(body.tokens.map((t) => t.text).join(''), text);
    const ref = scoreText(tiny.lm, text, 4);
    body.tokens.forEach((t, i) => {
      assert.equal(t.offset, ref[i]!.offset);
      assert.ok(Math.abs(t.logprob - ref[i]!.logprob) < 1e-12);
      assert.ok(Math.abs(t.prob - Math.exp(t.logprob)) < 1e-12);
      assert.equal(t.top.length, 4);
      for (let j = 1; j < 4; j++) assert.ok(t.top[j - 1]!.logprob >= t.top[j]!.logprob);
    });
    const mean = body.tokens.reduce((s, t) => s + t.logprob, 0) / body.tokens.length;
    assert.ok(Math.abs(body.perplexity - Math.exp(-mean)) < 1e-9);
    const tooLong = await post('/api/analyze', { text: 'word '.repeat(3000) });
    assert.equal(tooLong.status, 400);
    assert.equal(((await tooLong.json()) as { error: { param: string } }).error.param, 'text');
  });

  it('analyze reads a text longer than the context in overlapping windows', async () => {
    const text = 'We hold these truths to be self-evident, that all men are created equal. '.repeat(8);
    const ids = tiny.lm.tokenizer.encode(text);
    const ctx = 128;
    assert.ok(ids.length > 2 * ctx, `test text too short: ${ids.length} tokens`);
    const res = await post('/api/analyze', { text, top_k: 2 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { windowed: boolean; tokens: { text: string; logprob: number }[] };
    assert.equal(body.windowed, true);
    assert.equal(body.tokens.length, ids.length);
    assert.equal(body.tokens.map((t) => t.text).join(''), text);
    // The first window reads from the start of text; the last one is the final context's worth of tokens.
    const first = scoreIds(tiny.lm, ids.slice(0, ctx - 1), 2);
    first.forEach((s, i) => assert.ok(Math.abs(s.logprob! - body.tokens[i]!.logprob) < 1e-9, `token ${i}`));
    const last = scoreIds(tiny.lm, ids.slice(ids.length - ctx), 2, { startOfText: false });
    assert.ok(Math.abs(last.at(-1)!.logprob! - body.tokens.at(-1)!.logprob) < 1e-9);
    assert.ok(body.tokens.every((t) => t.logprob <= 0));
  });

  it('stores ratings and preferences in SQLite and exports preference pairs as JSONL', async () => {
    const pref = await post('/api/feedback', { kind: 'preference', prompt: 'The army', chosen: ' marched.', rejected: ' zzz', model: 'tiny' });
    assert.equal(pref.status, 201);
    const { id } = (await pref.json()) as { id: number };
    assert.equal((await post('/api/feedback', { kind: 'rating', prompt: 'We', completion: ' the people', rating: 'up' })).status, 201);
    assert.equal((await post('/api/feedback', { kind: 'rating', prompt: 'We', completion: ' qq', rating: 'down' })).status, 201);
    const missing = await post('/api/feedback', { kind: 'preference', prompt: 'x', chosen: 'a' });
    assert.equal(((await missing.json()) as { error: { param: string } }).error.param, 'rejected');
    const same = await post('/api/feedback', { kind: 'preference', prompt: 'x', chosen: 'a', rejected: 'a' });
    assert.equal(same.status, 400);

    const db = new Database(path.join(tmp, 'feedback.sqlite'), { readonly: true });
    const row = db.prepare('SELECT kind, prompt, chosen, rejected, model FROM feedback WHERE id = ?').get(id);
    assert.deepEqual({ ...(row as object) }, { kind: 'preference', prompt: 'The army', chosen: ' marched.', rejected: ' zzz', model: 'tiny' });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();

    const only = await fetch(`${srv.url}/api/feedback/export`);
    assert.match(only.headers.get('content-type') ?? '', /application\/x-ndjson/);
    assert.deepEqual(
      (await only.text()).trim().split('\n').map((l) => JSON.parse(l)),
      [{ prompt: 'The army', chosen: ' marched.', rejected: ' zzz' }],
    );
    const withRatings = (await (await fetch(`${srv.url}/api/feedback/export?ratings=true`)).text()).trim().split('\n');
    assert.deepEqual(JSON.parse(withRatings[1]!), { prompt: 'We', chosen: ' the people', rejected: ' qq' });
    const stats = (await (await fetch(`${srv.url}/api/feedback/stats`)).json()) as { ratings: number; up: number; preferences: number };
    assert.deepEqual([stats.ratings, stats.up, stats.preferences], [2, 1, 1]);
  });

  /** Makes every forward pass take at least `ms`, so timing-dependent tests do not depend on the machine's speed. */
  const slowModel = (ms: number): { steps: () => number; restore: () => void } => {
    const model = tiny.lm.model;
    const forward = model.forward;
    const wait = new Int32Array(new SharedArrayBuffer(4));
    let steps = 0;
    model.forward = (...args: Parameters<typeof forward>) => {
      steps++;
      Atomics.wait(wait, 0, 0, ms);
      return forward.apply(model, args);
    };
    return { steps: () => steps, restore: () => void (model.forward = forward) };
  };

  it('answers 429 with Retry-After when the queue is full, and cancels a generation whose client left', async () => {
    const small = await startTestServer(tiny.lm, tiny.dir, { limits: { maxQueue: 0 } });
    const slow = slowModel(5);
    try {
      const controller = new AbortController();
      // n = 4 rows: generation ends early only if all four draw end-of-text.
      const first = await fetch(`${small.url}/v1/completions`, { ...json({ model: 'tiny', prompt: 'The', max_tokens: 100, n: 4, seed: 1, stream: true }), signal: controller.signal });
      const reader = first.body!.getReader();
      await reader.read(); // generation has started
      const second = await fetch(`${small.url}/v1/completions`, json({ model: 'tiny', prompt: 'The', max_tokens: 2 }));
      assert.equal(second.status, 429);
      assert.ok(Number(second.headers.get('retry-after')) >= 1);
      assert.equal(((await second.json()) as { error: { type: string } }).error.type, 'rate_limit_error');
      controller.abort();
      await reader.cancel().catch(() => {});
      // The server notices the closed connection and stops after the current step.
      for (let i = 0; i < 100 && small.server.models.get('tiny').queue.stats().running > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(small.server.models.get('tiny').queue.stats().running, 0);
      assert.ok(slow.steps() < 60, `generation continued after the client left: ${slow.steps()} steps`);
    } finally {
      slow.restore();
    }
    try {
      const after = await fetch(`${small.url}/v1/completions`, json({ model: 'tiny', prompt: 'The', max_tokens: 2 }));
      assert.equal(after.status, 200);
    } finally {
      await small.close();
    }
  });

  it('cancels a request that exceeds the time limit', async () => {
    const limited = await startTestServer(tiny.lm, tiny.dir, { limits: { requestTimeoutMs: 50 } });
    const slow = slowModel(5);
    try {
      const res = await fetch(`${limited.url}/v1/completions`, json({ model: 'tiny', prompt: 'The', max_tokens: 120, n: 4, seed: 1 }));
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'timeout');
      assert.ok(slow.steps() < 40, `generation went on after the time limit: ${slow.steps()} steps`);
    } finally {
      slow.restore();
      await limited.close();
    }
  });

  it('requires the API key on /v1 and /api but not on /health or the app', async () => {
    const web = path.join(tmp, 'web');
    await mkdir(web, { recursive: true });
    await writeFile(path.join(web, 'index.html'), '<!doctype html><title>app</title>');
    const locked = await startTestServer(tiny.lm, tiny.dir, { apiKey: 'k1', webRoot: web });
    try {
      for (const [method, url] of [['GET', '/v1/models'], ['POST', '/v1/completions'], ['POST', '/api/analyze'], ['GET', '/api/feedback/export'], ['GET', '/api/config']] as const) {
        const res = await fetch(locked.url + url, { method, headers: { 'content-type': 'application/json', authorization: 'Bearer k2' }, ...(method === 'POST' ? { body: '{}' } : {}) });
        assert.equal(res.status, 401, `${method} ${url}`);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
      }
      assert.equal((await fetch(`${locked.url}/v1/models`, { headers: { authorization: 'Bearer k1' } })).status, 200);
      assert.equal((await fetch(`${locked.url}/health`)).status, 200);
      const page = await fetch(`${locked.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    } finally {
      await locked.close();
    }
  });

  it('serves no file outside the web folder', async () => {
    const web = path.join(tmp, 'site', 'dist');
    await mkdir(path.join(web, 'assets'), { recursive: true });
    await writeFile(path.join(web, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(path.join(web, 'assets', 'a.js'), 'console.log(1)');
    await writeFile(path.join(tmp, 'site', 'secret.txt'), 'TOP-SECRET');
    await writeFile(path.join(web, '.env'), 'HIDDEN=1');
    const site = await startTestServer(tiny.lm, tiny.dir, { webRoot: web });
    try {
      assert.equal((await fetch(`${site.url}/assets/a.js`)).status, 200);
      const attempts = ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e%2f%2e%2e%2fpackage.json', '/.env', '/assets/%2e%2e/%2e%2e/secret.txt', '//etc/passwd', '/..\\secret.txt'];
      for (const p of attempts) {
        // Raw request: fetch would normalise the dots away before sending.
        const res = await rawGet(site.url, p);
        assert.ok(res.status >= 400 && res.status < 500, `${p} → ${res.status}`);
        assert.ok(!res.body.includes('TOP-SECRET') && !res.body.includes('HIDDEN') && !res.body.includes('root:'), `${p} leaked a file`);
      }
    } finally {
      await site.close();
    }
  });

  it('refuses bad bodies with OpenAI-style errors: invalid JSON, wrong type, oversized, unknown fields', async () => {
    const send = async (body: string, type = 'application/json'): Promise<{ status: number; error: { message: string; param: string | null; type: string } }> => {
      const res = await fetch(`${srv.url}/v1/completions`, { method: 'POST', headers: { 'content-type': type }, body });
      return { status: res.status, ...((await res.json()) as { error: { message: string; param: string | null; type: string } }) };
    };
    const invalid = await send('{"model": "tiny", "prompt": ');
    assert.equal(invalid.status, 400);
    assert.equal(invalid.error.type, 'invalid_request_error');
    const wrongType = await send(JSON.stringify({ model: 'tiny', prompt: 'x', temperature: 'hot' }));
    assert.deepEqual([wrongType.status, wrongType.error.param], [400, 'temperature']);
    const negative = await send(JSON.stringify({ model: 'tiny', prompt: 'x', n: -1 }));
    assert.deepEqual([negative.status, negative.error.param], [400, 'n']);
    const huge = await send('{"model": "tiny", "prompt": "x", "max_tokens": 1e400}');
    assert.deepEqual([huge.status, huge.error.param], [400, 'max_tokens']);
    const missing = await send(JSON.stringify({ prompt: 'x' }));
    assert.deepEqual([missing.status, missing.error.param], [400, 'model']);
    const unknown = await send(JSON.stringify({ model: 'tiny', prompt: 'x', tools: [] }));
    assert.deepEqual([unknown.status, unknown.error.param], [400, 'tools']);
    const nested = await fetch(`${srv.url}/v1/chat/completions`, json({ model: 'tiny', messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }] }));
    assert.equal(((await nested.json()) as { error: { param: string } }).error.param, 'messages[1].role');
    const big = await send(JSON.stringify({ model: 'tiny', prompt: 'x'.repeat(2 << 20) }));
    assert.equal(big.status, 413);
    const text = await send('hello', 'text/plain');
    assert.equal(text.status, 415);
  });
});

async function rawGet(base: string, rawPath: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
