// Chat prompts: real models' templates rendered with @huggingface/jinja to the exact strings their
// templates define, genlab's plain template for models without one, and /v1/chat/completions using
// a model folder's template, stop tokens and generation_config.json defaults.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import os from 'node:os';
import { generate } from '../generate/generate.ts';
import { generationDefaults } from '../generate/generation-defaults.ts';
import { loadLanguageModel, loadModel, type LoadedLlama } from '../io/model-folder.ts';
import { writeTinyLlamaFolder } from '../io/testing/tiny-llama.ts';
import { parseHfTokenizer } from '../tokenizer/hf-tokenizer.ts';
import { loadTokenizer } from '../tokenizer/files.ts';
import { REAL_TOKENIZERS } from '../tokenizer/testing/hf-reference.ts';
import { parseTokenizerConfig } from '../tokenizer/tokenizer-config.ts';
import { chatPrompt, ChatTemplateError, type ChatMessage } from './chat-template.ts';
import { makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';

const messages: ChatMessage[] = [
  { role: 'developer', content: ' Be brief. ' },
  { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: ' there!\n' }] },
];

test("Llama 3's template: header tokens, trimmed contents, BOS first, the assistant header last", async () => {
  const tok = await loadTokenizer(REAL_TOKENIZERS.llama3);
  const p = chatPrompt(tok, messages);
  assert.equal(p.template, 'model');
  // Read off the template: bos_token, then per message <|start_header_id|>ROLE<|end_header_id|>\n\n
  // + content|trim + <|eot_id|>, then the assistant header ('developer' is rendered as system).
  assert.equal(
    p.text,
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
  // The template's special tokens are tokens, not text, and nothing is added around them.
  assert.deepEqual(p.ids.slice(0, 2), [128000, 128006]);
  assert.equal(p.ids.filter((id) => id === 128000).length, 1);
  assert.deepEqual(p.ids, tok.encode(p.text));
  assert.deepEqual(p.stop, []);
  assert.equal(p.trimLeading, false);
});

test("Qwen3's template: <|im_start|> turns and the generation prompt", async () => {
  const tok = await loadTokenizer(REAL_TOKENIZERS.qwen3);
  assert.equal(
    chatPrompt(tok, [{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }]).text,
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('a template that refuses the messages or does not parse gives a ChatTemplateError', async () => {
  const json = await readFile(join(REAL_TOKENIZERS.llama2, 'tokenizer.json'), 'utf8');
  const withTemplate = (t: string) => parseHfTokenizer(json, 'tokenizer.json', parseTokenizerConfig(JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: t })));
  const alternating = withTemplate(
    "{{ bos_token }}{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate user, assistant, user, ...') }}{% endif %}" +
      "{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}",
  );
  const ok = chatPrompt(alternating, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }]);
  assert.equal(ok.text, '<s>[INST] a [/INST]b</s>[INST] c [/INST]');
  assert.deepEqual(ok.ids.slice(0, 1), [1]);
  assert.throws(() => chatPrompt(alternating, [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]), (e: unknown) => e instanceof ChatTemplateError && e.fault === 'messages' && /refused these messages: roles must alternate/.test(e.message));
  assert.throws(() => chatPrompt(withTemplate('{% for m in %}'), [{ role: 'user', content: 'a' }]), (e: unknown) => e instanceof ChatTemplateError && e.fault === 'template' && /does not parse/.test(e.message));
});

test('a tokenizer without a chat template gets the plain template, as untrusted text', async () => {
  const tok = await loadTokenizer(REAL_TOKENIZERS.llama2); // this config has no chat_template
  const p = chatPrompt(tok, [{ role: 'user', content: 'Say <s>' }]);
  assert.equal(p.template, 'plain');
  assert.equal(p.text, 'User: Say <s>\n\nAssistant:');
  assert.ok(!p.ids.includes(1), '<s> typed by the user is text');
  assert.equal(p.trimLeading, true);
});

describe('/v1/chat/completions with a model folder that has a chat template and generation_config.json', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let greedy: number[];
  let sampled: number[];
  /** The library's reply with the same seed and stop tokens. */
  let expected: string;
  /** Where the chosen stop token first comes in the sampled reply. */
  let at: number;
  const TEMPLATE = '{% for m in messages %}<|endoftext|>{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|endoftext|>assistant:{% endif %}';
  const prompt = '<|endoftext|>user: Hello\n<|endoftext|>assistant:';

  before(async () => {
    tiny = await makeTinyModel({ name: 'chatty' });
    const eot = tiny.lm.tokenizer.eotId!;
    const ids = tiny.lm.tokenizer.encode(prompt);
    const reply = async (temperature: number): Promise<number[]> =>
      (await generate(tiny.lm, ids, { maxTokens: 12, temperature, seed: 5, stopAtEndOfText: false })).completions[0]!.tokens.map((t) => t.id);
    greedy = await reply(0);
    sampled = await reply(1);
    // A token of the sampled reply that is new there (and not in the greedy one) ends turns below.
    at = sampled.findIndex((id, i) => i > 0 && !sampled.slice(0, i).includes(id) && !greedy.slice(0, 6).includes(id) && id !== eot);
    assert.ok(at > 0 && at < 5, `sampled reply ${sampled} has a new token early enough`);
    const config = JSON.parse(await readFile(join(tiny.dir, 'tokenizer_config.json'), 'utf8'));
    await writeFile(join(tiny.dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: TEMPLATE }));
    await writeFile(join(tiny.dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [eot, sampled[at]!], do_sample: false, max_new_tokens: 6, repetition_penalty: 1.3 }));
    const lib = (await generate(tiny.lm, ids, { maxTokens: 6, temperature: 1, seed: 5, stopTokenIds: [eot, sampled[at]!] })).completions[0]!;
    assert.equal(lib.tokens.length, at + 1);
    expected = lib.text;
    srv = await startTestServer(await loadModel(tiny.dir), tiny.dir);
  });

  after(async () => {
    await srv.close();
    await tiny.cleanup();
  });

  const chat = async (body: Record<string, unknown>): Promise<any> => {
    const res = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chatty', messages: [{ role: 'user', content: 'Hello' }], ...body }),
    });
    assert.equal(res.status, 200);
    return res.json();
  };

  it("renders the model's template and stops at an eos_token_id of generation_config.json", async () => {
    const r = await chat({ temperature: 1, seed: 5 });
    assert.equal(r.usage.prompt_tokens, tiny.lm.tokenizer.encode(prompt).length);
    assert.equal(r.choices[0].message.content, expected);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.completion_tokens, at + 1); // the stop token is generated, not shown
  });

  it('without sampling settings or a length, decodes greedily (do_sample: false) for max_new_tokens', async () => {
    const r = await chat({});
    assert.equal(r.choices[0].message.content, tiny.lm.tokenizer.decode(greedy.slice(0, 6)));
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 6);
    assert.equal((await chat({ max_tokens: 2 })).usage.completion_tokens, 2);
  });
});

describe('/v1/chat/completions with a Llama-family folder (random weights, a [INST] template)', () => {
  const TEMPLATE = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[inst] {{ m.content }} [/inst]{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}";
  let root: string;
  let lm: LoadedLlama;
  let srv: TestServer;
  let ids: number[];
  let sampled: number[];
  let at: number;

  before(async () => {
    root = await mkdtemp(join(os.tmpdir(), 'genlab-llama-chat-'));
    const dir = await writeTinyLlamaFolder(join(root, 'tiny-llama'), { chatTemplate: TEMPLATE });
    lm = (await loadLanguageModel(dir)) as LoadedLlama;
    ids = lm.tokenizer.encode('<s>[inst] hello [/inst]');
    sampled = (await generate(lm, ids, { maxTokens: 12, temperature: 1, seed: 3, stopAtEndOfText: false })).completions[0]!.tokens.map((t) => t.id);
    // Random weights never pick </s>; a token new in the reply is listed as a second EOS, as Llama 3 lists <|eot_id|>.
    at = sampled.findIndex((id, i) => i > 1 && !sampled.slice(0, i).includes(id));
    assert.ok(at > 1 && at < 10, `sampled reply ${sampled} has a new token`);
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: [2, sampled[at]!] }));
    lm = (await loadLanguageModel(dir)) as LoadedLlama;
    srv = await startTestServer(lm, dir);
  });
  after(async () => {
    await srv.close();
    await rm(root, { recursive: true, force: true });
  });

  it('renders the template with one BOS and stops at an EOS token (</s> and the listed one)', async () => {
    assert.deepEqual(generationDefaults(lm).stopTokenIds, [2, sampled[at]!]);
    assert.deepEqual(ids.slice(0, 2), [1, 44]); // <s>, then '[' as text
    const res = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-llama', messages: [{ role: 'user', content: 'hello' }], temperature: 1, seed: 3, max_tokens: 12 }),
    });
    assert.equal(res.status, 200);
    const r = (await res.json()) as any;
    assert.equal(r.usage.prompt_tokens, ids.length);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.completion_tokens, at + 1);
    assert.equal(r.choices[0].message.content, lm.tokenizer.decode(sampled.slice(0, at)));
  });
});
