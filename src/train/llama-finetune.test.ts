// LoRA fine-tuning and DPO on a Llama-family folder (random-weight fixture, 48-id character
// tokenizer): the default targets are the architecture's (all seven linear layers), the adapter
// is written with PEFT's names for LlamaForCausalLM and fan_in_fan_out false (nn.Linear), it loads
// back onto the base and changes its outputs, and the run records count Llama FLOPs.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alignCommand } from '../align/align-command.ts';
import { noGrad } from '../autograd/tape.ts';
import { defaultDevice, init } from '../backend/registry.ts';
import { loadLanguageModel, type LoadedLlama } from '../io/model-folder.ts';
import { loadAdapter } from '../io/peft.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { writeTinyLlamaFolder } from '../io/testing/tiny-llama.ts';
import { forwardFlopsPerToken } from '../models/flops.ts';
import { Llama } from '../models/llama.ts';
import { attachAdapter } from '../nn/lora.ts';
import type { RunRecord } from '../record/run-record.ts';
import { empty } from '../tensor/tensor.ts';
import { finetuneCommand, mergeCommand } from './finetune.ts';

const TEXT = 'the cat sat on the mat. the dog ate the log. a bird sang in the tree, and the sun rose. '.repeat(40);
const SEVEN = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

describe('LoRA and DPO on a Llama-family folder', () => {
  let tmp: string;
  let dir: string;
  const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T;

  before(async () => {
    await init({ backend: 'ref' });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-llama-ft-'));
    dir = await writeTinyLlamaFolder(path.join(tmp, 'tiny-llama'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
    await defaultDevice().close();
  });

  it('finetune: default targets, PEFT names, reloads and changes the logits', async () => {
    const corpus = path.join(tmp, 'text.txt');
    await writeFile(corpus, TEXT);
    const out = path.join(tmp, 'lora');
    const r = await finetuneCommand({ model: dir, data: [corpus], out, loraR: 2, loraAlpha: 4, loraDropout: 0, steps: 3, batch: 2, seqLen: 16, lr: 1e-2, seed: 1, cache: path.join(tmp, 'cache'), quiet: true, valFraction: 0.2 });
    assert.equal(r.train.steps, 3);
    const cfg = await readJson<Record<string, unknown>>(path.join(out, 'adapter_config.json'));
    assert.deepEqual(cfg.target_modules, SEVEN);
    assert.equal(cfg.fan_in_fan_out, false);
    assert.equal(cfg.base_model_name_or_path, path.resolve(dir));
    const reader = openSafetensors(path.join(out, 'adapter_model.safetensors'));
    const names = reader.names;
    reader.close();
    // 2 layers × 7 projections × (A, B).
    assert.equal(names.length, 28);
    assert.ok(names.includes('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'), names.join(', '));
    assert.ok(names.includes('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight'), names.join(', '));

    const lm = (await loadLanguageModel(dir)) as LoadedLlama;
    const adapter = await loadAdapter(out, lm.model);
    assert.equal(adapter.modules.size, 14);
    const ids = lm.tokenizer.encode('the cat', { addSpecialTokens: true });
    const logits = () => noGrad(() => lm.model.forward(empty(lm.model.device, [1, ids.length], 'int32').set(ids)).logits.toArray());
    const base = logits();
    attachAdapter(lm.model, adapter);
    const adapted = logits();
    let diff = 0;
    for (let i = 0; i < base.length; i++) diff = Math.max(diff, Math.abs(base[i]! - adapted[i]!));
    assert.ok(diff > 1e-4, `the trained adapter changes the logits (max diff ${diff})`);

    const record = await readJson<RunRecord>(path.join(out, 'run.json'));
    assert.equal(record.compute.forwardFlopsPerToken, forwardFlopsPerToken(lm.config, 16));
    assert.ok(record.training.trainingFlops! > 0);
  });

  it('merge: the merged Llama folder computes what base + adapter computes', async () => {
    const merged = path.join(tmp, 'merged');
    await mergeCommand({ model: dir, adapter: path.join(tmp, 'lora'), out: merged });
    const ids = [1, 22, 10, 7, 3, 5, 22];
    const logitsOf = (lm: LoadedLlama) => noGrad(() => lm.model.forward(empty(lm.model.device, [1, ids.length], 'int32').set(ids)).logits.toArray());
    const adapted = (await loadLanguageModel(dir)) as LoadedLlama;
    attachAdapter(adapted.model, await loadAdapter(path.join(tmp, 'lora'), adapted.model));
    const fromMerged = (await loadLanguageModel(merged)) as LoadedLlama;
    assert.ok(fromMerged.model instanceof Llama);
    const want = logitsOf(adapted);
    const got = logitsOf(fromMerged);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i]! - got[i]!));
    assert.ok(diff < 1e-4, `merged logits differ from base + adapter by ${diff}`);
    const record = await readJson<RunRecord>(path.join(merged, 'run.json'));
    assert.equal(record.genlab.kind, 'merge');
  });

  it('align: 2 DPO steps with LoRA write an adapter with the Llama targets', async () => {
    const prefs = path.join(tmp, 'prefs.jsonl');
    await writeFile(prefs, Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `the cat ${'ab'[i % 2]}`, chosen: ' sat on the mat', rejected: ' zq xx' })).join('\n') + '\n');
    const out = path.join(tmp, 'dpo');
    const r = await alignCommand({ model: dir, data: prefs, out, loraR: 2, loraAlpha: 4, loraDropout: 0, beta: 0.1, steps: 2, batch: 2, lr: 1e-2, seed: 1, quiet: true });
    assert.equal(r.train.steps, 2);
    const cfg = await readJson<Record<string, unknown>>(path.join(out, 'adapter_config.json'));
    assert.deepEqual(cfg.target_modules, SEVEN);
    assert.equal(cfg.fan_in_fan_out, false);
    const lm = (await loadLanguageModel(dir)) as LoadedLlama;
    assert.equal((await loadAdapter(out, lm.model)).modules.size, 14);
    const record = await readJson<RunRecord>(path.join(out, 'run.json'));
    assert.match(record.genlab.method, /DPO with LoRA .* on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/);
  });

  it('full fine-tuning (--lora-r 0) of a Llama folder is refused, naming the flag', async () => {
    await assert.rejects(
      finetuneCommand({ model: dir, data: [path.join(tmp, 'text.txt')], out: path.join(tmp, 'full'), loraR: 0, loraAlpha: 1, loraDropout: 0, steps: 1, batch: 1, lr: 1e-3, seed: 1, quiet: true }),
      /--lora-r 0 .* Llama-family model, so fine-tune it with LoRA/,
    );
  });
});
