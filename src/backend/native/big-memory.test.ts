// The native device memory past 4 GiB. Tensors placed beyond the 8 GiB mark (element indices
// ≥ 2^31, byte offsets ≥ 2^33, so a pointer, element count or byte offset cut to 32 bits, signed
// or not, lands somewhere else) must compute exactly what the same kernels compute at the bottom
// of a fresh device. The 8 GiB below them are allocated and never written: with prefault off
// their pages stay uncommitted, so the test needs address space, not RAM (it checks the RSS).
// Also: reservations that large still let the process fork, and running out of memory reports
// the sizes and the remedy.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { totalmem } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { Device } from '../device.ts';
import { BinaryOp, ReduceOp, UnaryOp } from '../kernels.gen.ts';
import { Rng } from '../rng.ts';
import { nativeStatus } from './native-addon.ts';
import { checkGrow, createNativeBackend, type NativeBackendParts } from './native-backend.ts';

const GiB = 2 ** 30;
/** Elements left untouched below the tensors: 8 GiB and 4 MiB. */
const PAD = 2 ** 31 + 2 ** 20;

const status = nativeStatus();

interface Side {
  dev: Device;
  parts: NativeBackendParts;
  /** Pointers the program allocated (to check where they lie). */
  ptrs: number[];
}

function side(opts: { prefault?: boolean } = {}): Side {
  const parts = createNativeBackend({ threads: 2, ...opts });
  return { dev: new Device(parts), parts, ptrs: [] };
}

/**
 * A fixed program over the kernels whose pointer arithmetic a large model stresses: GEMMs (packed
 * and streaming paths, batched, transposed, bias, bf16), strided copies and broadcasting
 * arithmetic, elementwise ops, reductions with int32 argmax, embedding lookup through int32 ids,
 * row kernels, and bf16 weight packing with the decoding product. Returns every output's bits.
 */
function program(s: Side): Int32Array[] {
  const { dev } = s;
  const k = dev.kernels;
  const rng = new Rng(42);
  const alloc = (n: number): number => {
    const st = dev.allocStorage(n);
    s.ptrs.push(st.ptr);
    return st.ptr;
  };
  const input = (n: number): number => {
    const p = alloc(n);
    dev.refreshViews();
    for (let i = 0; i < n; i++) dev.f32[p + i] = rng.normal();
    return p;
  };
  const outputs: Array<[number, number]> = [];
  const output = (n: number): number => {
    const p = alloc(n);
    k.fill(p, n, 0);
    outputs.push([p, n]);
    return p;
  };

  // GEMM, packed path (m > 8), bias, B transposed.
  const [m, n, kk] = [40, 70, 50];
  const a = input(m * kk);
  const bt = input(n * kk);
  const bias = input(n);
  const c1 = output(m * n);
  k.matmul(a, bt, c1, bias, 1, m, n, kk, false, true, 0, 0, 0, false);
  // Streaming path (decode: m <= 8), B plain, accumulating into C.
  const b = input(kk * n);
  const c2 = output(3 * n);
  k.matmul(a, b, c2, 0, 1, 3, n, kk, false, false, 0, 0, 0, true);
  // Batched, A transposed, per-batch strides.
  const ab = input(2 * kk * m);
  const c3 = output(2 * m * n);
  k.matmul(ab, b, c3, 0, 2, m, n, kk, true, false, kk * m, 0, m * n, false);
  // bf16 operands (fp32 accumulation) through the precision switch.
  s.parts.setPrecision('bf16');
  const c4 = output(m * n);
  k.matmul(a, b, c4, bias, 1, m, n, kk, false, false, 0, 0, 0, false);
  s.parts.setPrecision('fp32');
  // bf16 weight packs (the tied LM head is packed transposed) and the decoding product on them.
  const packed = output(Math.ceil((n * kk) / 2));
  k.packBf16(bt, packed, n, kk, true);
  const c5 = output(2 * n);
  k.matmulBf16(a, packed, c5, bias, 2, n, kk);
  const packedPlain = output(Math.ceil((kk * n) / 2));
  k.packBf16(b, packedPlain, kk, n, false);

  // Strided copy (a transpose) and broadcasting arithmetic.
  const t = output(m * n);
  k.copyStrided(c1, [1, n], t, [m, 1], [n, m], false);
  const sum = output(m * n);
  k.binary(BinaryOp.Mul, c1, [n, 1], bias, [0, 1], sum, [m, n]);
  // Elementwise.
  const act = output(m * n);
  k.unary(UnaryOp.Silu, c1, act, m * n);
  k.axpy(c4, act, m * n, 0.5);
  const gate = input(m * n);
  const sw = output(m * n);
  k.swigluForward(gate, act, sw, m * n);
  // Reductions; argmax writes int32 indices.
  const rmax = output(m);
  const arg = output(m);
  k.reduce(ReduceOp.Max, c1, rmax, arg, m, n, 1);
  const rsum = output(n);
  k.reduce(ReduceOp.Sum, c1, rsum, 0, 1, m, n);
  // Embedding lookup through int32 ids.
  const [vocab, dim] = [500, 48];
  const table = input(vocab * dim);
  const rows = 9;
  const ids = alloc(rows);
  dev.refreshViews();
  for (let r = 0; r < rows; r++) dev.i32[ids + r] = (r * 97 + 13) % vocab;
  const emb = output(rows * dim);
  k.embeddingForward(table, ids, emb, rows, dim);
  // Row kernels.
  const sm = output(m * n);
  k.softmaxForward(c1, sm, m, n);
  const gamma = input(n);
  const rms = output(m * n);
  const rstd = output(m);
  k.rmsNormForward(c1, gamma, rms, rstd, m, n, 1e-5);
  const ss = k.sumSquares(c1, m * n);

  dev.refreshViews();
  const got = outputs.map(([p, len]) => dev.i32.slice(p, p + len));
  got.push(new Int32Array(Float32Array.of(ss).buffer));
  return got;
}

if (status.available) {
  describe('native device memory past 4 GiB', () => {
    let high: Side;
    let low: Side;
    before(() => {
      low = side();
    });
    after(() => low.dev.close());

    it('runs kernels on tensors past the 8 GiB mark, bit-identical to the same kernels at the bottom of memory', (t) => {
      if (totalmem() < 10 * GiB) {
        t.skip(`the default reservation is min(16 GiB, RAM) and this machine has ${(totalmem() / GiB).toFixed(1)} GiB`);
        return;
      }
      high = side({ prefault: false });
      const pad = high.dev.allocStorage(PAD);
      assert.ok(high.dev.memoryBytes() > 8 * GiB, `the memory should have grown past 8 GiB, it has ${high.dev.memoryBytes()} bytes`);
      const got = program(high);
      const want = program(low);
      assert.ok(
        high.ptrs.every((p) => p >= pad.ptr + PAD && p >= 2 ** 31),
        `every tensor must lie past element 2^31 (byte 8 GiB); lowest was ${Math.min(...high.ptrs)}`,
      );
      assert.ok(low.ptrs.every((p) => p < 2 ** 26), 'the comparison device keeps its tensors low');
      assert.equal(got.length, want.length);
      got.forEach((g, i) => assert.deepEqual(g, want[i], `output ${i} differs past 8 GiB`));
      // Nothing ran on zeros: every output holds values.
      want.forEach((w, i) => assert.ok(w.some((v) => v !== 0), `output ${i} is all zeros`));
      // The 8 GiB pad was never written, so it must not be resident.
      const rss = process.memoryUsage().rss;
      assert.ok(rss < 2 * GiB, `RSS is ${(rss / GiB).toFixed(2)} GiB: untouched device memory got committed`);
      high.dev.freeStorage(pad);
    });

    it('a process holding several 16 GiB reservations can still start child processes', () => {
      // Each device reserves min(16 GiB, RAM); unless those pages are mapped MAP_NORESERVE, fork
      // sees them as committed and fails with ENOMEM once they add up past the RAM.
      const devices = [side(), side(), side()];
      const r = spawnSync(process.execPath, ['-e', 'process.exit(7)']);
      assert.equal(r.error, undefined, `spawn failed: ${r.error?.message}`);
      assert.equal(r.status, 7);
      for (const d of devices) void d.dev.close();
    });

    it('names the limit and the remedy when the memory is exhausted', () => {
      const small = new Device(createNativeBackend({ threads: 1, maxMemoryBytes: 64 * 2 ** 20 }));
      const keep = small.allocStorage(8 << 20); // 32 MiB
      assert.throws(
        () => small.allocStorage(10 << 20),
        {
          message:
            'out of device memory: a block of 40.0 MiB needs the native memory to grow to 0.07 GiB, but the native device memory ' +
            'stops at 0.06 GiB (the maxMemoryBytes the device was created with); use a smaller model, batch or context',
        },
      );
      // The failed grow left the allocator usable: what fits still allocates.
      const fits = small.allocStorage(4 << 20);
      small.kernels.fill(fits.ptr, 4 << 20, 1);
      small.freeStorage(fits);
      small.freeStorage(keep);
      assert.equal(small.memoryStats().heapBytes, 0, 'a failed allocation must not stay counted as in use');
    });

    it('refuses a prefaulted grow the free RAM cannot back, naming both sizes', () => {
      const why = 'the maxMemoryBytes the device was created with';
      assert.throws(() => checkGrow(GiB, 3 * GiB, 16 * GiB, why, true, 2 * GiB, 23 * GiB), {
        message: 'growing it by 3.00 GiB needs that much free RAM and this machine has 2.00 GiB available (of 23.00 GiB); stop programs that hold memory',
      });
      assert.doesNotThrow(() => checkGrow(GiB, 3 * GiB, 16 * GiB, why, false, 2 * GiB, 23 * GiB), 'without prefault pages commit on first touch');
      assert.throws(() => checkGrow(15 * GiB, 2 * GiB, 16 * GiB, why, false, 64 * GiB, 64 * GiB), /stops at 16\.00 GiB \(the maxMemoryBytes/);
      assert.throws(() => createNativeBackend({ maxMemoryBytes: 2 ** 35 }), /maxMemoryBytes must be a multiple of 64 KiB in \[1 MiB, 16 GiB\], got 34359738368/);
    });
  });
}
