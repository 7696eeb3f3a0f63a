// Issue 7 in the API: watermarked generation on /v1/completions, /v1/chat/completions and
// /api/autocomplete, detection with POST /api/detect, per-token entropy in every logprobs format,
// and the analysis's low-confidence spans. Detection is checked against the library's detector
// with the server's key; entropies against −Σ p log p of the full next-token distribution computed
// by the generation library (a different code path from the server's).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { lowConfidenceSpans } from '../account/confidence.ts';
import { generate, scoreIds } from '../generate/generate.ts';
import { DEFAULT_WATERMARK, detectWatermark } from '../generate/watermark.ts';
import { resolveWatermarkKey, watermarkKeyFromEnv } from './account-routes.ts';
import { sotuTexts, sseData, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import { makeTrainedTinyModel } from './testing/trained-model.ts';
import type { Detection, ErrorBody } from './wire.ts';

const KEY = 2_654_435_761;
const PROMPT = 'The Congress of the United States';

const fullEntropy = (row: { top: { logprob: number }[] }): number => -row.top.reduce((s, a) => s + Math.exp(a.logprob) * a.logprob, 0);

describe('watermark, detection, entropy and low-confidence spans in the API', () => {
  let tiny: TinyModel;
  let srv: TestServer;

  before(async () => {
    // Trained for a moment: a random model's text does not re-encode to its tokens (see testing/trained-model.ts).
    tiny = await makeTrainedTinyModel();
    srv = await startTestServer(tiny.lm, tiny.dir, { watermarkKey: KEY });
  });

  after(async () => {
    await srv?.close();
    await tiny?.cleanup();
  });

  const post = async (url: string, body: unknown): Promise<Response> => fetch(srv.url + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const detect = async (text: string): Promise<Detection> => {
    const res = await post('/api/detect', { text });
    assert.equal(res.status, 200);
    return (await res.json()) as Detection;
  };
  const V = (): number => tiny.lm.model.config.vocabSize;

  it('watermarked completions are detected with the server key; the same request without it, and human text, are not', async () => {
    const req = { model: 'tiny', prompt: PROMPT, max_tokens: 100, seed: 11, temperature: 1 };
    const marked = (await (await post('/v1/completions', { ...req, watermark: { delta: 4 } })).json()) as { choices: { text: string }[]; watermark: unknown };
    const plain = (await (await post('/v1/completions', req)).json()) as { choices: { text: string }[]; watermark?: unknown };
    assert.deepEqual(marked.watermark, { gamma: 0.25, delta: 4 });
    assert.equal('watermark' in plain, false);
    const text = marked.choices[0]!.text;
    const d = await detect(text);
    assert.ok(d.scored >= 60, `only ${d.scored} tokens scored: the completion ended early (${JSON.stringify(text)})`);
    assert.ok(d.z > 4 && d.flagged, `watermarked z ${d.z}`);
    // The server used its key: the library finds the mark with it and not with the public default.
    const ids = tiny.lm.tokenizer.encode(text);
    const lib = detectWatermark(ids, { key: KEY });
    assert.equal(d.green, lib.green);
    assert.ok(Math.abs(d.z - lib.z) < 1e-12 && Math.abs(d.p_exact - lib.pExact) < 1e-15);
    assert.ok(detectWatermark(ids, { key: DEFAULT_WATERMARK.key }).z < 4);
    const p = await detect(plain.choices[0]!.text);
    assert.ok(p.z < 4 && !p.flagged, `unwatermarked z ${p.z}`);
    const human = await detect(sotuTexts(1)[0]!.slice(0, 2000));
    assert.ok(human.scored > 200 && human.z < 4 && !human.flagged, `human text z ${human.z}`);
  });

  it('the official client sends watermark and reads entropies; streamed chunks echo the watermark and add up to the same text', async () => {
    const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const params = { model: 'tiny', prompt: PROMPT, max_tokens: 30, seed: 5, logprobs: 2, watermark: true };
    const r = (await client.completions.create(params as OpenAI.CompletionCreateParamsNonStreaming)) as OpenAI.Completion & { watermark: unknown };
    assert.deepEqual(r.watermark, { gamma: 0.25, delta: 2 });
    const lp = r.choices[0]!.logprobs! as OpenAI.CompletionChoice.Logprobs & { entropies: number[] };
    assert.equal(lp.entropies.length, lp.token_logprobs!.length);
    assert.ok(lp.entropies.every((h) => h > 0 && h <= Math.log(V()) + 1e-9));

    const streamed = await post('/v1/completions', { ...params, stream: true });
    const chunks = sseData(await streamed.text()) as { choices: { text: string; logprobs: { entropies: number[] } | null }[]; watermark: unknown }[];
    assert.ok(chunks.every((c) => JSON.stringify(c.watermark) === '{"gamma":0.25,"delta":2}'));
    assert.equal(chunks.map((c) => c.choices[0]!.text).join(''), r.choices[0]!.text);
    assert.deepEqual(
      chunks.flatMap((c) => c.choices[0]!.logprobs?.entropies ?? []),
      lp.entropies,
    );
  });

  it('chat and autocomplete take the watermark too (default γ 0.25, δ 2) and their text is detected', async () => {
    const chat = (await (await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'Tell me about the Union.' }], max_tokens: 90, seed: 4, watermark: true })).json()) as {
      choices: { message: { content: string } }[];
      watermark: unknown;
    };
    assert.deepEqual(chat.watermark, { gamma: 0.25, delta: 2 });
    const dc = await detect(chat.choices[0]!.message.content);
    assert.ok(dc.scored >= 40, `chat reply too short: ${dc.scored} scored`);
    assert.ok(dc.flagged, `chat z ${dc.z}`);

    const ac = (await (await post('/api/autocomplete', { context: PROMPT, length: 100, n: 1, seed: 9, watermark: { gamma: 0.25, delta: 3 } })).json()) as { suggestions: { text: string }[]; watermark: unknown };
    assert.deepEqual(ac.watermark, { gamma: 0.25, delta: 3 });
    const da = await detect(ac.suggestions[0]!.text);
    assert.ok(da.scored >= 60 && da.flagged, `autocomplete: ${da.scored} scored, z ${da.z}`);
    const events = sseData(await (await post('/api/autocomplete', { context: PROMPT, length: 5, n: 1, seed: 9, watermark: true, stream: true })).text()) as { type: string; watermark?: unknown }[];
    assert.deepEqual(events[0], { ...events[0], type: 'start', watermark: { gamma: 0.25, delta: 2 } });
  });

  it('refuses bad watermark values and detect bodies with an error naming the field', async () => {
    const cases: [string, unknown, string, string][] = [
      ['/v1/completions', { model: 'tiny', prompt: 'a', watermark: 'yes' }, 'watermark', 'invalid_type'],
      ['/v1/completions', { model: 'tiny', prompt: 'a', watermark: { gamma: 1 } }, 'watermark.gamma', 'invalid_value'],
      ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'a' }], watermark: { delta: -1 } }, 'watermark.delta', 'invalid_value'],
      ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'a' }], watermark: 1 }, 'watermark', 'invalid_type'],
      ['/api/autocomplete', { context: 'a', watermark: { key: 7 } }, 'watermark.key', 'unknown_parameter'],
      ['/api/autocomplete', { context: 'a', watermark: { delta: 11 } }, 'watermark.delta', 'invalid_value'],
      ['/api/detect', {}, 'text', 'missing_required_parameter'],
      ['/api/detect', { text: '' }, 'text', 'invalid_value'],
      ['/api/detect', { text: 'a b c', gamma: 0 }, 'gamma', 'invalid_value'],
    ];
    for (const [url, body, param, code] of cases) {
      const res = await post(url, body);
      assert.equal(res.status, 400, `${url} ${JSON.stringify(body)}`);
      const err = ((await res.json()) as ErrorBody).error;
      assert.equal(err.param, param, `${url} ${JSON.stringify(body)}: ${err.message}`);
      assert.equal(err.code, code, err.message);
      assert.ok(err.message.includes(param), err.message);
    }
    const gamma = (await (await post('/api/autocomplete', { context: 'a', watermark: { gamma: 2 } })).json()) as ErrorBody;
    assert.match(gamma.error.message, /between 0 and 1/);
    // false and null mean no watermark.
    for (const off of [false, null]) {
      const r = (await (await post('/v1/completions', { model: 'tiny', prompt: 'a', max_tokens: 2, watermark: off })).json()) as Record<string, unknown>;
      assert.equal('watermark' in r, false);
    }
  });

  it('the key comes from GENLAB_WATERMARK_KEY, checked at startup', () => {
    assert.equal(watermarkKeyFromEnv({}), DEFAULT_WATERMARK.key);
    assert.equal(watermarkKeyFromEnv({ GENLAB_WATERMARK_KEY: ' 4294967295 ' }), 4294967295);
    for (const bad of ['4294967296', '-1', '1.5', 'secret']) assert.throws(() => watermarkKeyFromEnv({ GENLAB_WATERMARK_KEY: bad }), /GENLAB_WATERMARK_KEY must be an integer from 0 to 4294967295/);
    assert.throws(() => resolveWatermarkKey(-3), /watermark key must be an integer/);
  });

  it('analyze: each token\'s entropy is −Σ p log p of its full distribution; low-confidence spans cover the unlikely tokens', async () => {
    const text = 'Fellow citizens, the state of the Union is strong.';
    const res = await post('/api/analyze', { text, top_k: 3 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      tokens: { text: string; logprob: number; prob: number; entropy: number }[];
      low_confidence_spans: { start: number; end: number; first_token: number; end_token: number; text: string; min_probability: number; max_entropy: number }[];
    };
    const { tokenizer } = tiny.lm;
    const full = scoreIds(tiny.lm, [tokenizer.eotId!, ...tokenizer.encode(text)], V()).slice(1);
    assert.equal(full.length, body.tokens.length);
    body.tokens.forEach((t, i) => {
      assert.equal(full[i]!.top.length, V());
      const h = fullEntropy(full[i]!);
      assert.ok(Math.abs(t.entropy - h) < 1e-6, `token ${i}: entropy ${t.entropy} vs ${h}`);
    });
    const expected = lowConfidenceSpans(body.tokens.map((t) => ({ text: t.text, logprob: t.logprob, entropy: t.entropy })));
    assert.ok(expected.length > 0);
    const marked = new Set(body.low_confidence_spans.flatMap((s) => Array.from({ length: s.end_token - s.first_token }, (_, k) => s.first_token + k)));
    assert.ok(body.tokens.some((t, i) => !marked.has(i) && t.prob >= 0.1), 'some tokens are confident and left unmarked');
    assert.deepEqual(
      body.low_confidence_spans.map((s) => [s.start, s.end, s.first_token, s.end_token, s.text]),
      expected.map((s) => [s.start, s.end, s.firstToken, s.endToken, s.text]),
    );
    for (const s of body.low_confidence_spans) {
      assert.equal(text.slice(s.start, s.end), s.text);
      const inside = body.tokens.slice(s.first_token, s.end_token);
      assert.ok(Math.abs(s.min_probability - Math.min(...inside.map((t) => t.prob))) < 1e-15);
      assert.ok(s.min_probability < 0.1);
    }
  });

  it('generated tokens carry the entropy of their position in the legacy, echo and chat formats', async () => {
    const { tokenizer } = tiny.lm;
    const promptIds = tokenizer.encode(PROMPT);
    const req = { model: 'tiny', prompt: promptIds, max_tokens: 12, seed: 3, logprobs: 1, echo: true, temperature: 1 };
    const r = (await (await post('/v1/completions', req)).json()) as { choices: { logprobs: { tokens: string[]; token_logprobs: (number | null)[]; entropies: (number | null)[] } }[] };
    const lp = r.choices[0]!.logprobs;
    const lib = await generate(tiny.lm, promptIds, { maxTokens: 12, seed: 3, temperature: 1 });
    const genIds = lib.completions[0]!.tokens.map((t) => t.id).filter((id) => id !== tokenizer.eotId);
    assert.deepEqual(lp.tokens.slice(promptIds.length), genIds.map((id) => tokenizer.tokenText(id)), 'the server generated what the library does');
    // The echo scores the prompt after end-of-text; generation continues the prompt as given.
    const echoed = scoreIds(tiny.lm, [tokenizer.eotId!, ...promptIds], V()).slice(1);
    const continued = scoreIds(tiny.lm, [...promptIds, ...genIds], V()).slice(promptIds.length);
    assert.equal(lp.entropies.length, echoed.length + continued.length);
    lp.entropies.forEach((h, i) => {
      // Echoed tokens come from one full forward pass like the reference; generated ones from the
      // KV-cached decoder, whose float32 sums differ in the last bits.
      const [ref, tol] = i < promptIds.length ? [echoed[i]!, 1e-6] : [continued[i - promptIds.length]!, 1e-4];
      assert.ok(Math.abs(h! - fullEntropy(ref)) < tol, `token ${i}: ${h} vs ${fullEntropy(ref)}`);
    });

    const chat = (await (await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, seed: 2, logprobs: true, top_logprobs: 1 })).json()) as {
      choices: { logprobs: { content: { entropy: number; top_logprobs: { logprob: number }[] }[] } }[];
    };
    const content = chat.choices[0]!.logprobs.content;
    assert.ok(content.length > 0);
    for (const e of content) {
      // The top alternative alone bounds the entropy from below: −p₁ log p₁ ≤ H ≤ log V.
      const p1 = Math.exp(e.top_logprobs[0]!.logprob);
      assert.ok(e.entropy >= -p1 * Math.log(p1) - 1e-12 && e.entropy <= Math.log(V()) + 1e-9, `entropy ${e.entropy}`);
    }
  });
});
