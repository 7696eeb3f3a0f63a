// Basic layers. Linear stores its weight as (in, out) — GPT-2's Conv1D layout — so Hugging Face
// checkpoints load without transposing. Linear and Embedding.attend pick the packed weight (bf16,
// or int8 q8_0 blocks) for inference products themselves (packed-weights.ts), so models never pass
// packs around.

import type { Device } from '../backend/device.ts';
import { mix32, type Rng } from '../backend/rng.ts';
import { add, dropout, scale } from '../ops/elementwise.ts';
import { embedding, layerNorm, rmsNorm } from '../ops/layers.ts';
import { linear, linearOutIn, linearPacked, matmul } from '../ops/matmul.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { createParameter, Module } from './module.ts';
import { packFor } from './packed-weights.ts';

export interface InitOptions {
  device?: Device;
  rng: Rng;
  /** Std of the normal init (GPT-2: 0.02). */
  std?: number;
}

/** A low-rank update attached to a Linear: y += scaling · dropout(x) Aᵀ Bᵀ (see lora.ts). */
export interface LoraSlot {
  /** (r, in), PEFT's lora_A.weight */
  a: Tensor;
  /** (out, r), PEFT's lora_B.weight */
  b: Tensor;
  scaling: number;
  dropout: Dropout | null;
}

/** y = x · W + b with W (in, out), or x · Wᵀ + b with W (out, in) when `outIn`. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  /** W is stored (out, in) as torch.nn.Linear (Llama-family checkpoints), not (in, out) as Conv1D. */
  readonly outIn: boolean;
  /** The active LoRA update, if an adapter is attached (its weights are not this module's parameters). */
  lora: LoraSlot | null = null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: InitOptions & { bias?: boolean; outIn?: boolean },
  ) {
    super();
    const dev = opts.device;
    this.outIn = opts.outIn ?? false;
    const shape = this.outIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    this.weight = this.param('weight', createParameter(shape, { std: opts.std ?? 0.02, rng: opts.rng, ...(dev ? { device: dev } : {}) }));
    this.bias = opts.bias === false ? null : this.param('bias', createParameter([outFeatures], { value: 0, ...(dev ? { device: dev } : {}) }));
  }

  forward(x: Tensor): Tensor {
    const packed = packFor(x, this.weight, this.bias, this.outIn);
    const y = packed ? linearPacked(x, packed, this.bias) : this.outIn ? linearOutIn(x, this.weight, this.bias) : linear(x, this.weight, this.bias);
    const l = this.lora;
    if (!l) return y;
    // Scale the rank-r intermediate, not the (..., out) update: one less full-size activation.
    const h = scale(matmul(l.dropout && this.training ? l.dropout.forward(x) : x, l.a, { transB: true }), l.scaling); // (..., r)
    return add(y, matmul(h, l.b, { transB: true })); // (..., out)
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly count: number,
    readonly dim: number,
    opts: InitOptions,
  ) {
    super();
    this.weight = this.param('weight', createParameter([count, dim], { std: opts.std ?? 0.02, rng: opts.rng, ...(opts.device ? { device: opts.device } : {}) }));
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }

  /** x (..., dim) · weightᵀ → (..., count): scores against every row, the LM head tied to a token embedding. */
  attend(x: Tensor): Tensor {
    const packed = packFor(x, this.weight, null, true);
    return packed ? linearPacked(x, packed) : matmul(x, this.weight, { transB: true });
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly dim: number,
    readonly eps: number,
    device?: Device,
  ) {
    super();
    const d = device ? { device } : {};
    this.weight = this.param('weight', createParameter([dim], { value: 1, ...d }));
    this.bias = this.param('bias', createParameter([dim], { value: 0, ...d }));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** RMSNorm (Llama family): x / sqrt(mean(x²) + eps) · weight, no bias. */
export class RmsNorm extends Module {
  readonly weight: Tensor;

  constructor(
    readonly dim: number,
    readonly eps: number,
    device?: Device,
  ) {
    super();
    this.weight = this.param('weight', createParameter([dim], { value: 1, ...(device ? { device } : {}) }));
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/**
 * Seeds for every dropout layer of a model. The trainer sets `seed` once per micro-step, so masks
 * depend only on (run seed, step, layer): resumed runs redraw exactly the same masks.
 */
export class DropoutSeeds {
  seed = 0;
  private next = 0;
  /** A stable id for one dropout site. */
  register(): number {
    return this.next++;
  }
}

export class Dropout extends Module {
  private readonly id: number;

  constructor(
    readonly p: number,
    private readonly seeds: DropoutSeeds,
  ) {
    super();
    this.id = seeds.register();
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, mix32(this.seeds.seed ^ mix32(this.id + 1)));
  }
}
