// `genlab bench finetune`: LoRA against full fine-tuning of the same model on the same batches.
// For each variant, on a device of its own (so peaks are that variant's own), steps timed in turn: trainable parameters and
// their share, the optimizer + gradient state (AdamW keeps a gradient and two moments per
// trainable parameter: flat size × 3 × 4 bytes), the peak device memory of a training step (heap
// peak, which includes the step arena) and the median tokens/s of full steps (forward, backward,
// clipping, AdamW). The arena block lives on the heap, so the heap's peak is the device's peak;
// the arena's high-water mark (a step's activations and their gradients) is shown on its own.

import { backward } from '../autograd/tape.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { defaultGptConfig, Gpt } from '../models/gpt.ts';
import { attachAdapter, freezeBase, LoraAdapter } from '../nn/lora.ts';
import { AdamW, clipGradNorm } from '../optim/adamw.ts';
import { empty } from '../tensor/tensor.ts';
import { trainConfigs, type BenchConfig } from './train.ts';

export interface FinetuneBenchRow {
  bench: 'finetune';
  config: string;
  variant: string;
  threads: number;
  trainable_params: number;
  total_params: number;
  trainable_share: number;
  /** Gradient + AdamW m + v of the trainable parameters (bytes). */
  optimizer_grad_bytes: number;
  /** Peak device memory (heap, which holds the arena block too). */
  peak_bytes: number;
  /** A step's activations and gradients (the arena's high-water mark). */
  activation_bytes: number;
  tokens_per_s: number;
}

export interface FinetuneBenchOptions {
  config: string;
  /** LoRA ranks to compare with full fine-tuning. */
  ranks: number[];
  target: string[];
  threads: number;
  json: boolean;
  /** Timed steps per variant (default: the config's). */
  steps?: number;
  print?: (line: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Variant {
  step(): void;
  result(times: number[]): Omit<FinetuneBenchRow, 'bench' | 'config' | 'threads'>;
}

/** One variant on its own device (r = 0 is full fine-tuning), ready to time steps. */
export function setupVariant(dev: Device, c: BenchConfig, r: number, target: string[]): Variant {
  const model = new Gpt(defaultGptConfig({ vocabSize: c.vocabSize, nPositions: c.nPositions, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 }), { device: dev, seed: 0 });
  let adapter: LoraAdapter | null = null;
  if (r > 0) {
    freezeBase(model);
    adapter = LoraAdapter.create(model, { r, alpha: 2 * r, dropout: 0, targetModules: target, rsLora: false }, { seed: 0 });
    attachAdapter(model, adapter);
  }
  const trainable = adapter ? adapter.parameters() : model.parameters();
  const opt = new AdamW(trainable, { lr: 1e-4, weightDecay: adapter ? 0 : 0.1 });
  // The same token batches for every variant (same seed).
  const rng = new Rng(0);
  const ids = dev.heapScope(() => empty(dev, [c.batch, c.seqLen], 'int32'));
  const targets = dev.heapScope(() => empty(dev, [c.batch, c.seqLen], 'int32'));
  const a = new Int32Array(c.batch * c.seqLen);
  const b = new Int32Array(c.batch * c.seqLen);
  model.train();
  return {
    step(): void {
      for (let i = 0; i < a.length; i++) {
        a[i] = Math.floor(rng.uniform() * c.vocabSize);
        b[i] = Math.floor(rng.uniform() * c.vocabSize);
      }
      ids.set(a);
      targets.set(b);
      opt.zeroGrad();
      dev.scope(() => {
        const { loss } = model.forward(ids, targets);
        backward(loss!);
        return loss!.item();
      });
      clipGradNorm(opt.flat, 1);
      opt.update();
    },
    result(times) {
      const stats = dev.memoryStats();
      const trainableParams = trainable.reduce((n, t) => n + t.size, 0);
      const total = model.numParameters() + (adapter?.numParameters() ?? 0);
      return {
        variant: r > 0 ? `lora r=${r}` : 'full',
        trainable_params: trainableParams,
        total_params: total,
        trainable_share: trainableParams / total,
        optimizer_grad_bytes: opt.flat.size * 3 * 4,
        peak_bytes: stats.heapPeakBytes,
        activation_bytes: stats.arenaPeakBytes,
        tokens_per_s: (c.batch * c.seqLen * 1000) / median(times),
      };
    },
  };
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

export async function benchFinetune(o: FinetuneBenchOptions): Promise<FinetuneBenchRow[]> {
  const print = o.print ?? ((l: string) => console.log(l));
  // The LoRA variants are built on GPT-2; the Llama-shaped bench configs are not offered here.
  const gptConfigs = trainConfigs.filter((x) => !x.llama);
  const c = gptConfigs.find((x) => x.name === o.config);
  if (!c) throw new Error(`no config '${o.config}'; choose from ${gptConfigs.map((x) => x.name).join(', ')}`);
  const steps = o.steps ?? Math.max(3, c.steps);
  // Every variant on its own device (so each memory peak is its own), and their steps timed in
  // turn — full, LoRA, full, LoRA, … — so a busy machine slows all of them alike.
  const ranks = [0, ...o.ranks];
  const devices: Device[] = [];
  const rows: FinetuneBenchRow[] = [];
  try {
    const variants: Variant[] = [];
    for (const r of ranks) {
      const dev = await createDevice({ backend: 'wasm', threads: o.threads });
      devices.push(dev);
      variants.push(setupVariant(dev, c, r, o.target));
    }
    for (const v of variants) {
      v.step();
      v.step();
    }
    const times: number[][] = variants.map(() => []);
    for (let i = 0; i < steps; i++) {
      variants.forEach((v, k) => {
        const t0 = performance.now();
        v.step();
        times[k]!.push(performance.now() - t0);
      });
    }
    variants.forEach((v, k) => rows.push({ bench: 'finetune', config: c.name, threads: o.threads, ...v.result(times[k]!) }));
  } finally {
    for (const d of devices) await d.close();
  }
  if (o.json) for (const row of rows) print(JSON.stringify(row));
  if (!o.json) {
    const full = rows[0]!;
    print(`config ${c.name}: ${c.nLayer} layers × ${c.nEmbd}, vocab ${c.vocabSize}, batch ${c.batch} × ${c.seqLen} tokens, ${o.threads} threads; LoRA targets ${o.target.join(', ')}`);
    print('| variant | trainable params | share | optimizer+grad state | vs full | activations | peak memory | vs full | tokens/s | vs full |');
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of rows) {
      print(
        `| ${row.variant} | ${row.trainable_params.toLocaleString('en-US')} | ${(100 * row.trainable_share).toFixed(2)}% | ${mib(row.optimizer_grad_bytes)} | ${(row.optimizer_grad_bytes / full.optimizer_grad_bytes).toFixed(3)}× | ${mib(row.activation_bytes)} | ${mib(row.peak_bytes)} | ${(row.peak_bytes / full.peak_bytes).toFixed(2)}× | ${row.tokens_per_s.toFixed(0)} | ${(row.tokens_per_s / full.tokens_per_s).toFixed(2)}× |`,
      );
    }
    for (const row of rows.slice(1)) {
      const mem = row.optimizer_grad_bytes <= full.optimizer_grad_bytes / 3;
      const speed = row.tokens_per_s >= full.tokens_per_s;
      print(`${row.variant}: optimizer+gradient state ≤ 1/3 of full: ${mem ? 'yes' : 'NO'}; tokens/s ≥ full: ${speed ? 'yes' : 'NO'}`);
    }
  }
  return rows;
}
