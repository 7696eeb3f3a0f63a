// LoRA adapters in PEFT's folder layout: adapter_config.json (peft_type LORA, r, lora_alpha,
// target_modules, fan_in_fan_out true for GPT-2's Conv1D, false for nn.Linear as in Llama) and
// adapter_model.safetensors with names like `base_model.model.transformer.h.0.attn.c_attn.lora_A.weight`
// (GPT-2) or `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` (Llama family). PEFT
// loads these onto the same base model, and genlab loads PEFT's.

import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatShape } from '../tensor/tensor.ts';
import type { Module } from '../nn/module.ts';
import { LoraAdapter, targetLinears, type LoraConfig, type LoraModule } from '../nn/lora.ts';
import { Linear } from '../nn/layers.ts';
import { createParameter } from '../nn/module.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { parseHubSpec } from './hub.ts';
import { openSafetensors, writeSafetensors } from './safetensors.ts';

const PREFIX = 'base_model.model.';
const NAME = /^(?:base_model\.model\.)?(?:transformer\.)?(.+)\.(lora_[AB])(?:\.[A-Za-z0-9_-]+)?\.weight$/;

/** The model an adapter was made for: its modules, and transformers' prefix of their names. */
export interface AdapterBase extends Module {
  readonly hfNamePrefix: string;
}

export async function saveAdapter(dir: string, adapter: LoraAdapter, base: AdapterBase, opts: { baseModel?: string } = {}): Promise<void> {
  const linears = new Map(base.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear));
  const layouts = new Set([...adapter.modules.keys()].map((name) => {
    const lin = linears.get(name);
    if (!lin) throw new Error(`saveAdapter: the adapter adapts ${name}, which the base model does not have`);
    return lin.outIn;
  }));
  // PEFT takes one fan_in_fan_out for all targets: GPT-2's Conv1D stores (in, out), nn.Linear (out, in).
  if (layouts.size !== 1) throw new Error('saveAdapter: the adapted layers mix (in, out) and (out, in) weights; PEFT has one fan_in_fan_out per adapter');
  const prefix = PREFIX + base.hfNamePrefix;
  await mkdir(dir, { recursive: true });
  const c = adapter.config;
  await writeJsonAtomic(path.join(dir, 'adapter_config.json'), {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: opts.baseModel ?? null,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: c.targetModules,
    fan_in_fan_out: !layouts.has(true),
    bias: 'none',
    use_rslora: c.rsLora,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  });
  await writeSafetensors(
    path.join(dir, 'adapter_model.safetensors'),
    adapter.namedParameters().map(([name, t]) => ({ name: prefix + name, dtype: 'F32' as const, shape: [...t.shape], data: t.toArray() as Float32Array })),
    { format: 'pt' },
  );
}

/** Reads a PEFT LoRA folder and builds the adapter for `model` (shapes are checked against it). */
export async function loadAdapter(dir: string, model: Module): Promise<LoraAdapter> {
  const hub = parseHubSpec(dir);
  if (hub) {
    // hf: fetches what a base model needs (config, weights, tokenizer), not an adapter's files.
    const local = path.join('adapters', hub.repoId.split('/').pop()!);
    throw new Error(`${hub.text}: adapters are read from a local folder, hf: loads base models only; download it first (huggingface-cli download ${hub.repoId} --local-dir ${local}) and pass ${local}`);
  }
  const cfgFile = path.join(dir, 'adapter_config.json');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(cfgFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${cfgFile}: cannot read the adapter config (${(err as Error).message}); is ${dir} a LoRA adapter folder?`);
  }
  if (raw['peft_type'] !== 'LORA') throw new Error(`${cfgFile}: peft_type is ${JSON.stringify(raw['peft_type'])}; genlab loads LORA adapters only`);
  if (raw['use_dora'] === true) throw new Error(`${cfgFile}: DoRA adapters (use_dora: true) are not supported`);
  if (raw['bias'] !== undefined && raw['bias'] !== 'none') throw new Error(`${cfgFile}: bias "${raw['bias']}" is not supported; genlab adapters train no biases ("none")`);
  const targets = raw['target_modules'];
  const config: LoraConfig = {
    r: Number(raw['r']),
    alpha: Number(raw['lora_alpha']),
    dropout: Number(raw['lora_dropout'] ?? 0),
    targetModules: typeof targets === 'string' ? [targets] : Array.isArray(targets) ? targets.map(String) : [],
    rsLora: raw['use_rslora'] === true,
  };
  const file = path.join(dir, 'adapter_model.safetensors');
  const reader = openSafetensors(file);
  try {
    const linears = new Map(targetLinears(model, config.targetModules));
    const parts = new Map<string, Partial<LoraModule>>();
    for (const stored of reader.names) {
      const m = NAME.exec(stored);
      if (!m) throw new Error(`${file}: tensor "${stored}" is not a LoRA weight (expected names like ${PREFIX}transformer.h.0.attn.c_attn.lora_A.weight or ${PREFIX}model.layers.0.self_attn.q_proj.lora_A.weight)`);
      const [, moduleName, which] = m as unknown as [string, string, 'lora_A' | 'lora_B'];
      const lin = linears.get(moduleName);
      if (!lin) throw new Error(`${file}: "${stored}" adapts ${moduleName}, which is not a target linear layer of this model; was the adapter trained on another base?`);
      const info = reader.info(stored);
      const want = which === 'lora_A' ? [config.r, lin.inFeatures] : [lin.outFeatures, config.r];
      if (info.shape.length !== 2 || info.shape[0] !== want[0] || info.shape[1] !== want[1]) {
        throw new Error(`${file}: "${stored}" has shape ${formatShape(info.shape)}, expected ${formatShape(want)} for r=${config.r} on this model`);
      }
      const t = createParameter(want, { device: lin.weight.device, value: 0 });
      t.set(reader.readF32(stored));
      const entry = parts.get(moduleName) ?? {};
      if (which === 'lora_A') entry.a = t;
      else entry.b = t;
      parts.set(moduleName, entry);
    }
    const modules = new Map<string, LoraModule>();
    for (const [name, p] of parts) {
      if (!p.a || !p.b) throw new Error(`${file}: ${name} has ${p.a ? 'lora_A' : 'lora_B'} but not ${p.a ? 'lora_B' : 'lora_A'}`);
      modules.set(name, { a: p.a, b: p.b });
    }
    if (modules.size === 0) throw new Error(`${file}: holds no LoRA weights`);
    const adapter = new LoraAdapter(config, modules);
    adapter.nameParameters();
    return adapter;
  } finally {
    reader.close();
  }
}
