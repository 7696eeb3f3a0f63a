import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { defaultLlamaConfig, Llama } from '../models/llama.ts';
import { bf16BitsToF32, f32ToBf16Bits } from './half.ts';
import { loadLlamaWeights } from './llama-weights.ts';
import { writeSafetensorsSync, type TensorToWrite } from './safetensors.ts';

const config = defaultLlamaConfig({ vocabSize: 8, hiddenSize: 4, intermediateSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 2 });
let dev: Device;
let dir: string;
before(async () => {
  dev = await createDevice({ backend: 'ref', precision: 'fp32' });
  dir = mkdtempSync(path.join(os.tmpdir(), 'genlab-llama-weights-'));
});
after(() => {
  dev.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The parameters of a seeded model as BF16 tensors, plus any extra tensors. */
function tensorsOf(seed: number, extra: TensorToWrite[] = []): TensorToWrite[] {
  const src = new Llama(config, { device: dev, seed });
  const out: TensorToWrite[] = [...src.stateDict()].map(([name, t]) => ({ name, dtype: 'BF16', shape: t.shape, data: t.toArray() as Float32Array }));
  return [...out, ...extra];
}

function folder(name: string, files: Record<string, TensorToWrite[]>, index?: Record<string, string>): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [file, tensors] of Object.entries(files)) writeSafetensorsSync(path.join(d, file), tensors);
  if (index) writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: index }));
  return d;
}

it('loads BF16 tensors from sharded files into the parameters, ignoring a tied lm_head and inv_freq buffers', () => {
  const all = tensorsOf(3, [
    { name: 'lm_head.weight', dtype: 'BF16', shape: [8, 4], data: new Float32Array(32) },
    { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
  ]);
  const half = Math.ceil(all.length / 2);
  const index: Record<string, string> = {};
  all.forEach((t, i) => (index[t.name] = i < half ? 'a.safetensors' : 'b.safetensors'));
  const d = folder('sharded', { 'a.safetensors': all.slice(0, half), 'b.safetensors': all.slice(half) }, index);
  const model = new Llama(config, { device: dev, seed: 9 });
  loadLlamaWeights(model, d);
  for (const t of all.filter((x) => x.name.startsWith('model.') && !x.name.includes('inv_freq'))) {
    const want = Array.from(t.data as Float32Array, (v) => bf16BitsToF32(f32ToBf16Bits(v)));
    assert.deepEqual(Array.from(model.stateDict().get(t.name)!.toArray()), want, t.name);
  }
});

it('refuses unknown names, missing parameters, wrong shapes and shards outside the folder', () => {
  const model = new Llama(config, { device: dev });
  const good = tensorsOf(1);
  const cases: [string, string, RegExp][] = [
    ['unknown', folder('unknown', { 'model.safetensors': [...good, { name: 'model.extra', dtype: 'F32', shape: [1], data: new Float32Array(1) }] }), /"model.extra".*is not a parameter of this llama configuration/],
    ['missing', folder('missing', { 'model.safetensors': good.slice(1) }), /is missing 1 parameter\(s\): model.embed_tokens.weight/],
    [
      'shape',
      folder('shape', { 'model.safetensors': good.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [2, 2] } : t)) }),
      /has shape \[2, 2\] but the model expects \[4\]; does config.json match the weights\?/,
    ],
    ['outside', folder('outside', { 'model.safetensors': good }, { 'model.norm.weight': '../x.safetensors' }), /shards must be .safetensors files in the same folder/],
  ];
  for (const [label, d, re] of cases) assert.throws(() => loadLlamaWeights(model, d), re, label);
});
