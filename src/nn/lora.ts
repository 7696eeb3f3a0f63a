// LoRA (Hu et al. 2021): a frozen weight W plus a trainable low-rank update, y = xW + s·x Aᵀ Bᵀ
// with A (r, in) Kaiming-uniform, B (out, r) zero — so step 0 equals the base model — and
// s = alpha/r (or alpha/√r for rsLoRA, Kalajdzievski 2023). Shapes and names follow PEFT, so
// adapters move between genlab and PEFT unchanged. An adapter is attached to a model by pointing
// its target Linears at the adapter's weights; switching adapters touches no base weight.

import { noGrad } from '../autograd/tape.ts';
import type { Rng } from '../backend/rng.ts';
import { Rng as SeededRng } from '../backend/rng.ts';
import { matmul } from '../ops/matmul.ts';
import { markWritten, type Tensor } from '../tensor/tensor.ts';
import { Dropout, DropoutSeeds, Linear } from './layers.ts';
import { createParameter, type Module } from './module.ts';

export interface LoraConfig {
  /** Rank of the update. */
  r: number;
  /** Scale numerator: the update is multiplied by alpha/r (alpha/√r with rsLora). */
  alpha: number;
  /** Dropout on the adapter's input during training. */
  dropout: number;
  /** Module name suffixes to adapt, as PEFT matches them ('c_proj' matches attn.c_proj and mlp.c_proj). */
  targetModules: string[];
  /** Rank-stabilised scaling alpha/√r. */
  rsLora: boolean;
}

export function loraScaling(c: LoraConfig): number {
  return c.rsLora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** The Linears of `model` whose names end with a target (on a '.' boundary), by name. */
export function targetLinears(model: Module, targets: readonly string[]): Array<[string, Linear]> {
  const found = model.namedModules().filter((entry): entry is [string, Linear] => {
    const [name, m] = entry;
    return m instanceof Linear && targets.some((t) => name === t || name.endsWith(`.${t}`));
  });
  if (found.length === 0) {
    const linears = model.namedModules().filter(([, m]) => m instanceof Linear).map(([n]) => n);
    throw new Error(`LoRA: no module matches the targets ${JSON.stringify(targets)}; this model's linear layers are named like ${linears.slice(0, 4).join(', ')}`);
  }
  return found;
}

export interface LoraModule {
  a: Tensor;
  b: Tensor;
}

export class LoraAdapter {
  readonly config: LoraConfig;
  /** Adapted module name ('h.0.attn.c_attn') → its A and B. */
  readonly modules: Map<string, LoraModule>;
  readonly seeds = new DropoutSeeds();

  constructor(config: LoraConfig, modules: Map<string, LoraModule>) {
    validateLoraConfig(config);
    this.config = config;
    this.modules = modules;
  }

  /** A fresh adapter for the model's target layers: A Kaiming-uniform, B zero. */
  static create(model: Module, config: LoraConfig, opts: { seed?: number; rng?: Rng } = {}): LoraAdapter {
    validateLoraConfig(config);
    const rng = opts.rng ?? new SeededRng(opts.seed ?? 0);
    const modules = new Map<string, LoraModule>();
    for (const [name, lin] of targetLinears(model, config.targetModules)) {
      const device = lin.weight.device;
      // PyTorch's kaiming_uniform_(a=√5), as PEFT uses: bound = 1/√fan_in.
      const bound = 1 / Math.sqrt(lin.inFeatures);
      const a = createParameter([config.r, lin.inFeatures], { device, value: 0 });
      a.set(Array.from({ length: a.size }, () => (2 * rng.uniform() - 1) * bound));
      const b = createParameter([lin.outFeatures, config.r], { device, value: 0 });
      modules.set(name, { a, b });
    }
    const adapter = new LoraAdapter(config, modules);
    adapter.nameParameters();
    return adapter;
  }

  /** PEFT-relative names: 'h.0.attn.c_attn.lora_A.weight'. */
  namedParameters(): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [name, m] of this.modules) {
      out.push([`${name}.lora_A.weight`, m.a], [`${name}.lora_B.weight`, m.b]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  nameParameters(): void {
    for (const [name, t] of this.namedParameters()) t.name = name;
  }
}

function validateLoraConfig(c: LoraConfig): void {
  if (!Number.isInteger(c.r) || c.r < 1) throw new Error(`LoRA: r must be a positive integer, got ${c.r}`);
  if (!(c.alpha > 0)) throw new Error(`LoRA: alpha must be positive, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`LoRA: dropout must be in [0, 1), got ${c.dropout}`);
  if (c.targetModules.length === 0) throw new Error('LoRA: give at least one target module (e.g. c_attn)');
}

/**
 * Points the model's target Linears at `adapter` (null detaches every adapter). Only pointers
 * change, so serving can switch adapters per request.
 */
export function attachAdapter(model: Module, adapter: LoraAdapter | null): void {
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Linear)) continue;
    const w = adapter?.modules.get(name);
    if (!w || !adapter) {
      m.lora = null;
      continue;
    }
    // The model's dropout seeds (set by the trainer every micro-step) keep masks reproducible.
    const seeds = (model as { dropoutSeeds?: DropoutSeeds }).dropoutSeeds ?? adapter.seeds;
    const dropout = adapter.config.dropout > 0 ? new Dropout(adapter.config.dropout, seeds) : null;
    m.lora = { a: w.a, b: w.b, scaling: loraScaling(adapter.config), dropout };
  }
  const missing = adapter ? [...adapter.modules.keys()].filter((n) => !model.namedModules().some(([mn]) => mn === n)) : [];
  if (missing.length > 0) throw new Error(`LoRA: the adapter adapts ${missing[0]}, which this model does not have; was it trained on another base model?`);
}

/** Freezes every base parameter (no gradients, so no optimizer state either). */
export function freezeBase(model: Module): void {
  for (const p of model.parameters()) p.requiresGrad = false;
}

/** W += sign · scaling · Aᵀ Bᵀ for every adapted Linear (merge: sign 1, unmerge: sign −1). */
function foldAdapter(model: Module, adapter: LoraAdapter, sign: 1 | -1): void {
  const s = sign * loraScaling(adapter.config);
  noGrad(() => {
    for (const [name, lin] of targetLinears(model, [...adapter.modules.keys()])) {
      const m = adapter.modules.get(name)!;
      const dev = lin.weight.device;
      dev.scope(() => {
        // Aᵀ (in, r) · Bᵀ (r, out) = (in, out), the Conv1D weight's layout; B · A for (out, in).
        const delta = lin.outIn ? matmul(m.b, m.a) : matmul(m.a, m.b, { transA: true, transB: true });
        dev.kernels.axpy(delta.ptr, lin.weight.ptr, delta.size, s);
        markWritten(lin.weight.storage);
      });
    }
  });
}

/** Folds the adapter into the base weights (then detach it: the update is now in W). */
export function mergeAdapter(model: Module, adapter: LoraAdapter): void {
  foldAdapter(model, adapter, 1);
}

/** Removes a merged adapter's update from the base weights. */
export function unmergeAdapter(model: Module, adapter: LoraAdapter): void {
  foldAdapter(model, adapter, -1);
}
