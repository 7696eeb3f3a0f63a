// `genlab bench kernels`: throughput of the hot kernels (matmul on square and GPT shapes, the
// bf16 decode matmul, attention, layerNorm) per backend, build and thread count, next to PyTorch
// on the same shapes when /usr/bin/python3 has torch (bench/peer_kernels.py runs after ours,
// never alongside; for bf16 rows it runs fp32 on the same shape).
//
// Flop counts: matmul 2·m·n·k; causal attention forward 4·P·d and backward 10·P·d, where P is
// the number of visible (query, key) pairs (5 products of that size in backward: scores again,
// dP, dQ, dK, dV); layerNorm forward 8 and backward 14 flops per element.

import { Device, type Storage } from '../backend/device.ts';
import type { Ptr } from '../backend/kernels.ts';
import { createRefBackend } from '../backend/ref/ref-backend.ts';
import { Rng } from '../backend/rng.ts';
import type { KernelVariant } from '../backend/wasm/loader-node.ts';
import { relaxedSimdSupported } from '../backend/wasm/loader-node.ts';
import { createWasmBackend } from '../backend/wasm/wasm-backend.ts';
import { runPeer, torchAvailable } from './peer.ts';

export interface BenchRow {
  op: string;
  shape: string;
  backend: 'ref' | 'wasm';
  /** wasm build: 'relaxed' (fused multiply-add) or 'simd' (mul + add). */
  variant?: KernelVariant;
  threads: number;
  gflops: number;
  peer_gflops?: number;
  /** ours / PyTorch */
  ratio?: number;
}

export interface BenchKernelsOptions {
  json: boolean;
  threads: number[];
  backends: ('ref' | 'wasm')[];
  /** Fewer shapes and shorter timing. */
  quick?: boolean;
  /** wasm builds to run (default: the one this runtime picks). */
  variants?: KernelVariant[];
  /** Only the cases whose op contains this text (e.g. 'attention'). */
  filter?: string;
  /** Where lines go (default: console.log). With json, notes go to stderr so stdout stays JSON lines. */
  print?: (line: string) => void;
}

interface Case {
  op: string;
  shape: string;
  flops: number;
  /** ref is ~30× slower: it only runs the cases marked small. */
  small: boolean;
  /** Shape fields for the PyTorch peer. */
  peer: Record<string, number | boolean | string>;
  /** Allocates and fills the operands; returns the call to time. */
  prepare(dev: Device, rng: Rng): () => void;
}

const held: Storage[] = [];

/** A heap block of n random normals (times scale), held until the case is done. */
function fillRandom(dev: Device, n: number, rng: Rng, scale = 1): Ptr {
  const s = dev.allocStorage(n);
  held.push(s);
  const ptr = s.ptr;
  dev.refreshViews();
  const f = dev.f32;
  for (let i = 0; i < n; i++) f[ptr + i] = scale * rng.normal();
  return ptr;
}

function matmulCase(op: string, label: string, m: number, n: number, k: number, transA: boolean, transB: boolean, small: boolean): Case {
  const accumulate = transA; // weight gradients accumulate, as in training
  return {
    op,
    shape: `${label}${m}×${n}×${k}`,
    flops: 2 * m * n * k,
    small,
    peer: { m, n, k, transA, transB, accumulate },
    prepare(dev, rng) {
      const a = fillRandom(dev, m * k, rng);
      const b = fillRandom(dev, k * n, rng);
      const c = fillRandom(dev, m * n, rng, 0);
      return () => dev.kernels.matmul(a, b, c, 0, 1, m, n, k, transA, transB, 0, 0, 0, accumulate);
    },
  };
}

/** One decode step's product with bf16-packed weights (packed once, outside the timing). */
function matmulBf16Case(label: string, m: number, n: number, k: number): Case {
  return {
    op: 'matmul bf16',
    shape: `${label}${m}×${n}×${k}`,
    flops: 2 * m * n * k,
    small: true,
    peer: { m, n, k, transA: false, transB: false, accumulate: false },
    prepare(dev, rng) {
      const a = fillRandom(dev, m * k, rng);
      const w = fillRandom(dev, k * n, rng);
      const packed = dev.allocStorage(Math.ceil((k * n) / 2));
      held.push(packed);
      dev.kernels.packBf16(w, packed.ptr, k, n, false);
      const c = fillRandom(dev, m * n, rng, 0);
      return () => dev.kernels.matmulBf16(a, packed.ptr, c, 0, m, n, k);
    },
  };
}

function attentionCase(backward: boolean, batch: number, heads: number, t: number, d: number): Case {
  const pairs = (batch * heads * t * (t + 1)) / 2;
  return {
    op: backward ? 'attention bwd' : 'attention fwd',
    shape: `B${batch} H${heads} T${t} d${d}`,
    flops: (backward ? 10 : 4) * pairs * d,
    small: false,
    peer: { batch, heads, t, headDim: d },
    prepare(dev, rng) {
      // q, k, v packed (B, T, 3, H, D) as the fused qkv projection writes them; out (B, T, H, D)
      const qkv = fillRandom(dev, batch * t * 3 * heads * d, rng);
      const strides = [t * 3 * heads * d, d, 3 * heads * d];
      const outStrides = [t * heads * d, d, heads * d];
      const args = {
        q: qkv,
        k: qkv + heads * d,
        v: qkv + 2 * heads * d,
        qStrides: strides,
        kStrides: strides,
        vStrides: strides,
        batch,
        heads,
        tq: t,
        tk: t,
        headDim: d,
        scale: 1 / Math.sqrt(d),
        causalOffset: 0,
      };
      const size = batch * heads * t * d;
      const out = fillRandom(dev, size, rng, 0);
      const lse = fillRandom(dev, batch * heads * t, rng, 0);
      dev.kernels.attentionForward(args, out, outStrides, lse);
      if (!backward) return () => dev.kernels.attentionForward(args, out, outStrides, lse);
      const gradOut = fillRandom(dev, size, rng);
      const goStrides = [heads * t * d, t * d, d];
      const gq = fillRandom(dev, size, rng, 0);
      const gk = fillRandom(dev, size, rng, 0);
      const gv = fillRandom(dev, size, rng, 0);
      return () => dev.kernels.attentionBackward(args, out, outStrides, lse, gradOut, goStrides, gq, gk, gv);
    },
  };
}

function layerNormCase(backward: boolean, rows: number, dim: number): Case {
  return {
    op: backward ? 'layerNorm bwd' : 'layerNorm fwd',
    shape: `${rows}×${dim}`,
    flops: (backward ? 14 : 8) * rows * dim,
    small: true,
    peer: { rows, dim },
    prepare(dev, rng) {
      const x = fillRandom(dev, rows * dim, rng);
      const gamma = fillRandom(dev, dim, rng);
      const beta = fillRandom(dev, dim, rng);
      const out = fillRandom(dev, rows * dim, rng, 0);
      const mean = fillRandom(dev, rows, rng, 0);
      const rstd = fillRandom(dev, rows, rng, 0);
      dev.kernels.layerNormForward(x, gamma, beta, out, mean, rstd, rows, dim, 1e-5);
      if (!backward) return () => dev.kernels.layerNormForward(x, gamma, beta, out, mean, rstd, rows, dim, 1e-5);
      const g = fillRandom(dev, rows * dim, rng);
      const gx = fillRandom(dev, rows * dim, rng, 0);
      const gg = fillRandom(dev, dim, rng, 0);
      const gb = fillRandom(dev, dim, rng, 0);
      return () => dev.kernels.layerNormBackward(x, gamma, mean, rstd, g, gx, gg, gb, rows, dim);
    },
  };
}

/** The benchmark cases; config b of the GPT benchmarks: 6 layers, d 384, T 256, B 8, vocab 512. */
function cases(quick: boolean): Case[] {
  const list: Case[] = [];
  for (const s of quick ? [256, 1024] : [256, 512, 1024, 2048]) list.push(matmulCase('matmul', '', s, s, s, false, false, s <= 256));
  const rows = 8 * 256;
  const gpt: [string, number, number][] = [
    ['qkv ', 384, 1152],
    ['proj ', 384, 384],
    ['fc ', 384, 1536],
    ['fc2 ', 1536, 384],
    ['lm head ', 384, 512],
  ];
  for (const [label, k, n] of quick ? gpt.slice(0, 1) : gpt) {
    list.push(matmulCase('matmul', label, rows, n, k, false, false, false));
    // backward: dX = dY·Wᵀ and dW += Xᵀ·dY
    list.push(matmulCase('matmul dX', label, rows, k, n, false, true, false));
    list.push(matmulCase('matmul dW', label, k, n, rows, true, false, false));
  }
  // decoding: one token's row through the same weights, packed to bf16
  for (const [label, k, n] of quick ? gpt.slice(0, 1) : gpt) list.push(matmulBf16Case(label, 1, n, k));
  list.push(attentionCase(false, 8, 6, 256, 64));
  list.push(attentionCase(true, 8, 6, 256, 64));
  list.push(layerNormCase(false, rows, 384));
  list.push(layerNormCase(true, rows, 384));
  return list;
}

/** Best time of fn over repeats after a warm-up: at least 3 runs and minTime seconds. */
function bestTime(fn: () => void, minTime: number, maxTime: number): number {
  fn();
  let best = Infinity;
  let total = 0;
  let reps = 0;
  while ((total < minTime || reps < 3) && !(total > maxTime && reps >= 1)) {
    const t0 = performance.now();
    fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt);
    total += dt;
    reps++;
  }
  return best;
}

function formatTable(rows: BenchRow[]): string[] {
  const head = ['op', 'shape', 'backend', 'threads', 'GFLOP/s', 'PyTorch', 'ratio'];
  const body = rows.map((r) => [
    r.op,
    r.shape,
    r.variant ? `${r.backend} ${r.variant}` : r.backend,
    String(r.threads),
    r.gflops.toFixed(1),
    r.peer_gflops === undefined ? '' : r.peer_gflops.toFixed(1),
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

export async function benchKernels(opts: BenchKernelsOptions): Promise<BenchRow[]> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const note = opts.json && !opts.print ? (line: string) => console.error(line) : print;
  const quick = opts.quick ?? false;
  const minTime = quick ? 0.1 : 0.3;
  const list = cases(quick).filter((c) => !opts.filter || c.op.includes(opts.filter));
  if (list.length === 0) throw new Error(`bench kernels: no case matches '${opts.filter}'; ops are matmul, attention, layerNorm`);
  const rows: BenchRow[] = [];
  const caseOf = new Map<BenchRow, Case>();
  const maxThreads = Math.max(...opts.threads);
  const variants = opts.variants ?? [relaxedSimdSupported() ? 'relaxed' : 'simd'];

  const measure = (dev: Device, backend: 'ref' | 'wasm', variant: KernelVariant | undefined, threads: number): void => {
    for (const c of list) {
      if (backend === 'ref' && !c.small) continue;
      const rng = new Rng(1);
      const fn = c.prepare(dev, rng);
      // ref gets one timed run past its budget; the others the full minimum.
      const t = bestTime(fn, minTime, backend === 'ref' ? 2 : Infinity);
      for (const st of held) dev.freeStorage(st);
      held.length = 0;
      const row: BenchRow = { op: c.op, shape: c.shape, backend, threads, gflops: c.flops / t / 1e9 };
      if (variant) row.variant = variant;
      rows.push(row);
      caseOf.set(row, c);
    }
  };

  for (const backend of opts.backends) {
    if (backend === 'ref') {
      const dev = new Device(createRefBackend());
      measure(dev, 'ref', undefined, 1);
      continue;
    }
    for (const variant of variants) {
      // Most threads first: createWasmBackend waits for its workers, and shrinking the pool
      // needs no new ones, so no measurement runs while a worker is still starting.
      const dev = new Device(await createWasmBackend({ threads: maxThreads, relaxed: variant === 'relaxed' }));
      try {
        for (const threads of [...new Set(opts.threads)].sort((x, y) => y - x)) {
          dev.setThreads(threads);
          measure(dev, 'wasm', variant, threads);
        }
      } finally {
        await dev.close();
      }
    }
  }

  if (torchAvailable()) {
    const peerThreads = [...new Set(opts.threads)];
    const peerCases = list.flatMap((c, ci) => peerThreads.map((threads) => ({ id: `${ci}:${threads}`, op: c.op, threads, flops: c.flops, ...c.peer })));
    try {
      const results = await runPeer('peer_kernels.py', [JSON.stringify(peerCases), String(minTime)]);
      const info = results.find((r) => r['info'])?.['info'] as { torch?: string; blas?: string[] } | undefined;
      if (info) {
        const blas = (info.blas ?? []).map((p) => p.split('/').slice(-2).join('/')).join(', ') || 'unknown';
        const slow = (info.blas ?? []).some((p) => /\/blas\/libblas/.test(p)) ? ' — the reference BLAS: install libopenblas0 for a fair peer' : '';
        note(`PyTorch ${info.torch ?? '?'} peer, BLAS: ${blas}${slow}`);
      }
      const byId = new Map(results.map((r) => [String(r['id']), r['gflops']]));
      for (const row of rows) {
        const peer = byId.get(`${list.indexOf(caseOf.get(row)!)}:${row.threads}`);
        if (typeof peer === 'number') {
          row.peer_gflops = peer;
          row.ratio = row.gflops / peer;
        }
      }
    } catch (err) {
      note(`PyTorch peer failed, ratios omitted: ${(err as Error).message.split('\n')[0]}`);
    }
  } else {
    note('PyTorch peer skipped: /usr/bin/python3 cannot import torch');
  }

  // table order: backend and build as run, then threads ascending, then case order
  const runOrder = new Map(rows.map((r, i) => [r, i]));
  rows.sort((x, y) => {
    const group = (r: BenchRow): string => `${r.backend} ${r.variant ?? ''}`;
    if (group(x) !== group(y)) return runOrder.get(x)! - runOrder.get(y)!;
    if (x.threads !== y.threads) return x.threads - y.threads;
    return list.indexOf(caseOf.get(x)!) - list.indexOf(caseOf.get(y)!);
  });
  if (opts.json) for (const row of rows) print(JSON.stringify(row));
  else for (const line of formatTable(rows)) print(line);
  return rows;
}
