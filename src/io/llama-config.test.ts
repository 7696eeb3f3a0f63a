import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gpt2ConfigFromJson } from './hf-config.ts';
import { layerWindow } from '../models/llama.ts';
import { llamaConfigFromJson } from './llama-config.ts';

const base = { model_type: 'llama', vocab_size: 100, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4 };

it('reads each family with transformers defaults for omitted keys', () => {
  const llama = llamaConfigFromJson(base);
  assert.equal(llama.numKeyValueHeads, 4);
  assert.equal(llama.headDim, 8);
  assert.equal(llama.ropeTheta, 10000);
  assert.equal(llama.tieWordEmbeddings, false);
  assert.deepEqual([llama.qkvBias, llama.oBias, llama.mlpBias, llama.qkNorm, llama.slidingWindow], [false, false, false, false, null]);
  const biased = llamaConfigFromJson({ ...base, attention_bias: true, mlp_bias: true });
  assert.deepEqual([biased.qkvBias, biased.oBias, biased.mlpBias], [true, true, true]);
  const qwen2 = llamaConfigFromJson({ ...base, model_type: 'qwen2', num_key_value_heads: 2, sliding_window: 128, use_sliding_window: false });
  assert.deepEqual([qwen2.qkvBias, qwen2.oBias, qwen2.slidingWindow, qwen2.numKeyValueHeads], [true, false, null, 2]);
  const qwen3 = llamaConfigFromJson({ ...base, model_type: 'qwen3', head_dim: 16 });
  assert.deepEqual([qwen3.qkNorm, qwen3.qkvBias, qwen3.headDim], [true, false, 16]);
  assert.equal(llamaConfigFromJson({ ...base, model_type: 'mistral' }).slidingWindow, 4096);
  assert.equal(llamaConfigFromJson({ ...base, model_type: 'mistral', sliding_window: null }).slidingWindow, null);
});

it('windows Mistral in every layer, and Qwen2/Qwen3 with use_sliding_window from max_window_layers (or layer_types) on', () => {
  const windows = (json: Record<string, unknown>): number[] => {
    const c = llamaConfigFromJson(json);
    return Array.from({ length: c.numHiddenLayers }, (_, i) => layerWindow(c, i));
  };
  const four = { ...base, num_hidden_layers: 4 };
  assert.deepEqual(windows({ ...four, model_type: 'mistral', sliding_window: 5 }), [5, 5, 5, 5]);
  assert.deepEqual(windows({ ...four, model_type: 'mistral', sliding_window: null }), [0, 0, 0, 0]);
  assert.deepEqual(windows({ ...four, model_type: 'qwen2', use_sliding_window: true, sliding_window: 6, max_window_layers: 1 }), [0, 6, 6, 6]);
  assert.deepEqual(windows({ ...four, model_type: 'qwen3', use_sliding_window: true, sliding_window: 6, max_window_layers: 0 }), [6, 6, 6, 6]);
  // transformers' default max_window_layers (28) leaves a 4-layer model unwindowed.
  assert.deepEqual(windows({ ...four, model_type: 'qwen2', use_sliding_window: true, sliding_window: 6 }), [0, 0, 0, 0]);
  assert.deepEqual(windows({ ...four, model_type: 'qwen2', use_sliding_window: false, sliding_window: 6, max_window_layers: 0 }), [0, 0, 0, 0]);
  const types = ['full_attention', 'full_attention', 'full_attention', 'sliding_attention'];
  assert.deepEqual(windows({ ...four, model_type: 'qwen3', use_sliding_window: true, sliding_window: 6, max_window_layers: 0, layer_types: types }), [0, 0, 0, 6]);
  // Without use_sliding_window transformers drops the window, whatever layer_types says.
  assert.deepEqual(windows({ ...four, model_type: 'qwen3', sliding_window: 6, layer_types: types }), [0, 0, 0, 0]);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ max_window_layers: -1 }, /"max_window_layers" must be a non-negative integer; got -1/],
    [{ layer_types: types.slice(1) }, /"layer_types" must list "full_attention" or "sliding_attention" for each of the 4 layers/],
    [{ layer_types: ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'] }, /"layer_types" mixes full and sliding layers after layer 0; genlab windows every layer from one index on/],
  ];
  for (const [extra, re] of bad) assert.throws(() => llamaConfigFromJson({ ...four, model_type: 'qwen2', use_sliding_window: true, sliding_window: 6, ...extra }), re);
});

it('reads rope_scaling linear, dynamic and llama3, under "rope_type" or the older "type"', () => {
  assert.deepEqual(llamaConfigFromJson({ ...base, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling, { type: 'linear', factor: 2 });
  assert.deepEqual(llamaConfigFromJson({ ...base, rope_scaling: { rope_type: 'dynamic', factor: 4 } }).ropeScaling, { type: 'dynamic', factor: 4 });
  const l3 = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  assert.deepEqual(llamaConfigFromJson({ ...base, rope_scaling: l3 }).ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.equal(llamaConfigFromJson({ ...base, rope_scaling: { rope_type: 'default' } }).ropeScaling, null);
});

it('refuses what the model would compute differently, naming the key', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['another family', { ...base, model_type: 'gemma' }, /"model_type" is "gemma"; this reader takes llama, mistral, qwen2, qwen3/],
    ['another activation', { ...base, hidden_act: 'gelu' }, /"hidden_act" is "gelu"; .* only "silu"/],
    ['yarn scaling', { ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /"rope_scaling" type "yarn" is not supported; genlab implements "linear", "dynamic" and "llama3"/],
    ['llama3 without its factors', { ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /"rope_scaling" needs a positive number "low_freq_factor"/],
    ['missing shape key', { ...base, hidden_size: undefined }, /"hidden_size" is missing; every llama config.json sets it/],
    ['kv heads not dividing', { ...base, num_key_value_heads: 3 }, /numAttentionHeads \(4\) must be a multiple of numKeyValueHeads \(3\)/],
    ['no head_dim for an uneven split', { ...base, num_attention_heads: 3, num_key_value_heads: 3, head_dim: null }, /"head_dim" is not set and hidden_size \(32\) is not divisible by num_attention_heads \(3\); set head_dim/],
    ['bad window', { ...base, model_type: 'mistral', sliding_window: 0 }, /"sliding_window" must be a positive integer or null/],
  ];
  for (const [label, json, re] of cases) assert.throws(() => llamaConfigFromJson(json), re, label);
});

it('the GPT-2 reader points Llama-family configs to this reader', () => {
  assert.throws(() => gpt2ConfigFromJson({ model_type: 'qwen2' }), /this GPT-2 reader takes only model_type "gpt2" \(Llama-family configs are read by readLlamaConfig\)/);
});
