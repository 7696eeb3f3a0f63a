// Module: a named tree of parameters and child modules. Names are registered explicitly so that
// TypeScript fields stay camelCase while parameter names follow Hugging Face GPT-2 exactly
// (`h.0.attn.c_attn.weight`), which is what lets real checkpoints load by name.

import type { Device } from '../backend/device.ts';
import { defaultDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { empty, formatShape, sameShape, shapeSize, type Tensor } from '../tensor/tensor.ts';

export abstract class Module {
  /** Dropout and similar behave differently in training and evaluation. */
  training = true;
  private readonly children = new Map<string, Module | Tensor>();

  /** Registers a child module under its checkpoint name. */
  protected module<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Registers a parameter tensor under its checkpoint name. */
  protected param(name: string, t: Tensor): Tensor {
    t.isParameter = true;
    t.requiresGrad = true;
    t.name = name;
    this.children.set(name, t);
    return t;
  }

  /** All parameters with their full dotted names, in registration order, each once. */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const walk = (m: Module, p: string): void => {
      for (const [name, child] of m.children) {
        const full = p ? `${p}.${name}` : name;
        if (child instanceof Module) walk(child, full);
        else if (!seen.has(child)) {
          seen.add(child);
          out.push([full, child]);
        }
      }
    };
    walk(this, prefix);
    return out;
  }

  /** Every module in the tree with its dotted name (the root is ''). */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [name, child] of this.children) {
      if (child instanceof Module) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    let n = 0;
    for (const t of this.parameters()) n += t.size;
    return n;
  }

  train(on = true): this {
    this.training = on;
    for (const child of this.children.values()) if (child instanceof Module) child.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters by name (shared tensors appear once, under their first name). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies values into the parameters by name. Missing or unexpected names and shape mismatches
   * are errors that list the names, unless `strict` is false (then only matching names load).
   */
  loadStateDict(values: ReadonlyMap<string, Float32Array>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !values.has(k));
    const unexpected = [...values.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new Error(
        `loadStateDict: names do not match` +
          (missing.length ? `; missing: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8})` : ''}` : '') +
          (unexpected.length ? `; unexpected: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ` (+${unexpected.length - 8})` : ''}` : ''),
      );
    }
    for (const [name, t] of own) {
      const v = values.get(name);
      if (!v) continue;
      if (v.length !== t.size) throw new Error(`loadStateDict: '${name}' has ${v.length} values, the model expects shape ${formatShape(t.shape)} (${t.size})`);
      t.set(v);
    }
  }
}

export interface ParamInit {
  device?: Device;
  /** Fill: constant value, or normal(0, std) drawn from rng. */
  value?: number;
  std?: number;
  rng?: Rng;
}

/** A long-lived parameter tensor (never from a step arena). */
export function createParameter(shape: readonly number[], init: ParamInit): Tensor {
  const dev = init.device ?? defaultDevice();
  const t = dev.heapScope(() => empty(dev, shape));
  if (init.std !== undefined) {
    const rng = init.rng ?? new Rng(0);
    const values = new Float32Array(shapeSize(shape));
    for (let i = 0; i < values.length; i++) values[i] = init.std * rng.normal();
    t.set(values);
  } else {
    dev.kernels.fill(t.ptr, t.size, init.value ?? 0);
  }
  t.isParameter = true;
  t.requiresGrad = true;
  return t;
}

export function checkShape(what: string, t: Tensor, shape: readonly number[]): void {
  if (!sameShape(t.shape, shape)) throw new Error(`${what}: expected shape ${formatShape(shape)}, got ${formatShape(t.shape)}`);
}
