// The native backend's rows of `genlab bench kernels`: fp32 GEMM (1024³, 2048³ and config b's
// GPT shapes, forward, dX and dW), bf16 GEMM on every bf16 kernel this machine runs, the
// streaming (decode) GEMM, attention and layerNorm; per instruction set and thread count, with
// PyTorch fp32 on the same shapes beside them (bench/peer_kernels.py, run after ours).
//
// Flop counts as in kernels.ts: matmul 2·m·n·k; causal attention forward 4·P·d and backward
// 10·P·d (P visible query-key pairs); layerNorm forward 8 and backward 14 flops per element.

import { Device, type Storage } from '../backend/device.ts';
import type { Ptr } from '../backend/kernels.ts';
import { nativeStatus, type NativeIsa } from '../backend/native/native-addon.ts';
import { createNativeBackend, defaultBf16Kernel, type Bf16Kernel, type Precision } from '../backend/native/native-backend.ts';
import { Rng } from '../backend/rng.ts';
import { runPeer, torchAvailable } from './peer.ts';

export interface NativeBenchRow {
  op: string;
  shape: string;
  backend: 'native';
  isa: NativeIsa;
  precision: Precision;
  /** The bf16 GEMM kernel (bf16 rows only). */
  bf16Kernel?: Bf16Kernel;
  threads: number;
  gflops: number;
  /** PyTorch fp32 on the same shape and thread count. */
  peer_gflops?: number;
  ratio?: number;
}

export interface NativeBenchOptions {
  json: boolean;
  threads: number[];
  /** Instruction sets to run (default: the best this machine has). */
  isas?: NativeIsa[];
  quick?: boolean;
  /** Only the cases whose op contains this text. */
  filter?: string;
  print?: (line: string) => void;
}

interface Case {
  op: string;
  shape: string;
  flops: number;
  precision: Precision;
  peer: Record<string, number | boolean | string>;
  prepare(dev: Device, rng: Rng, held: Storage[]): () => void;
}

function fill(dev: Device, held: Storage[], n: number, rng: Rng, scale = 1): Ptr {
  const s = dev.allocStorage(n);
  held.push(s);
  dev.refreshViews();
  const f = dev.f32;
  for (let i = 0; i < n; i++) f[s.ptr + i] = scale * rng.normal();
  return s.ptr;
}

function matmul(op: string, label: string, m: number, n: number, k: number, transA: boolean, transB: boolean, precision: Precision): Case {
  const accumulate = transA;
  return {
    op: precision === 'bf16' ? `${op} bf16` : op,
    shape: `${label}${m}×${n}×${k}`,
    flops: 2 * m * n * k,
    precision,
    peer: { op: 'matmul', m, n, k, transA, transB, accumulate },
    prepare(dev, rng, held) {
      const a = fill(dev, held, m * k, rng);
      const b = fill(dev, held, k * n, rng);
      const c = fill(dev, held, m * n, rng, 0);
      return () => dev.kernels.matmul(a, b, c, 0, 1, m, n, k, transA, transB, 0, 0, 0, accumulate);
    },
  };
}

function attention(backward: boolean, batch: number, heads: number, t: number, d: number): Case {
  const pairs = (batch * heads * t * (t + 1)) / 2;
  return {
    op: backward ? 'attention bwd' : 'attention fwd',
    shape: `B${batch} H${heads} T${t} d${d}`,
    flops: (backward ? 10 : 4) * pairs * d,
    precision: 'fp32',
    peer: { op: backward ? 'attention bwd' : 'attention fwd', batch, heads, t, headDim: d },
    prepare(dev, rng, held) {
      const qkv = fill(dev, held, batch * t * 3 * heads * d, rng);
      const strides = [t * 3 * heads * d, d, 3 * heads * d];
      const outStrides = [t * heads * d, d, heads * d];
      const args = { q: qkv, k: qkv + heads * d, v: qkv + 2 * heads * d, qStrides: strides, kStrides: strides, vStrides: strides, batch, heads, tq: t, tk: t, headDim: d, scale: 1 / Math.sqrt(d), causalOffset: 0 };
      const size = batch * heads * t * d;
      const out = fill(dev, held, size, rng, 0);
      const lse = fill(dev, held, batch * heads * t, rng, 0);
      dev.kernels.attentionForward(args, out, outStrides, lse);
      if (!backward) return () => dev.kernels.attentionForward(args, out, outStrides, lse);
      const g = fill(dev, held, size, rng);
      const gq = fill(dev, held, size, rng, 0);
      const gk = fill(dev, held, size, rng, 0);
      const gv = fill(dev, held, size, rng, 0);
      return () => dev.kernels.attentionBackward(args, out, outStrides, lse, g, [heads * t * d, t * d, d], gq, gk, gv);
    },
  };
}

function layerNorm(backward: boolean, rows: number, dim: number): Case {
  return {
    op: backward ? 'layerNorm bwd' : 'layerNorm fwd',
    shape: `${rows}×${dim}`,
    flops: (backward ? 14 : 8) * rows * dim,
    precision: 'fp32',
    peer: { op: backward ? 'layerNorm bwd' : 'layerNorm fwd', rows, dim },
    prepare(dev, rng, held) {
      const x = fill(dev, held, rows * dim, rng);
      const gamma = fill(dev, held, dim, rng);
      const out = fill(dev, held, rows * dim, rng, 0);
      const mean = fill(dev, held, rows, rng, 0);
      const rstd = fill(dev, held, rows, rng, 0);
      dev.kernels.layerNormForward(x, gamma, gamma, out, mean, rstd, rows, dim, 1e-5);
      if (!backward) return () => dev.kernels.layerNormForward(x, gamma, gamma, out, mean, rstd, rows, dim, 1e-5);
      const g = fill(dev, held, rows * dim, rng);
      const gx = fill(dev, held, rows * dim, rng, 0);
      const gg = fill(dev, held, dim, rng, 0);
      const gb = fill(dev, held, dim, rng, 0);
      return () => dev.kernels.layerNormBackward(x, gamma, mean, rstd, g, gx, gg, gb, rows, dim);
    },
  };
}

function cases(quick: boolean): Case[] {
  const list: Case[] = [];
  for (const s of quick ? [1024] : [1024, 2048]) list.push(matmul('matmul', '', s, s, s, false, false, 'fp32'));
  for (const s of quick ? [2048] : [1024, 2048]) list.push(matmul('matmul', '', s, s, s, false, false, 'bf16'));
  // Config b (6 layers, d 384, B 8 × T 256 rows): the qkv and MLP projections, forward and backward.
  const rows = 8 * 256;
  const gpt: [string, number, number][] = quick ? [['qkv ', 384, 1152]] : [['qkv ', 384, 1152], ['fc ', 384, 1536], ['fc2 ', 1536, 384]];
  for (const [label, k, n] of gpt) {
    list.push(matmul('matmul', label, rows, n, k, false, false, 'fp32'));
    list.push(matmul('matmul dX', label, rows, k, n, false, true, 'fp32'));
    list.push(matmul('matmul dW', label, k, n, rows, true, false, 'fp32'));
  }
  // Decode: one row through GPT-2 124M's MLP weight and its tied LM head (the streaming path).
  list.push(matmul('matmul decode', 'fc ', 1, 3072, 768, false, false, 'fp32'));
  list.push(matmul('matmul decode', 'lm head ', 1, 50257, 768, false, true, 'fp32'));
  list.push(attention(false, 8, 6, 256, 64));
  list.push(attention(true, 8, 6, 256, 64));
  list.push(layerNorm(false, rows, 384));
  list.push(layerNorm(true, rows, 384));
  return list;
}

function bestTime(fn: () => void, minTime: number): number {
  fn();
  let best = Infinity;
  let total = 0;
  let reps = 0;
  while (total < minTime || reps < 3) {
    const t0 = performance.now();
    fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt);
    total += dt;
    reps++;
  }
  return best;
}

function table(rows: NativeBenchRow[]): string[] {
  const head = ['op', 'shape', 'backend', 'threads', 'GFLOP/s', 'PyTorch', 'ratio'];
  const body = rows.map((r) => [
    r.op,
    r.shape,
    `native ${r.isa}${r.bf16Kernel ? ` ${r.bf16Kernel}` : ''}`,
    String(r.threads),
    r.gflops.toFixed(1),
    r.peer_gflops === undefined ? '' : r.peer_gflops.toFixed(1),
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

/**
 * Runs the native rows and prints them (a table, or JSON lines), PyTorch fp32 beside each.
 * `genlab bench kernels` calls it when its backend list includes 'native'.
 */
export async function benchNativeKernels(opts: NativeBenchOptions): Promise<NativeBenchRow[]> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const st = nativeStatus();
  if (!st.features) {
    print(`native rows skipped: ${st.reason}`);
    return [];
  }
  const features = st.features;
  const isas = opts.isas ?? [features.isas[features.isas.length - 1]!];
  const quick = opts.quick ?? false;
  const minTime = quick ? 0.2 : 0.5;
  const list = cases(quick).filter((c) => !opts.filter || c.op.includes(opts.filter));
  const rows: NativeBenchRow[] = [];
  const peer = torchAvailable();
  if (!peer) print('PyTorch peer skipped: /usr/bin/python3 cannot import torch');
  // PyTorch runs each case right after genlab's rows for it, so a ratio compares two runs a few
  // seconds apart even when other work comes and goes on the machine.
  let peerFailed = false;
  const runPeerCase = async (c: Case, threads: number): Promise<number | undefined> => {
    if (!peer || peerFailed) return undefined;
    try {
      const out = await runPeer('peer_kernels.py', [JSON.stringify([{ id: 'case', threads, flops: c.flops, ...c.peer }]), String(minTime)]);
      const r = out.find((row) => row['id'] === 'case');
      return typeof r?.['gflops'] === 'number' ? (r['gflops'] as number) : undefined;
    } catch (err) {
      peerFailed = true;
      print(`PyTorch peer failed, ratios omitted: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };
  for (const isa of isas) {
    const bf16Kernels: Bf16Kernel[] = ['emulated'];
    if ((isa === 'avx512' || isa === 'amx') && features.avx512bf16) bf16Kernels.push('avx512bf16');
    if (isa === 'amx' && features.amx) bf16Kernels.push('amx');
    for (const threads of opts.threads) {
      for (const c of list) {
        const group: NativeBenchRow[] = [];
        for (const kernel of c.precision === 'bf16' ? bf16Kernels : [defaultBf16Kernel(isa, features)]) {
          const dev = new Device(createNativeBackend({ isa, threads, precision: c.precision, bf16Kernel: kernel }));
          const held: Storage[] = [];
          const fn = c.prepare(dev, new Rng(1), held);
          const t = bestTime(fn, minTime);
          for (const s of held) dev.freeStorage(s);
          await dev.close();
          const row: NativeBenchRow = { op: c.op, shape: c.shape, backend: 'native', isa, precision: c.precision, threads, gflops: c.flops / t / 1e9 };
          if (c.precision === 'bf16') row.bf16Kernel = kernel;
          group.push(row);
        }
        const pg = await runPeerCase(c, threads);
        for (const row of group) {
          if (pg !== undefined) {
            row.peer_gflops = pg;
            row.ratio = row.gflops / pg;
          }
          rows.push(row);
        }
      }
    }
  }
  if (opts.json) for (const row of rows) print(JSON.stringify(row));
  else for (const line of table(rows)) print(line);
  return rows;
}
