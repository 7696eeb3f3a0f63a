// The official `openai` client against a genlab server: completions, chat, streaming, logprobs.
// Results are cross-checked against the generation library called directly and against the
// app's /api/analyze, so the server's plumbing (not just its shapes) is tested.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { generate } from '../generate/generate.ts';
import { CHAT_STOP, renderChat, type ChatMessage } from './chat-template.ts';
import { makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';

const KEY = 'sk-genlab-test';
const PROMPT = 'The Congress of the United States';

describe('OpenAI-compatible API with the official client', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let client: OpenAI;

  before(async () => {
    tiny = await makeTinyModel();
    srv = await startTestServer(tiny.lm, tiny.dir, { apiKey: KEY });
    client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });

  after(async () => {
    await srv.close();
    await tiny.cleanup();
  });

  it('lists the model', async () => {
    const page = await client.models.list();
    assert.deepEqual(
      page.data.map((m) => m.id),
      ['tiny'],
    );
  });

  it('seeded completions reproduce, and equal the library for the same settings', async () => {
    const req = { model: 'tiny', prompt: PROMPT, max_tokens: 12, n: 3, seed: 7 };
    const a = await client.completions.create(req);
    const b = await client.completions.create(req);
    const other = await client.completions.create({ ...req, seed: 8 });
    assert.equal(a.choices.length, 3);
    assert.deepEqual(
      a.choices.map((c) => c.index),
      [0, 1, 2],
    );
    assert.deepEqual(
      a.choices.map((c) => c.text),
      b.choices.map((c) => c.text),
    );
    assert.notDeepEqual(
      a.choices.map((c) => c.text),
      other.choices.map((c) => c.text),
    );
    const lib = await generate(tiny.lm, PROMPT, { maxTokens: 12, n: 3, seed: 7 });
    assert.deepEqual(
      a.choices.map((c) => c.text),
      lib.completions.map((c) => c.text),
    );
    assert.equal(a.usage?.prompt_tokens, tiny.lm.tokenizer.encode(PROMPT).length);
    assert.equal(
      a.usage?.completion_tokens,
      lib.completions.reduce((s, c) => s + c.tokens.length, 0),
    );
    assert.equal(a.usage?.total_tokens, a.usage!.prompt_tokens + a.usage!.completion_tokens);
  });

  it('streams chunks that concatenate to the non-streamed text, then usage', async () => {
    const req = { model: 'tiny', prompt: PROMPT, max_tokens: 16, n: 2, seed: 11 };
    const whole = await client.completions.create(req);
    const stream = await client.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    const texts = ['', ''];
    const finish: (string | null)[] = [null, null];
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        texts[c.index] += c.text;
        if (c.finish_reason) finish[c.index] = c.finish_reason;
      }
    }
    assert.ok(chunks > 2, `expected several chunks, got ${chunks}`);
    assert.deepEqual(
      texts,
      whole.choices.map((c) => c.text),
    );
    assert.deepEqual(
      finish,
      whole.choices.map((c) => c.finish_reason),
    );
    assert.deepEqual(usage, whole.usage);
  });

  it('cuts the text before a stop sequence', async () => {
    const greedy = { model: 'tiny', prompt: PROMPT, max_tokens: 24, temperature: 0 };
    const full = (await client.completions.create(greedy)).choices[0]!.text;
    // A stop string from the middle of the greedy text: printable ASCII so it cannot split a character.
    let at = 4;
    while (at < full.length - 2 && !/^[\x21-\x7e]{2}$/.test(full.slice(at, at + 2))) at++;
    assert.ok(at < full.length - 2, `greedy text too short to pick a stop string: ${JSON.stringify(full)}`);
    const stop = full.slice(at, at + 2);
    const cut = await client.completions.create({ ...greedy, stop: [stop, 'never-appears'] });
    assert.equal(cut.choices[0]!.text, full.slice(0, full.indexOf(stop)));
    assert.equal(cut.choices[0]!.finish_reason, 'stop');
  });

  it('reports legacy logprobs: sorted alternatives, offsets from the prompt end, argmax under greedy', async () => {
    const r = await client.completions.create({ model: 'tiny', prompt: PROMPT, max_tokens: 10, logprobs: 5, seed: 3 });
    const lp = r.choices[0]!.logprobs!;
    const n = lp.tokens!.length;
    assert.ok(n > 0);
    assert.equal(lp.token_logprobs!.length, n);
    assert.equal(lp.top_logprobs!.length, n);
    assert.equal(lp.text_offset!.length, n);
    assert.equal(lp.text_offset![0], PROMPT.length);
    for (let i = 0; i < n; i++) {
      // A JSON object's integer-like keys ("0") come first in JavaScript, so order by value here.
      const top = Object.values(lp.top_logprobs![i]!).sort((a, b) => b - a);
      assert.ok(top.length >= 1 && top.length <= 5);
      assert.ok(top.reduce((s, v) => s + Math.exp(v), 0) <= 1 + 1e-9);
      assert.ok(lp.token_logprobs![i]! <= top[0]! + 1e-12);
      if (i > 0) assert.ok(lp.text_offset![i]! >= lp.text_offset![i - 1]!);
    }
    const g = await client.completions.create({ model: 'tiny', prompt: PROMPT, max_tokens: 10, logprobs: 1, temperature: 0 });
    const glp = g.choices[0]!.logprobs!;
    glp.tokens!.forEach((tok, i) => {
      const [[best, value]] = Object.entries(glp.top_logprobs![i]!) as [[string, number]]; // one entry
      assert.equal(tok, best, 'greedy picks the most likely token');
      assert.equal(glp.token_logprobs![i], value);
    });
  });

  it('echo with logprobs equals /api/analyze for the same text', async () => {
    const text = 'Fellow citizens of the Senate and House';
    const r = await client.completions.create({ model: 'tiny', prompt: text, max_tokens: 0, echo: true, logprobs: 3 });
    assert.equal(r.choices[0]!.text, text);
    const res = await fetch(`${srv.url}/api/analyze`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify({ text, top_k: 3 }) });
    assert.equal(res.status, 200);
    const analysis = (await res.json()) as { tokens: { text: string; offset: number; logprob: number; top: { text: string; logprob: number }[] }[] };
    const lp = r.choices[0]!.logprobs!;
    assert.equal(lp.tokens!.length, analysis.tokens.length);
    analysis.tokens.forEach((t, i) => {
      assert.equal(lp.tokens![i], t.text);
      assert.equal(lp.text_offset![i], t.offset);
      assert.ok(Math.abs(lp.token_logprobs![i]! - t.logprob) < 1e-9, `token ${i}: ${lp.token_logprobs![i]} vs ${t.logprob}`);
      assert.deepEqual(new Map(Object.entries(lp.top_logprobs![i]!)), new Map(t.top.map((a) => [a.text, a.logprob])));
    });
  });

  it('accepts token-id prompts like the text they encode', async () => {
    const ids = tiny.lm.tokenizer.encode(PROMPT);
    const fromIds = await client.completions.create({ model: 'tiny', prompt: ids, max_tokens: 8, seed: 5 });
    const fromText = await client.completions.create({ model: 'tiny', prompt: PROMPT, max_tokens: 8, seed: 5 });
    assert.equal(fromIds.choices[0]!.text, fromText.choices[0]!.text);
    const batch = await client.completions.create({ model: 'tiny', prompt: [PROMPT, 'The army'], max_tokens: 4, n: 2, seed: 5 });
    assert.deepEqual(
      batch.choices.map((c) => c.index),
      [0, 1, 2, 3],
    );
    assert.equal(batch.choices[0]!.text, (await client.completions.create({ model: 'tiny', prompt: PROMPT, max_tokens: 4, n: 2, seed: 5 })).choices[0]!.text);
  });

  it('chat: documented template, chat-format logprobs, streamed deltas with usage', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You answer briefly.' },
      { role: 'user', content: 'What is the state of the Union?' },
    ];
    const req = { model: 'tiny', messages, max_tokens: 10, seed: 4 };
    const r = await client.chat.completions.create({ ...req, logprobs: true, top_logprobs: 2 });
    const prompt = renderChat(messages as ChatMessage[]);
    assert.equal(prompt, 'System: You answer briefly.\n\nUser: What is the state of the Union?\n\nAssistant:');
    assert.equal(r.usage?.prompt_tokens, tiny.lm.tokenizer.encode(prompt).length);
    const lib = await generate(tiny.lm, prompt, { maxTokens: 10, seed: 4, stop: [...CHAT_STOP] });
    const content = r.choices[0]!.message.content!;
    assert.equal(content, lib.completions[0]!.text.replace(/^\s+/, ''));
    assert.equal(r.choices[0]!.message.role, 'assistant');
    const entries = r.choices[0]!.logprobs!.content!;
    assert.ok(entries.length > 0);
    for (const e of entries) {
      assert.equal(e.top_logprobs.length, 2);
      assert.ok(Array.isArray(e.bytes) && e.bytes!.length > 0);
      assert.ok(e.logprob <= e.top_logprobs[0]!.logprob + 1e-12);
    }

    const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let streamed = '';
    let role: string | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        role ??= c.delta.role;
        streamed += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(role, 'assistant');
    assert.equal(streamed, content);
    assert.equal(finish, r.choices[0]!.finish_reason);
    assert.deepEqual(usage, r.usage);
  });

  it('surfaces errors through the client with the field named', async () => {
    await assert.rejects(client.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 100_000 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
    await assert.rejects(client.completions.create({ model: 'tiny', prompt: 'x '.repeat(300), max_tokens: 4 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded' && e.param === 'prompt');
    await assert.rejects(client.completions.create({ model: 'nope', prompt: 'x' }), (e: unknown) => e instanceof OpenAI.NotFoundError && e.param === 'model');
    await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], top_logprobs: 2 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'top_logprobs');
    const wrongKey = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(wrongKey.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  });
});
