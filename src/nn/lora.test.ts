import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gradcheck } from '../autograd/gradcheck.ts';
import { backward, noGrad } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { PYTHON, torchAvailable, torchEnv } from '../bench/peer.ts';
import { loadAdapter, saveAdapter } from '../io/peft.ts';
import { saveGptWeights } from '../io/gpt-weights.ts';
import { makeGpt2Config, writeGpt2Config } from '../io/hf-config.ts';
import { defaultGptConfig, Gpt } from '../models/gpt.ts';
import { AdamW } from '../optim/adamw.ts';
import { empty } from '../tensor/tensor.ts';
import { Linear } from './layers.ts';
import { attachAdapter, freezeBase, LoraAdapter, mergeAdapter, unmergeAdapter, type LoraConfig } from './lora.ts';
import { Rng } from '../backend/rng.ts';

const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'], rsLora: false };

describe('LoRA', () => {
  let dev: Device;
  let dir: string;
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 2 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-lora-'));
  });
  after(async () => {
    await dev.close();
    await rm(dir, { recursive: true, force: true });
  });

  const model = () => new Gpt(defaultGptConfig({ vocabSize: 50, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 }), { device: dev, seed: 2 }).eval();
  const ids = () => empty(dev, [2, 8], 'int32').set([1, 5, 9, 2, 7, 3, 8, 4, 6, 1, 0, 2, 9, 9, 3, 5]);
  const logits = (m: Gpt) => noGrad(() => m.forward(ids()).logits.toArray());
  /** Gives B random values so the adapter changes the outputs. */
  const perturb = (a: LoraAdapter) => {
    const rng = new Rng(5);
    for (const m of a.modules.values()) m.b.set(Array.from({ length: m.b.size }, () => 0.2 * rng.normal()));
  };
  const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    let d = 0;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
    return d;
  };

  it('targets PEFT-style suffixes; step 0 equals the base model', () => {
    const m = model();
    const base = logits(m);
    const a = LoraAdapter.create(m, lora, { seed: 1 });
    assert.deepEqual([...a.modules.keys()].slice(0, 4), ['h.0.attn.c_attn', 'h.0.attn.c_proj', 'h.0.mlp.c_fc', 'h.0.mlp.c_proj']);
    assert.equal(a.modules.size, 8);
    attachAdapter(m, a);
    assert.deepEqual(logits(m), base);
    assert.throws(() => LoraAdapter.create(m, { ...lora, targetModules: ['q_proj'] }), /no module matches the targets \["q_proj"\]/);
  });

  it('gradients of A and B match finite differences', () => {
    const lin = new Linear(6, 5, { rng: new Rng(1), device: dev });
    const a = empty(dev, [3, 6]).set(Array.from({ length: 18 }, (_, i) => Math.sin(i)));
    const b = empty(dev, [5, 3]).set(Array.from({ length: 15 }, (_, i) => Math.cos(i)));
    a.requiresGrad = b.requiresGrad = true;
    lin.lora = { a, b, scaling: 1.5, dropout: null };
    const x = empty(dev, [4, 6]).set(Array.from({ length: 24 }, (_, i) => Math.sin(3 * i)));
    x.requiresGrad = true;
    const r = gradcheck((xx, aa, bb) => {
      lin.lora = { a: aa!, b: bb!, scaling: 1.5, dropout: null };
      return lin.forward(xx!);
    }, [x, a, b]);
    assert.ok(r.ok, JSON.stringify(r.worst));
  });

  it('trains only the adapter: the base gets no gradient and no optimizer state', () => {
    const m = model().train();
    const before = m.parameters().map((p) => p.toArray());
    freezeBase(m);
    const a = LoraAdapter.create(m, lora, { seed: 1 });
    attachAdapter(m, a);
    const opt = new AdamW(a.parameters(), { lr: 1e-2 });
    assert.equal(opt.flat.size, a.numParameters());
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      dev.scope(() => {
        const { loss } = m.forward(ids(), ids());
        backward(loss!);
      });
      opt.update();
    }
    m.parameters().forEach((p, i) => {
      assert.equal(p.grad, null, `${p.name} got a gradient`);
      assert.deepEqual(p.toArray(), before[i]);
    });
    assert.ok([...a.modules.values()].some((x) => x.b.toArray().some((v) => v !== 0)), 'B moved');
  });

  it('merge equals the unmerged model; unmerge restores the base', () => {
    const m = model();
    const base = m.parameters().map((p) => p.toArray());
    const a = LoraAdapter.create(m, lora, { seed: 1 });
    perturb(a);
    attachAdapter(m, a);
    const adapted = logits(m);
    attachAdapter(m, null);
    mergeAdapter(m, a);
    const merged = logits(m);
    assert.ok(maxDiff(merged, adapted) < 1e-5, `merged vs adapted: ${maxDiff(merged, adapted)}`);
    unmergeAdapter(m, a);
    m.parameters().forEach((p, i) => assert.ok(maxDiff(p.toArray(), base[i]!) < 1e-6, p.name));
  });

  it('PEFT layout round trip', async () => {
    const m = model();
    const a = LoraAdapter.create(m, { ...lora, rsLora: true }, { seed: 3 });
    perturb(a);
    const out = path.join(dir, 'adapter');
    await saveAdapter(out, a, m, { baseModel: 'models/base' });
    const cfg = JSON.parse(await readFile(path.join(out, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.peft_type, 'LORA');
    assert.equal(cfg.fan_in_fan_out, true);
    assert.deepEqual(cfg.target_modules, ['c_attn', 'c_proj', 'c_fc']);
    const back = await loadAdapter(out, m);
    assert.deepEqual(back.config, a.config);
    assert.deepEqual(back.namedParameters().map(([n, t]) => [n, [...t.toArray()]]), a.namedParameters().map(([n, t]) => [n, [...t.toArray()]]));
    const { openSafetensors } = await import('../io/safetensors.ts');
    const names = openSafetensors(path.join(out, 'adapter_model.safetensors')).names;
    assert.ok(names.includes('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'));
    await assert.rejects(loadAdapter(out, new Gpt(defaultGptConfig({ vocabSize: 50, nPositions: 16, nEmbd: 48, nLayer: 2, nHead: 2 }), { device: dev })), /has shape \[4, 32\], expected \[4, 48\]/);
  });

  it('PEFT semantics in PyTorch give the same logits', { skip: !torchAvailable() && 'needs /usr/bin/python3 with torch' }, async () => {
    const m = model();
    const modelDir = path.join(dir, 'base');
    await mkdir(modelDir, { recursive: true });
    await saveGptWeights(m, path.join(modelDir, 'model.safetensors'));
    await writeGpt2Config(modelDir, makeGpt2Config({ ...m.config, bosTokenId: 0, eosTokenId: 0 }));
    const a = LoraAdapter.create(m, lora, { seed: 4 });
    perturb(a);
    const adapterDir = path.join(dir, 'peft');
    await saveAdapter(adapterDir, a, m, { baseModel: modelDir });
    attachAdapter(m, a);
    const idv = [1, 5, 9, 2, 7, 3, 8, 4];
    const ours = noGrad(() => m.forward(empty(dev, [1, 8], 'int32').set(idv)).logits.toArray());
    const py = JSON.parse(execFileSync(PYTHON, ['scripts/score-folder.py', modelDir, JSON.stringify(idv), adapterDir], { encoding: 'utf8', maxBuffer: 64 << 20, env: torchEnv() })) as number[];
    assert.ok(maxDiff(ours, py) < 1e-4, `max diff ${maxDiff(ours, py)}`);
  });
});
