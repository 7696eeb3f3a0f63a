import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Device } from '../device.ts';
import { expectClose, reductionTol } from '../testing/kernel-harness.ts';
import { oracleBf16Bits, oracleMatmulBf16 } from '../testing/kernel-oracle.ts';
import { kernelSuite } from '../testing/kernel-suite.ts';
import { BinaryOp, UnaryOp } from '../kernels.ts';
import { Rng } from '../rng.ts';
import { relaxedSimdSupported } from './loader-node.ts';
import { createWasmBackend } from './wasm-backend.ts';

const builds = relaxedSimdSupported() ? [true, false] : [false];

for (const relaxed of builds) {
  for (const threads of [1, 2]) {
    kernelSuite(`wasm ${relaxed ? 'relaxed' : 'mul+add'} ×${threads}`, async () => new Device(await createWasmBackend({ threads, relaxed })));
  }
}
// The suite's inputs are mostly too small to be worth a second thread; this run splits them anyway.
kernelSuite('wasm ×2, every call split', async () => new Device(await createWasmBackend({ threads: 2, splitAll: true })));

describe('wasm backend threads', () => {
  let one: Device;
  let two: Device;
  before(async () => {
    one = new Device(await createWasmBackend({ threads: 1 }));
    two = new Device(await createWasmBackend({ threads: 2 }));
  });
  after(async () => {
    await one.close();
    await two.close();
  });

  function upload(dev: Device, data: Float32Array): number {
    const s = dev.allocStorage(data.length);
    dev.refreshViews();
    dev.f32.set(data, s.ptr);
    return s.ptr;
  }

  function read(dev: Device, ptr: number, n: number): Float32Array {
    dev.refreshViews();
    return dev.f32.slice(ptr, ptr + n);
  }

  function randoms(n: number, seed: number): Float32Array {
    const rng = new Rng(seed);
    return Float32Array.from({ length: n }, () => rng.normal());
  }

  it('1 and 2 threads give the same results on big kernels', () => {
    assert.ok(two.threads === 2, 'the two-thread device should report 2 threads');
    const m = 300;
    const n = 260;
    const k = 190;
    const a = randoms(m * k, 1);
    const b = randoms(k * n, 2);
    const bias = randoms(n, 3);
    const results = [one, two].map((dev) => {
      const ap = upload(dev, a);
      const bp = upload(dev, b);
      const biasp = upload(dev, bias);
      const c = dev.allocStorage(m * n).ptr;
      dev.kernels.matmul(ap, bp, c, biasp, 1, m, n, k, false, true, 0, 0, 0, false);
      const g = dev.allocStorage(m * k).ptr;
      dev.kernels.unary(UnaryOp.Gelu, ap, g, m * k);
      const sm = dev.allocStorage(m * k).ptr;
      dev.kernels.softmaxForward(ap, sm, m, k);
      const ss = dev.kernels.sumSquares(ap, m * k);
      return { c: read(dev, c, m * n), g: read(dev, g, m * k), sm: read(dev, sm, m * k), ss };
    });
    // Each output element is computed by the same code on either thread count: bit-identical.
    assert.deepEqual(results[1]!.c, results[0]!.c, 'matmul');
    assert.deepEqual(results[1]!.g, results[0]!.g, 'gelu');
    assert.deepEqual(results[1]!.sm, results[0]!.sm, 'softmax');
    assert.ok(Math.abs(results[1]!.ss - results[0]!.ss) <= 1e-12 * results[0]!.ss, 'sumSquares');
  });

  it('keeps up with a steady stream of small and large calls (no deadlock)', () => {
    const n = 1 << 16;
    const x = upload(two, randoms(n, 4));
    const y = upload(two, new Float32Array(n));
    const tiny = upload(two, new Float32Array(8));
    const t0 = performance.now();
    for (let i = 0; i < 20000; i++) {
      // alternate calls that stay on the caller with calls that wake the worker
      two.kernels.axpy(x, tiny, 8, 1);
      if (i % 4 === 0) two.kernels.axpy(x, y, n, 1);
    }
    const ms = performance.now() - t0;
    const got = read(two, y, 4);
    const want = read(two, x, 4).map((v) => Math.fround(v * 5000));
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-3 * Math.abs(want[i]!) + 1e-3, `y[${i}] = ${got[i]}, expected ${want[i]}`);
    assert.ok(ms < 30000, `20000 calls took ${ms.toFixed(0)} ms`);
  });

  it('setThreads changes the pool size and results stay correct', async () => {
    const dev = new Device(await createWasmBackend({ threads: 2 }));
    try {
      const n = 1 << 17;
      const a = upload(dev, randoms(n, 5));
      const b = upload(dev, randoms(n, 6));
      const outs: Float32Array[] = [];
      for (const t of [1, 2, 1, 2]) {
        dev.setThreads(t);
        assert.equal(dev.threads, t);
        // new workers join once ready; give them a moment so the call below can use them
        await new Promise((r) => setTimeout(r, t === 2 ? 400 : 0));
        const out = dev.allocStorage(n).ptr;
        dev.kernels.binary(BinaryOp.Mul, a, [1], b, [1], out, [n]);
        outs.push(read(dev, out, n));
      }
      for (const o of outs) assert.deepEqual(o, outs[0]);
      assert.throws(() => dev.setThreads(0), /setThreads/);
    } finally {
      await dev.close();
    }
  });
});

describe('wasm matmul block and path edges', () => {
  let dev: Device;
  before(async () => {
    dev = new Device(await createWasmBackend({ threads: 2, splitAll: true }));
  });
  after(async () => {
    await dev.close();
  });

  // Sizes straddle the packing blocks (KC = 384, MC = 64, NC = 1024, 4×8 tiles) and the
  // few-rows path (m <= 4 without packing, which falls back to packing for k > 6144).
  const shapes: [number, number, number][] = [
    [1000, 7, 65],
    [65, 1000, 7],
    [1, 1000, 1000],
    [3, 1025, 770],
    [70, 1030, 769],
    [4, 9, 7000],
  ];
  for (const [m, n, k] of shapes) {
    it(`${m}×${n}×${k}, every transpose, with bias and accumulate`, () => {
      const rng = new Rng(m * 131 + n * 7 + k);
      const a = Float32Array.from({ length: m * k }, () => rng.normal());
      const b = Float32Array.from({ length: k * n }, () => rng.normal());
      const bias = Float32Array.from({ length: n }, () => rng.normal());
      const c0 = Float32Array.from({ length: m * n }, () => rng.normal());
      const storages = [a, b, bias, c0].map((data) => {
        const s = dev.allocStorage(data.length);
        dev.refreshViews();
        dev.f32.set(data, s.ptr);
        return s;
      });
      const [ap, bp, biasp] = storages.map((s) => s.ptr) as [number, number, number];
      const cp = storages[3]!.ptr;
      try {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const accumulate = transA !== transB;
            dev.refreshViews();
            dev.f32.set(c0, cp);
            dev.kernels.matmul(ap, bp, cp, biasp, 1, m, n, k, transA, transB, 0, 0, 0, accumulate);
            // float64 reference; A is read as stored m×k or k×m, B as k×n or n×k
            const want = new Float64Array(m * n);
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                let acc = 0;
                for (let p = 0; p < k; p++) acc += a[transA ? p * m + i : i * k + p]! * b[transB ? j * k + p : p * n + j]!;
                want[i * n + j] = acc + bias[j]! + (accumulate ? c0[i * n + j]! : 0);
              }
            }
            dev.refreshViews();
            expectClose(`transA=${transA} transB=${transB}`, dev.f32.subarray(cp, cp + m * n), want, reductionTol(k));
          }
        }
      } finally {
        for (const s of storages) dev.freeStorage(s);
      }
    });
  }
});

describe('wasm bf16 decode kernels: blocks, row groups and thread counts', () => {
  let one: Device;
  let split: Device;
  before(async () => {
    one = new Device(await createWasmBackend({ threads: 1 }));
    split = new Device(await createWasmBackend({ threads: 2, splitAll: true }));
  });
  after(async () => {
    await one.close();
    await split.close();
  });

  function upload(dev: Device, data: Float32Array): number {
    const s = dev.allocStorage(data.length);
    dev.refreshViews();
    dev.f32.set(data, s.ptr);
    return s.ptr;
  }

  /** The packed 16-bit values at element pointer ptr. */
  function packedAt(dev: Device, ptr: number, count: number): Uint16Array {
    dev.refreshViews();
    return new Uint16Array(dev.f32.buffer, ptr * 4, count).slice();
  }

  // Column blocks hold 24 KiB of accumulators and B segments (608 columns at 8 rows, 2048 at
  // one), rows of A go 8 at a time, B 4 rows at a time: these shapes cross every such edge.
  const products: [number, number, number][] = [
    [1, 2100, 9],
    [8, 1300, 6],
    [9, 650, 11],
    [17, 40, 1],
    [2, 5000, 0],
  ];
  for (const [m, n, k] of products) {
    it(`matmulBf16 ${m}×${n}×${k} matches the oracle, bit for bit on 1 and 2 threads`, () => {
      const rng = new Rng(m * 7919 + n * 31 + k);
      const a = Float32Array.from({ length: m * k }, () => rng.normal());
      const b = Float32Array.from({ length: k * n }, () => rng.normal());
      const bias = Float32Array.from({ length: n }, () => rng.normal());
      // A NaN in row 1 of A poisons that row only.
      if (m > 1 && k > 0) a[k + (k >> 1)] = NaN;
      const results = [one, split].map((dev) => {
        const ap = upload(dev, a);
        const bp = upload(dev, b);
        const biasp = upload(dev, bias);
        const packed = dev.allocStorage(Math.max(1, Math.ceil((k * n) / 2))).ptr;
        const c = dev.allocStorage(m * n).ptr;
        dev.kernels.packBf16(bp, packed, k, n, false);
        dev.kernels.matmulBf16(ap, packed, c, biasp, m, n, k);
        dev.refreshViews();
        return dev.f32.slice(c, c + m * n);
      });
      const want = oracleMatmulBf16(Float64Array.from(a), Float64Array.from(b), Float64Array.from(bias), m, n, k);
      expectClose(`matmulBf16 ${m}×${n}×${k}`, results[0]!, want, reductionTol(k));
      // Parts own columns and every column runs the same chain of operations.
      assert.deepEqual(results[1], results[0], 'one thread and two split threads differ');
    });
  }

  it('packBf16 transposed across tile edges matches the oracle on 1 and 2 threads', () => {
    for (const [rows, cols] of [[70, 45], [33, 100], [8, 4], [129, 7]] as const) {
      const rng = new Rng(rows * 1000 + cols);
      const src = Float32Array.from({ length: rows * cols }, () => rng.normal());
      for (const dev of [one, split]) {
        const sp = upload(dev, src);
        for (const transpose of [true, false]) {
          const dst = dev.allocStorage(Math.ceil((rows * cols) / 2)).ptr;
          dev.kernels.packBf16(sp, dst, rows, cols, transpose);
          const got = packedAt(dev, dst, rows * cols);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const at = transpose ? c * rows + r : r * cols + c;
              const want = oracleBf16Bits(src[r * cols + c]!);
              if (got[at] !== want) assert.fail(`${rows}×${cols} transpose=${transpose} threads=${dev.threads}: (${r}, ${c}) packed to 0x${got[at]!.toString(16)}, want 0x${want.toString(16)}`);
            }
          }
        }
      }
    }
  });
});

describe('wasm backend process lifetime', () => {
  it('a process that never calls close() still exits', async () => {
    const backend = fileURLToPath(new URL('./wasm-backend.ts', import.meta.url));
    const script = `
      const { createWasmBackend } = await import(${JSON.stringify(backend)});
      const parts = await createWasmBackend({ threads: 2 });
      console.log('threads', parts.threads);
    `;
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`child failed or hung: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    assert.match(out, /threads 2/);
    assert.ok(Date.now() - started < 20000);
  });
});
