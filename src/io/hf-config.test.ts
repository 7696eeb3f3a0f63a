import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  gpt2ConfigFromJson,
  gpt2ConfigToJson,
  makeGpt2Config,
  readGpt2Config,
  writeGpt2Config,
  readGenerationConfig,
  writeGenerationConfig,
  generationConfigFromJson,
  generationConfigFromModel,
  HfConfigError,
} from './hf-config.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-cfg-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// The config.json published with the original "gpt2" checkpoint on the Hugging Face Hub.
const HUB_GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

test('reads the Hub gpt2 config and keeps unknown keys through a round trip', async () => {
  const modelDir = path.join(dir, 'gpt2');
  fs.mkdirSync(modelDir);
  fs.writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify(HUB_GPT2, null, 2));
  const c = readGpt2Config(modelDir);
  assert.equal(c.nEmbd, 768);
  assert.equal(c.nLayer, 12);
  assert.equal(c.nInner, null);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.activationFunction, 'gelu_new');
  assert.deepEqual(c.extra.task_specific_params, HUB_GPT2.task_specific_params);
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const file = await writeGpt2Config(out, c);
  assert.equal(file, path.join(out, 'config.json'));
  const written = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const [k, v] of Object.entries(HUB_GPT2)) assert.deepEqual(written[k], v, k);
  assert.deepEqual(Object.keys(written), Object.keys(written).sort());
  assert.deepEqual(readGpt2Config(file), c);
});

test('makeGpt2Config fills defaults and writes every GPT2Config key', () => {
  const c = makeGpt2Config({ vocabSize: 512, nEmbd: 128, nHead: 4, nLayer: 4, nPositions: 128, bosTokenId: 0, eosTokenId: 0 });
  const j = gpt2ConfigToJson(c);
  assert.equal(j.model_type, 'gpt2');
  assert.deepEqual(j.architectures, ['GPT2LMHeadModel']);
  assert.equal(j.n_inner, null);
  assert.equal(j.layer_norm_epsilon, 1e-5);
  assert.equal(j.tie_word_embeddings, true);
  assert.equal(j.summary_type, 'cls_index');
  for (const k of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'resid_pdrop', 'embd_pdrop', 'attn_pdrop', 'initializer_range', 'bos_token_id', 'eos_token_id']) {
    assert.ok(k in j, k);
  }
  // n_ctx follows n_positions when present.
  const hub = gpt2ConfigFromJson(HUB_GPT2);
  assert.equal(gpt2ConfigToJson({ ...hub, nPositions: 256 }).n_ctx, 256);
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['n_head not dividing n_embd', { n_embd: 100, n_head: 12 }, /"n_head" n_embd \(100\) must be divisible by n_head \(12\); choose n_head from 1, 2, 4/],
  ['negative n_layer', { n_layer: -1 }, /"n_layer" must be a positive integer; got -1/],
  ['string vocab', { vocab_size: '50257' }, /"vocab_size" must be a positive integer; got "50257"/],
  ['dropout of 1', { resid_pdrop: 1 }, /"resid_pdrop" must be a probability in \[0, 1\)/],
  ['unknown activation', { activation_function: 'gelu_tanh' }, /"activation_function" must be one of .*GPT-2 uses "gelu_new"/],
  ['eos beyond vocab', { vocab_size: 512, eos_token_id: 50256, bos_token_id: 0 }, /"eos_token_id" \(50256\) must be below vocab_size \(512\)/],
  ['other architecture', { model_type: 'llama' }, /"model_type" is "llama", but this GPT-2 reader takes only model_type "gpt2" \(Llama-family configs are read by readLlamaConfig\)/],
  ['misspelt key', { n_embed: 256, n_head: 4 }, /"n_embed" is not a GPT2Config key; did you mean "n_embd"\?/],
  ['zero epsilon', { layer_norm_epsilon: 0 }, /"layer_norm_epsilon" must be a small positive number/],
  ['non-GPT-2 class', { architectures: ['LlamaForCausalLM'] }, /"architectures" \["LlamaForCausalLM"\] names no GPT-2 class/],
];
for (const [name, json, pattern] of bad) {
  test(`rejects ${name} with the key and a fix`, () => {
    assert.throws(() => gpt2ConfigFromJson(json, 'm/config.json'), (e: unknown) => e instanceof HfConfigError && e.message.startsWith('m/config.json: ') && pattern.test(e.message));
  });
}

test('file-level errors: missing, not JSON, not an object', () => {
  assert.throws(() => readGpt2Config(path.join(dir, 'nowhere')), /nowhere: cannot be read: .*is this a model folder/);
  const f = path.join(dir, 'broken.json');
  fs.writeFileSync(f, '{"n_embd": 768,');
  assert.throws(() => readGpt2Config(f), /broken\.json: is not valid JSON/);
  fs.writeFileSync(f, '[1]');
  assert.throws(() => readGpt2Config(f), /must contain a JSON object/);
});

test('generation_config.json round trip and validation', async () => {
  const cfg = makeGpt2Config();
  const g = generationConfigFromModel(cfg);
  const gdir = path.join(dir, 'gen');
  fs.mkdirSync(gdir);
  await writeGenerationConfig(gdir, { ...g, maxNewTokens: 64, temperature: 0.8, topK: 40, topP: 0.95, doSample: true });
  const text = fs.readFileSync(path.join(gdir, 'generation_config.json'), 'utf8');
  assert.deepEqual(JSON.parse(text), {
    _from_model_config: true, bos_token_id: 50256, do_sample: true, eos_token_id: 50256,
    max_new_tokens: 64, temperature: 0.8, top_k: 40, top_p: 0.95,
  });
  const back = readGenerationConfig(gdir);
  assert.equal(back.topK, 40);
  assert.equal(back.extra._from_model_config, true);
  assert.deepEqual(generationConfigFromJson({ eos_token_id: [1, 2] }).eosTokenId, [1, 2]);
  assert.throws(() => generationConfigFromJson({ temperature: 0 }, 'g.json'), /g\.json: "temperature" must be a positive number \(use do_sample=false/);
  assert.throws(() => generationConfigFromJson({ top_p: 1.5 }), /"top_p" must be in \(0, 1\]/);
  assert.throws(() => generationConfigFromJson({ eos_token_id: [1, -2] }), /"eos_token_id" must be a token id or a list/);
});
