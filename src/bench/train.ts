// `genlab bench train` and `genlab bench generate`: tokens/s of a full training step (forward,
// backward, AdamW) and of KV-cached greedy decoding on GPT shapes, next to PyTorch on the same
// shapes in the same invocation. The Llama-shaped configs (SmolLM2-135M, and Llama-3.2-1B for
// decoding) use src/models/llama.ts with random weights. The 1B shape decodes on the native
// backend only: its fp32 weights (4.6 GiB) and bf16 packs (2.3 GiB) exceed a wasm32 memory; it does
// not train (weights, gradients and AdamW moments alone would be 18.4 GiB).

import os from 'node:os';
import { backward, noGrad } from '../autograd/tape.ts';
import type { BackendName, Device } from '../backend/device.ts';
import { createDevice, defaultBackend, type Precision } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { defaultGptConfig, Gpt, type GptConfig } from '../models/gpt.ts';
import { defaultLlamaConfig, Llama } from '../models/llama.ts';
import { weightTraffic } from '../nn/packed-weights.ts';
import { scale } from '../ops/elementwise.ts';
import { AdamW } from '../optim/adamw.ts';
import { empty } from '../tensor/tensor.ts';
import { runPeer, torchAvailable } from './peer.ts';

export interface BenchConfig {
  name: string;
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  batch: number;
  seqLen: number;
  /** Timed steps (train) or tokens (generate). */
  steps: number;
  /** Sequences per forward/backward when a 4 GiB wasm memory cannot hold the whole batch (kept on native to compare alike). */
  microBatch?: number;
  /** A Llama-family shape (tied embeddings, no biases); nEmbd is hidden_size, nHead the query heads. */
  llama?: { intermediateSize: number; numKeyValueHeads: number; ropeTheta: number };
  /** Runs only when named in --configs (it takes gigabytes and minutes). */
  optIn?: boolean;
}

const smollm2: Omit<BenchConfig, 'batch' | 'seqLen' | 'steps'> = {
  name: 'smollm2-135m', vocabSize: 49152, nPositions: 8192, nEmbd: 576, nLayer: 30, nHead: 9,
  llama: { intermediateSize: 1536, numKeyValueHeads: 3, ropeTheta: 100000 },
};

/** Llama-3.2-1B's shape (1,235,814,400 parameters, tied embeddings; plain RoPE: random weights need no scaling). */
const llama32_1b: Omit<BenchConfig, 'batch' | 'seqLen' | 'steps'> = {
  name: 'llama3.2-1b', vocabSize: 128256, nPositions: 131072, nEmbd: 2048, nLayer: 16, nHead: 32,
  llama: { intermediateSize: 8192, numKeyValueHeads: 8, ropeTheta: 500000 },
};

export const trainConfigs: BenchConfig[] = [
  { name: 'a', vocabSize: 512, nPositions: 128, nEmbd: 128, nLayer: 4, nHead: 4, batch: 16, seqLen: 128, steps: 10 },
  { name: 'b', vocabSize: 512, nPositions: 256, nEmbd: 384, nLayer: 6, nHead: 6, batch: 8, seqLen: 256, steps: 4 },
  { name: 'gpt2-124M', vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, batch: 4, seqLen: 256, steps: 2, microBatch: 2 },
  { ...smollm2, batch: 4, seqLen: 256, steps: 2, microBatch: 1 },
];

export const generateConfigs: BenchConfig[] = [
  { name: 'b', vocabSize: 512, nPositions: 1024, nEmbd: 384, nLayer: 6, nHead: 6, batch: 1, seqLen: 8, steps: 128 },
  { name: 'gpt2-124M', vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, batch: 1, seqLen: 8, steps: 32 },
  { ...smollm2, batch: 1, seqLen: 8, steps: 32 },
  { ...llama32_1b, batch: 1, seqLen: 8, steps: 16, optIn: true },
];

export interface TrainBenchRow {
  bench: 'train' | 'generate';
  config: string;
  backend: string;
  /** Matmul precision of genlab's run (PyTorch always runs fp32). */
  precision: Precision;
  threads: number;
  /** The kernels genlab ran on: the backend, and for native its instruction set and bf16 GEMM. */
  kernels: string;
  tokens_per_s: number;
  peak_bytes?: number;
  /** generate: bytes a decoding step reads (weight matrices and KV cache), and the KV cache's share. */
  bytes_per_token?: number;
  kv_bytes_per_token?: number;
  peer_tokens_per_s?: number;
  ratio?: number;
}

function gptConfig(c: BenchConfig): GptConfig {
  return defaultGptConfig({ vocabSize: c.vocabSize, nPositions: c.nPositions, nEmbd: c.nEmbd, nLayer: c.nLayer, nHead: c.nHead, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 });
}

/** The config's model with random weights: Llama-family when it has a `llama` shape, else GPT-2. */
export function benchModel(dev: Device, c: BenchConfig): Gpt | Llama {
  if (!c.llama) return new Gpt(gptConfig(c), { device: dev, seed: 0 });
  const config = defaultLlamaConfig({
    vocabSize: c.vocabSize, maxPositionEmbeddings: c.nPositions, hiddenSize: c.nEmbd, numHiddenLayers: c.nLayer, numAttentionHeads: c.nHead,
    headDim: c.nEmbd / c.nHead, tieWordEmbeddings: true, ...c.llama,
  });
  return new Llama(config, { device: dev, seed: 0 });
}

function randomIds(dev: Device, shape: number[], vocab: number, rng: Rng) {
  const t = empty(dev, shape, 'int32');
  const v = t.unsafeView();
  for (let i = 0; i < v.length; i++) v[i] = Math.floor(rng.uniform() * vocab);
  return t;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median tokens/s of full training steps, and the step's peak device memory. */
export function benchTrainStep(dev: Device, c: BenchConfig): { tokensPerSecond: number; peakBytes: number } {
  const model = benchModel(dev, c);
  const opt = new AdamW(model.parameters(), { lr: 1e-4 });
  const rng = new Rng(0);
  // A batch that does not fit a 4 GiB wasm memory at once runs as accumulated micro-batches:
  // the same tokens and the same update per step.
  const micro = c.microBatch ?? c.batch;
  const accum = c.batch / micro;
  const ids = dev.heapScope(() => randomIds(dev, [micro, c.seqLen], c.vocabSize, rng));
  const targets = dev.heapScope(() => randomIds(dev, [micro, c.seqLen], c.vocabSize, rng));
  const step = (): void => {
    opt.zeroGrad();
    for (let i = 0; i < accum; i++) {
      dev.scope(() => {
        const { loss } = model.forward(ids, targets);
        backward(accum === 1 ? loss! : scale(loss!, 1 / accum));
        return loss!.item();
      });
    }
    opt.update();
  };
  step();
  step();
  const times: number[] = [];
  for (let i = 0; i < c.steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  const stats = dev.memoryStats();
  // The arena is a heap block, so the heap peak already includes it.
  return { tokensPerSecond: (c.batch * c.seqLen * 1000) / median(times), peakBytes: stats.heapPeakBytes };
}

/**
 * Tokens/s of greedy decoding with a KV cache, batch 1, after an 8-token prompt, and the peak
 * device memory (weights, bf16 packs, KV cache and the step's activations). The timed run's prompt
 * and greedy ids come back too, so a peer engine can decode the same prompt and be checked.
 */
export function benchDecode(dev: Device, c: BenchConfig): { tokensPerSecond: number; peakBytes: number; prompt: number[]; ids: number[]; bytesPerToken: number; kvBytesPerToken: number } {
  const model = benchModel(dev, c).eval();
  const rng = new Rng(0);
  let prompt: number[] = [];
  const generated: number[] = [];
  // Bytes each step of the timed run read: weight matrices (fp32, bf16 or q8_0) plus the KV cache.
  let bytesPerToken = 0;
  let kvBytesPerToken = 0;
  const run = (tokens: number): number => {
    const cache = model.createCache(1, c.seqLen + tokens + 1);
    const weightBytes = weightTraffic.bytes;
    let ids = dev.heapScope(() => randomIds(dev, [1, c.seqLen], c.vocabSize, rng));
    prompt = Array.from(ids.unsafeView());
    generated.length = 0;
    const t0 = performance.now();
    for (let i = 0; i <= tokens; i++) {
      const next = dev.scope(() =>
        noGrad(() => {
          const logits = model.forward(ids, null, cache).logits.unsafeView();
          const V = c.vocabSize;
          const row = logits.subarray(logits.length - V);
          let best = 0;
          for (let j = 1; j < V; j++) if (row[j]! > row[best]!) best = j;
          return best;
        }),
      );
      generated.push(next);
      ids = dev.heapScope(() => empty(dev, [1, 1], 'int32').set([next]));
    }
    const ms = performance.now() - t0;
    kvBytesPerToken = cache.bytesRead / (tokens + 1);
    bytesPerToken = (weightTraffic.bytes - weightBytes) / (tokens + 1) + kvBytesPerToken;
    cache.free();
    return (tokens * 1000) / ms;
  };
  // Warm-up long enough for the JIT, the worker threads and the memory to settle (the peer does the same).
  run(32);
  const tokensPerSecond = run(c.steps);
  return { tokensPerSecond, peakBytes: dev.memoryStats().heapPeakBytes, prompt, ids: [...generated], bytesPerToken, kvBytesPerToken };
}

export interface TrainBenchOptions {
  json: boolean;
  threads: number[];
  configs?: string[];
  /** Skip the PyTorch peer. */
  noPeer?: boolean;
  /** genlab's backend (default: native where built, else wasm). */
  backend?: BackendName;
  /** Matmul precisions to run genlab at (default fp32); each gets a row. */
  precisions?: Precision[];
  print?: (line: string) => void;
}

/** "native amx" (fp32) or "native amx bf16:amx"; the backend's name alone for wasm and ref. */
export async function kernelPath(backend: BackendName, precision: Precision): Promise<string> {
  if (backend !== 'native') return backend;
  const { nativeStatus } = await import('../backend/native/native-addon.ts');
  const f = nativeStatus().features;
  if (!f) return backend;
  const { defaultIsa, defaultBf16Kernel } = await import('../backend/native/native-backend.ts');
  const isa = defaultIsa(f);
  return `native ${isa}${precision === 'bf16' ? ` bf16:${defaultBf16Kernel(isa, f)}` : ''}`;
}

async function runBench(kind: 'train' | 'generate', opts: TrainBenchOptions): Promise<TrainBenchRow[]> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const all = kind === 'train' ? trainConfigs : generateConfigs;
  const configs = opts.configs ? all.filter((c) => opts.configs!.includes(c.name)) : all.filter((c) => !c.optIn);
  if (configs.length === 0) throw new Error(`no such config; choose from ${all.map((c) => c.name).join(', ')}`);
  const rows: TrainBenchRow[] = [];
  const peer = !opts.noPeer && torchAvailable();
  if (!peer && !opts.noPeer) print('PyTorch peer skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)');
  const backend = opts.backend ?? (await defaultBackend());
  const precisions = opts.precisions ?? ['fp32'];
  const cpu = `cpu ${os.cpus()[0]?.model ?? 'unknown'} × ${os.availableParallelism()}`;
  if (opts.json) print(JSON.stringify({ cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism() }));
  else print(cpu);
  for (const threads of opts.threads) {
    for (const c of configs) {
      // The peer once per config and thread count, right after genlab's runs, for every precision.
      const group: TrainBenchRow[] = [];
      for (const precision of precisions) {
        // A fresh device per config, so peak memory is this config's alone.
        const dev = await createDevice({ backend, threads, precision });
        const kernels = await kernelPath(backend, precision);
        try {
          if (kind === 'train') {
            const r = benchTrainStep(dev, c);
            group.push({ bench: kind, config: c.name, backend, precision, threads, kernels, tokens_per_s: r.tokensPerSecond, peak_bytes: r.peakBytes });
          } else {
            const r = benchDecode(dev, c);
            group.push({
              bench: kind, config: c.name, backend, precision, threads, kernels, tokens_per_s: r.tokensPerSecond, peak_bytes: r.peakBytes,
              bytes_per_token: r.bytesPerToken, kv_bytes_per_token: r.kvBytesPerToken,
            });
          }
        } finally {
          await dev.close();
        }
      }
      if (peer) {
        // The peer decodes as many tokens as genlab did (c.steps), after the same 8-token prompt.
        const [p] = await runPeer('peer_train.py', [kind, JSON.stringify([{ ...c, tokens: c.steps }]), String(threads)]);
        const pt = p?.['tokens_per_s'] as number | undefined;
        if (pt) {
          for (const row of group) {
            row.peer_tokens_per_s = pt;
            row.ratio = row.tokens_per_s / pt;
          }
        }
      }
      for (const row of group) {
        rows.push(row);
        if (opts.json) print(JSON.stringify(row));
        else {
          const mem = row.peak_bytes ? `  peak ${(row.peak_bytes / 2 ** 20).toFixed(0)} MiB` : '';
          const read = row.bytes_per_token ? `  reads ${(row.bytes_per_token / 1e6).toFixed(1)} MB/token (KV ${(row.kv_bytes_per_token! / 1e6).toFixed(2)})` : '';
          const vs = row.ratio !== undefined ? `  PyTorch ${row.peer_tokens_per_s!.toFixed(0)} tok/s  ratio ${row.ratio.toFixed(2)}×` : '';
          print(`${kind} ${c.name.padEnd(12)} ${row.kernels} ${row.precision} threads ${threads}  genlab ${row.tokens_per_s.toFixed(0).padStart(6)} tok/s${vs}${read}${mem}`);
        }
      }
    }
  }
  if (opts.threads.length > 1) for (const line of bestOfThreads(rows)) print(opts.json ? JSON.stringify(line) : line.text);
  return rows;
}

/**
 * Each side at its own best thread count: PyTorch decodes slower on 2 threads than on 1 here, so
 * the fair comparison is genlab's best against PyTorch's best, not row by row.
 */
export function bestOfThreads(rows: TrainBenchRow[]): { bench: string; config: string; precision: Precision; genlab_threads: number; tokens_per_s: number; peer_threads: number; peer_tokens_per_s: number; ratio: number; text: string }[] {
  const out = [];
  const keys = new Set(rows.map((r) => `${r.config}|${r.precision}`));
  for (const key of keys) {
    const group = rows.filter((r) => `${r.config}|${r.precision}` === key && r.peer_tokens_per_s !== undefined);
    if (group.length < 2) continue;
    const ours = group.reduce((a, b) => (b.tokens_per_s > a.tokens_per_s ? b : a));
    const theirs = group.reduce((a, b) => (b.peer_tokens_per_s! > a.peer_tokens_per_s! ? b : a));
    const ratio = ours.tokens_per_s / theirs.peer_tokens_per_s!;
    out.push({
      bench: `${ours.bench}-best`,
      config: ours.config,
      precision: ours.precision,
      genlab_threads: ours.threads,
      tokens_per_s: ours.tokens_per_s,
      peer_threads: theirs.threads,
      peer_tokens_per_s: theirs.peer_tokens_per_s!,
      ratio,
      text: `${ours.bench} ${ours.config.padEnd(10)} best of each: genlab ${ours.tokens_per_s.toFixed(0)} tok/s (${ours.threads} threads, ${ours.precision})  PyTorch ${theirs.peer_tokens_per_s!.toFixed(0)} tok/s (${theirs.threads} threads)  ratio ${ratio.toFixed(2)}×`,
    });
  }
  return out;
}

export function benchTrain(opts: TrainBenchOptions): Promise<TrainBenchRow[]> {
  return runBench('train', opts);
}

export function benchGenerate(opts: TrainBenchOptions): Promise<TrainBenchRow[]> {
  return runBench('generate', opts);
}
