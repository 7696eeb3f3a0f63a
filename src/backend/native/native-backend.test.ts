// The native backend: the shared kernel suite on every instruction-set path this machine runs
// (one thread, and two threads with every call split so the threaded code runs on the suite's
// small inputs), plus what is specific to native: its own memory, determinism across runs,
// pointer checks, thread changes, and the build itself. bf16 precision: bf16.test.ts.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Device } from '../device.ts';
import { kernelSuite } from '../testing/kernel-suite.ts';
import { Rng } from '../rng.ts';
import { nativeStatus, type NativeIsa } from './native-addon.ts';
import { chooseIsa, createNativeBackend } from './native-backend.ts';

const status = nativeStatus();
const ALL_ISAS: readonly NativeIsa[] = ['portable', 'avx2', 'avx512', 'amx'];

function compilerPresent(): boolean {
  try {
    execFileSync(process.env['CXX'] || 'g++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('native addon', () => {
  it('is built wherever a C++ compiler is present (npm install builds it)', (t) => {
    if (!compilerPresent() && !status.available) {
      t.skip('no C++ compiler and no addon: genlab uses wasm here');
      return;
    }
    assert.ok(status.available, `the native addon should be built on a machine with a compiler: ${status.reason}`);
    assert.ok(status.features!.isas.includes('portable'));
  });
});

if (status.available) {
  for (const isa of status.features!.isas) {
    kernelSuite(`native ${isa} ×1`, async () => new Device(createNativeBackend({ isa, threads: 1 })));
    kernelSuite(`native ${isa} ×2, every call split`, async () => new Device(createNativeBackend({ isa, threads: 2, splitAll: true })));
  }

  describe('native backend', () => {
    let dev: Device;
    before(() => {
      dev = new Device(createNativeBackend({ threads: 2 }));
    });
    after(() => dev.close());

    const upload = (d: Device, data: ArrayLike<number>): number => {
      const s = d.allocStorage(data.length);
      d.refreshViews();
      d.f32.set(data, s.ptr);
      return s.ptr;
    };
    const randoms = (n: number, seed: number): Float32Array => {
      const rng = new Rng(seed);
      return Float32Array.from({ length: n }, () => rng.normal());
    };

    it('memory grows in place: the buffer never moves, earlier views stay valid and see the same bytes', () => {
      const buffer = dev.memory.buffer;
      const before = dev.memoryBytes();
      const early = upload(dev, [1, 2, 3]);
      const view = dev.f32.subarray(early, early + 3);
      // 64 MiB more than the memory had: forces several grow() calls.
      const big = dev.allocStorage(before / 4 + (16 << 20));
      assert.ok(dev.memoryBytes() > before);
      assert.equal(dev.memory.buffer, buffer, 'growing must not replace the buffer the kernels compute on');
      dev.refreshViews();
      dev.kernels.fill(early, 3, 7);
      assert.deepEqual([...view], [7, 7, 7], 'a view made before growing must see kernel writes');
      dev.kernels.fill(big.ptr + big.size - 4, 4, 5);
      assert.deepEqual([...dev.f32.subarray(big.ptr + big.size - 4, big.ptr + big.size)], [5, 5, 5, 5]);
      dev.freeStorage(big);
    });

    it('rejects pointers outside the memory instead of faulting', () => {
      const end = dev.memoryBytes() / 4;
      assert.throws(() => dev.kernels.fill(end - 2, 4, 0), /fill: out reaches outside the device memory/);
      assert.throws(() => dev.kernels.matmul(16, 16, end - 10, 0, 1, 4, 4, 4, false, false, 0, 0, 0, false), /matmul: C reaches outside/);
    });

    it('two threads give bit-identical results run after run (deterministic reductions)', () => {
      const m = 300;
      const n = 260;
      const k = 190;
      const a = upload(dev, randoms(m * k, 1));
      const b = upload(dev, randoms(k * n, 2));
      const rows = 4096;
      const dim = 96;
      const x = upload(dev, randoms(rows * dim, 3));
      const g = upload(dev, randoms(rows * dim, 4));
      const gamma = upload(dev, randoms(dim, 5));
      const mean = upload(dev, new Float32Array(rows));
      const rstd = upload(dev, new Float32Array(rows));
      const out = upload(dev, new Float32Array(rows * dim));
      dev.kernels.layerNormForward(x, gamma, gamma, out, mean, rstd, rows, dim, 1e-5);
      const runOnce = (): Float32Array[] => {
        const c = upload(dev, new Float32Array(m * n));
        const gx = upload(dev, new Float32Array(rows * dim));
        const gg = upload(dev, new Float32Array(dim));
        const gb = upload(dev, new Float32Array(dim));
        dev.kernels.matmul(a, b, c, 0, 1, m, n, k, false, false, 0, 0, 0, false);
        dev.kernels.layerNormBackward(x, gamma, mean, rstd, g, gx, gg, gb, rows, dim);
        const ss = dev.kernels.sumSquares(x, rows * dim);
        dev.refreshViews();
        return [dev.f32.slice(c, c + m * n), dev.f32.slice(gx, gx + rows * dim), dev.f32.slice(gg, gg + dim), dev.f32.slice(gb, gb + dim), Float32Array.of(ss)];
      };
      const first = runOnce();
      for (let rep = 0; rep < 3; rep++) {
        const again = runOnce();
        first.forEach((arr, i) => assert.deepEqual(again[i], arr, `output ${i} changed between runs`));
      }
    });

    it('one and two threads agree on big kernels', () => {
      const one = new Device(createNativeBackend({ threads: 1 }));
      try {
        const m = 333;
        const n = 517;
        const k = 129;
        const A = randoms(m * k, 11);
        const B = randoms(n * k, 12);
        const bias = randoms(n, 13);
        const results = [one, dev].map((d) => {
          const a = upload(d, A);
          const b = upload(d, B);
          const bp = upload(d, bias);
          const c = upload(d, new Float32Array(m * n));
          d.kernels.matmul(a, b, c, bp, 1, m, n, k, false, true, 0, 0, 0, false);
          d.refreshViews();
          return d.f32.slice(c, c + m * n);
        });
        // Same tiles and summation order per element, whatever the thread count.
        assert.deepEqual(results[1], results[0]);
      } finally {
        void one.close();
      }
    });

    it('setThreads switches between one and two threads', () => {
      dev.setThreads(1);
      assert.equal(dev.threads, 1);
      const x = upload(dev, randoms(1 << 16, 7));
      const one = dev.kernels.sumSquares(x, 1 << 16);
      dev.setThreads(2);
      assert.equal(dev.threads, 2);
      const two = dev.kernels.sumSquares(x, 1 << 16);
      assert.ok(Math.abs(one - two) <= 1e-12 * one, `${one} vs ${two}`);
      assert.throws(() => dev.setThreads(0), /setThreads: expected a positive integer/);
    });

    it('names an unavailable instruction set and how to proceed', () => {
      const features = status.features!;
      const available = features.isas.join(', ');
      for (const isa of ALL_ISAS.filter((i) => !features.isas.includes(i))) {
        assert.throws(() => createNativeBackend({ isa }), new RegExp(`does not run the '${isa}' kernels.*; available: ${available}$`));
      }
      // The same machine with the AMX tile state refused (as an OS without it does): AMX is named
      // with the reason, and the instruction sets that do run are offered.
      const refused = 'the kernel refused arch_prctl(ARCH_REQ_XCOMP_PERM)';
      const noAmx = { ...features, amx: false, amxStatus: refused, isas: features.isas.filter((i) => i !== 'amx') };
      assert.throws(() => chooseIsa('amx', noAmx), { message: `createNativeBackend: this machine does not run the 'amx' kernels (AMX: ${refused}); available: ${noAmx.isas.join(', ')}` });
      assert.equal(chooseIsa(undefined, noAmx), noAmx.isas.at(-1), 'the default falls back to the best instruction set left');
    });

    it('runs the AMX kernels where the CPU has them and the OS grants the tile state', async (t) => {
      const features = status.features!;
      if (!features.amxHardware) {
        t.skip(`no AMX here (${features.amxStatus})`);
        return;
      }
      // cpuid, the OS grant and the instruction-set list agree.
      assert.equal(features.amx, features.amxStatus === 'granted', features.amxStatus);
      assert.equal(features.isas.includes('amx'), features.amx, `isas ${features.isas.join(', ')}, AMX: ${features.amxStatus}`);
      if (!features.amx) return;
      // AMX is the best instruction set (the default), and its bf16 matmuls run on the tiles.
      assert.equal(features.isas.at(-1), 'amx');
      const amx = createNativeBackend({ isa: 'amx', threads: 1, precision: 'bf16' });
      try {
        assert.equal(amx.bf16Kernel, 'amx');
      } finally {
        await amx.close?.();
      }
      assert.throws(() => createNativeBackend({ isa: 'avx512', bf16Kernel: 'amx' }), /the AMX bf16 kernel needs isa 'amx', got 'avx512'/);
      // (bf16.test.ts checks the tile products themselves against the float64 oracle.)
    });
  });
}
