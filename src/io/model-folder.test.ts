// A Hugging Face GPT-2 folder as the Hub ships it (GPT2LMHeadModel names with `transformer.`, a
// tied `lm_head.weight`, the old `attn.bias`/`attn.masked_bias` mask buffers, GPT-2's own
// vocab.json + merges.txt and a full config.json) loads with no conversion; genlab's own folders
// round-trip.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { PYTHON, torchAvailable, torchEnv } from '../bench/peer.ts';
import { Gpt } from '../models/gpt.ts';
import { empty } from '../tensor/tensor.ts';
import { GPT2_MERGES_FILE, GPT2_VOCAB_FILE } from '../tokenizer/testing/fixtures.ts';
import { makeGpt2Config } from './hf-config.ts';
import { loadModel, saveModel } from './model-folder.ts';
import { writeSafetensors } from './safetensors.ts';

describe('model folders', () => {
  let dev: Device;
  let dir: string;
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 2 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-folder-'));
  });
  after(async () => {
    await dev.close();
    await rm(dir, { recursive: true, force: true });
  });

  const logitsOf = (model: Gpt, ids: number[]) => noGrad(() => model.forward(empty(model.device, [1, ids.length], 'int32').set(ids)).logits.toArray());

  it('loads a Hub-style GPT-2 folder by name, without conversion', async () => {
    const hub = path.join(dir, 'hub');
    const config = makeGpt2Config({ vocabSize: 50257, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2 });
    const model = new Gpt(config, { device: dev, seed: 4 }).eval();
    const tensors = model.namedParameters().map(([name, t]) => ({ name: `transformer.${name}`, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array }));
    tensors.push({ name: 'lm_head.weight', dtype: 'F32', shape: [50257, 32], data: model.wte.weight.toArray() as Float32Array });
    for (let i = 0; i < 2; i++) {
      tensors.push({ name: `transformer.h.${i}.attn.bias`, dtype: 'F32', shape: [1, 1, 32, 32], data: new Float32Array(32 * 32).fill(1) });
      tensors.push({ name: `transformer.h.${i}.attn.masked_bias`, dtype: 'F32', shape: [], data: new Float32Array([-1e4]) });
    }
    await import('node:fs/promises').then((fs) => fs.mkdir(hub, { recursive: true }));
    await writeSafetensors(path.join(hub, 'model.safetensors'), tensors, { format: 'pt' });
    // The Hub's gpt2 config.json, with the small shape.
    await writeFile(
      path.join(hub, 'config.json'),
      JSON.stringify({
        activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: 50256, embd_pdrop: 0.1, eos_token_id: 50256,
        initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: 32, n_embd: 32, n_head: 2, n_layer: 2, n_positions: 32,
        resid_pdrop: 0.1, summary_activation: null, summary_first_dropout: 0.1, summary_proj_to_labels: true, summary_type: 'cls_index', summary_use_proj: true,
        task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } }, vocab_size: 50257,
      }),
    );
    await copyFile(GPT2_VOCAB_FILE, path.join(hub, 'vocab.json'));
    await copyFile(GPT2_MERGES_FILE, path.join(hub, 'merges.txt'));
    const lm = await loadModel(hub, { device: dev });
    assert.equal(lm.tokenizer.vocabSize, 50257);
    const ids = lm.tokenizer.encode('Hello world, the Union is strong.');
    assert.deepEqual(ids.slice(0, 3), [15496, 995, 11]);
    assert.deepEqual(logitsOf(lm.model, ids), logitsOf(model, ids));
  });

  it('a saved folder loads back with identical outputs and keeps the run record', async () => {
    const hub = path.join(dir, 'hub');
    const lm = await loadModel(hub, { device: dev });
    const out = path.join(dir, 'saved');
    await saveModel(out, lm, { runRecord: { genlab: { kind: 'test' } } });
    const back = await loadModel(out, { device: dev });
    const ids = [464, 4479, 318, 1913];
    assert.deepEqual(logitsOf(back.model, ids), logitsOf(lm.model, ids));
    assert.deepEqual(back.runRecord, { genlab: { kind: 'test' } });
    assert.equal(back.tokenizer.encode('Union').length, 1);
  });

  it('a folder genlab writes loads in PyTorch by name with the same logits', { skip: !torchAvailable() && 'needs /usr/bin/python3 with torch' }, async () => {
    const lm = await loadModel(path.join(dir, 'hub'), { device: dev });
    const out = path.join(dir, 'for-python');
    await saveModel(out, lm);
    const ids = [464, 4479, 318, 1913, 13];
    const py = JSON.parse(execFileSync(PYTHON, ['scripts/score-folder.py', out, JSON.stringify(ids)], { encoding: 'utf8', maxBuffer: 256 << 20, env: torchEnv() })) as number[];
    const ours = logitsOf(lm.model, ids);
    assert.equal(py.length, ours.length);
    for (let i = 0; i < py.length; i++) assert.ok(Math.abs(py[i]! - ours[i]!) <= 1e-4 * (1 + Math.abs(py[i]!)), `logit ${i}: PyTorch ${py[i]}, genlab ${ours[i]}`);
  });

  it('mismatched weights and config name the tensor and the fix', async () => {
    const bad = path.join(dir, 'bad');
    await import('node:fs/promises').then((fs) => fs.cp(path.join(dir, 'hub'), bad, { recursive: true }));
    const cfg = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(path.join(bad, 'config.json'), 'utf8')));
    cfg.n_embd = 64;
    cfg.n_head = 4;
    await writeFile(path.join(bad, 'config.json'), JSON.stringify(cfg));
    await assert.rejects(loadModel(bad, { device: dev }), /transformer\.wte\.weight.*has shape \[50257, 32\] but the model expects \[50257, 64\]/);
    await assert.rejects(loadModel(path.join(dir, 'nope'), { device: dev }), /model folder .*nope does not exist/);
  });
});
