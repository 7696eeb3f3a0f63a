// The kernel spec and what is generated from it: the committed files match the generator, the
// compiled backends refuse to start when built from another spec, every activation of the spec
// computes its definition on every backend, and an op id outside an enum fails on every layer
// (TypeScript wrappers throw, the wasm body traps, the C++ body aborts) instead of computing
// another op.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { generateKernelFiles, currentSpec, staleFiles } from '../../scripts/kernel-gen/generate.ts';
import { resolve } from '../../scripts/kernel-gen/model.ts';
import type { Device } from './device.ts';
import { ACTIVATIONS, type KernelSpec } from './kernel-spec.ts';
import { BINARY_OP_COUNT, KERNEL_ID, KERNEL_SPEC_HASH, REDUCE_OP_COUNT, UNARY_OP_COUNT, UnaryOp } from './kernels.gen.ts';
import { BinaryOp, ReduceOp } from './kernels.ts';
import { nativeStatus } from './native/native-addon.ts';
import { checkAddonSpec } from './native/native-backend.ts';
import { Rng } from './rng.ts';
import { testDevices } from './testing/devices.ts';
import { ELEMENTWISE_TOL, expectClose, Harness, normals } from './testing/kernel-harness.ts';
import { loadKernelModule } from './wasm/loader-node.ts';
import { kernelExports } from './wasm/wasm-backend.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('kernel spec: generated files', () => {
  it('the committed files are what the spec generates (gen-kernels --check)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-kernels.ts', '--check'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `gen-kernels --check failed:\n${r.stderr}`);
    assert.match(r.stdout, /7 generated files are up to date/);
  });

  it('a spec change makes the check name the files it changes', () => {
    const spec = currentSpec();
    const unary = spec.enums.find((e) => e.name === 'UnaryOp')!;
    const changed = { ...spec, enums: spec.enums.map((e) => (e === unary ? { ...e, members: [...e.members, { name: 'TestOnlyOp' }] } : e)) };
    const stale = staleFiles(root, generateKernelFiles(changed)).map((f) => f.path).sort();
    assert.deepEqual(stale, [
      'kernels/enums.ts',
      'native/src/kernels.gen.h',
      'src/backend/kernels.gen.ts',
      'src/backend/native/native-kernels.gen.ts',
      'src/backend/wasm/wasm-kernels.gen.ts',
    ]);
    const kernelsGen = generateKernelFiles(changed).find((f) => f.path === 'src/backend/kernels.gen.ts')!.contents;
    assert.match(kernelsGen, new RegExp(`TestOnlyOp = ${UNARY_OP_COUNT},`));
    assert.doesNotMatch(kernelsGen, new RegExp(`KERNEL_SPEC_HASH = 0x${KERNEL_SPEC_HASH.toString(16).padStart(8, '0')};`), 'the ABI hash covers enum members');
  });

  it('rejects an inconsistent spec', () => {
    const spec = currentSpec();
    const fill = spec.kernels[0]!;
    const withKernels = (kernels: KernelSpec[]) => () => resolve({ ...spec, kernels });
    assert.throws(withKernels([...spec.kernels, fill]), /kernel 'fill' is listed twice/);
    assert.throws(withKernels([{ ...fill, name: 'fill2', split: undefined }]), /fill2: a generated wasm wrapper needs `split`/);
    assert.throws(withKernels([{ ...fill, args: [...fill.args, { name: 'slots', kind: 'int' }] }]), /argument name 'slots' is reserved/);
    assert.throws(withKernels([{ ...fill, args: [{ name: 'op', kind: 'enum', enumName: 'NoSuchOp' as 'UnaryOp' }] }]), /names no enum/);
  });
});

describe('kernel spec: compiled backends are checked at start-up', () => {
  it('the wasm modules report this spec, and a module from another spec is refused', async () => {
    const { module, variant } = await loadKernelModule(false);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const ex = (await WebAssembly.instantiate(module, { env: { memory } })).exports as Record<string, unknown>;
    assert.equal(((ex['kernelSpecHash'] as () => number)() >>> 0), KERNEL_SPEC_HASH);
    assert.equal(kernelExports(ex, variant).length, Object.keys(KERNEL_ID).length);

    const otherSpec = { ...ex, kernelSpecHash: () => (KERNEL_SPEC_HASH + 1) | 0 };
    assert.throws(() => kernelExports(otherSpec, variant), /kernels-simd\.wasm was built from another kernel spec \(it reports kernel spec hash 0x[0-9a-f]{8}, .*run `npm run build:kernels`/);
    const { kernelSpecHash: _, ...noHash } = ex;
    assert.throws(() => kernelExports(noHash, variant), /reports no kernel spec hash/);
    const wrongArity = { ...ex, fill: (part: number, parts: number, out: number) => part + parts + out };
    assert.throws(() => kernelExports(wrongArity, variant), /fill takes 1 arguments after \(part, parts\), the kernel spec passes 3/);
    const { unary: __, ...noUnary } = ex;
    assert.throws(() => kernelExports(noUnary, variant), /lacks the export unary/);
  });

  it('the native addon reports this spec, and an addon from another spec is refused', (t) => {
    const st = nativeStatus();
    const names = Object.keys(KERNEL_ID);
    if (st.addon) checkAddonSpec(st.path, st.addon);
    else t.diagnostic(`native addon not built (${st.reason}): checked the fake addons only`);
    assert.throws(() => checkAddonSpec('x.node', { kernelNames: () => names, specHash: () => KERNEL_SPEC_HASH ^ 1 }), /x\.node was built from another kernel spec.*npm run build:native/);
    assert.throws(() => checkAddonSpec('x.node', { kernelNames: () => [...names].reverse(), specHash: () => KERNEL_SPEC_HASH }), /its kernel list differs/);
  });
});

describe('kernel spec: activations', () => {
  it('each derivative matches finite differences of its function', () => {
    const rng = new Rng(7);
    for (const a of ACTIVATIONS) {
      for (let i = 0; i < 200; i++) {
        const x = rng.normal() * a.sampleScale;
        if (Math.abs(x) < 1e-3) continue; // relu's kink
        const h = 1e-5 * Math.max(1, Math.abs(x));
        const fd = (a.f(x + h) - a.f(x - h)) / (2 * h);
        assert.ok(Math.abs(fd - a.df(x)) <= 1e-6 * (1 + Math.abs(fd)), `${a.name}'(${x}) = ${a.df(x)}, finite differences give ${fd}`);
      }
    }
  });

  for (const td of testDevices) {
    describe(td.name, () => {
      let device: Device;
      before(async () => {
        device = await td.make();
      });
      after(async () => {
        await device?.close();
      });

      it('computes every UnaryOp of the spec and its gradient', () => {
        assert.equal(ACTIVATIONS.length, UNARY_OP_COUNT);
        const rng = new Rng(11);
        const h = new Harness(device);
        try {
          ACTIVATIONS.forEach((a, op: UnaryOp) => {
            for (const n of [5, 67, 1000]) {
              const x = Float64Array.from(normals(rng, n, a.sampleScale), Math.fround);
              const xp = h.input(x, 'x');
              const out = h.output(n);
              h.run(() => device.kernels.unary(op, xp, out, n));
              expectClose(`${a.name} n=${n}`, h.read(out, n), x.map(a.f), ELEMENTWISE_TOL);
              const gradOut = normals(rng, n);
              const gradX = normals(rng, n);
              const gp = h.input(gradOut, 'gradOut');
              const gx = h.buffer(gradX, 'gradX');
              h.run(() => device.kernels.unaryBackward(op, xp, gp, gx, n));
              expectClose(`${a.name}' n=${n}`, h.read(gx, n), gradX.map((g, i) => g + a.df(x[i]!) * gradOut[i]!), ELEMENTWISE_TOL);
            }
          });
        } finally {
          h.dispose();
        }
      });

      it('rejects op ids outside their enum and writes nothing', () => {
        const h = new Harness(device);
        try {
          const x = h.input([1, -2, 3, -4], 'x');
          const out = h.buffer([7, 7, 7, 7], 'out');
          const k = device.kernels;
          for (const bad of [UNARY_OP_COUNT, -1, 1.5, Number.NaN, 2 ** 32]) {
            assert.throws(() => k.unary(bad as UnaryOp, x, out, 4), /unary: unknown UnaryOp id/);
            assert.throws(() => k.unaryBackward(bad as UnaryOp, x, x, out, 4), /unaryBackward: unknown UnaryOp id/);
          }
          // Also for empty calls: the id is wrong whatever the size.
          assert.throws(() => k.unary(UNARY_OP_COUNT as UnaryOp, x, out, 0), new RegExp(`unknown UnaryOp id ${UNARY_OP_COUNT};`));
          assert.throws(() => k.binary(BINARY_OP_COUNT as BinaryOp, x, [1], x, [1], out, [4]), new RegExp(`binary: unknown BinaryOp id ${BINARY_OP_COUNT};`));
          assert.throws(() => k.reduce(REDUCE_OP_COUNT as ReduceOp, x, out, 0, 1, 4, 1), new RegExp(`reduce: unknown ReduceOp id ${REDUCE_OP_COUNT};`));
          assert.deepEqual([...h.read(out, 4)], [7, 7, 7, 7]);
        } finally {
          h.dispose();
        }
      });
    });
  }
});

describe('kernel spec: bodies stop at an unknown op id', () => {
  it('the wasm bodies trap', async () => {
    const { module } = await loadKernelModule(false);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const ex = (await WebAssembly.instantiate(module, { env: { memory } })).exports as Record<string, (...a: number[]) => unknown>;
    const i32 = new Int32Array(memory.buffer);
    i32.set([4, 1, 1], 1024 / 4); // shape [4], strides [1] and [1] for binary
    const x = 2048;
    const out = 4096;
    assert.throws(() => ex['unary']!(0, 1, UNARY_OP_COUNT, x, out, 4), /unreachable/);
    assert.throws(() => ex['unaryBackward']!(0, 1, UNARY_OP_COUNT, x, x, out, 4), /unreachable/);
    assert.throws(() => ex['reduce']!(0, 1, REDUCE_OP_COUNT, x, out, 0, 1, 4, 1), /unreachable/);
    assert.throws(() => ex['binary']!(0, 1, BINARY_OP_COUNT, x, 1028, x, 1032, out, 1024, 1), /unreachable/);
    // The valid ids still run.
    ex['unary']!(0, 1, UnaryOp.Neg, x, out, 4);
  });

  it('the C++ bodies abort the process', (t) => {
    const st = nativeStatus();
    if (!st.addon) {
      t.skip(`native addon not built: ${st.reason}`);
      return;
    }
    // The addon called directly, bypassing the TypeScript wrappers' checks.
    const code = `
      const addon = require(${JSON.stringify(st.path)});
      const memory = new ArrayBuffer(1 << 20);
      const ctx = addon.create(0, 1, 0, false, memory);
      const a = new Float64Array(memory, ctx.baseOffset + ctx.argsOffset, 64);
      a.set([${UNARY_OP_COUNT + 94}, 1024, 2048, 4]);
      addon.run(ctx.id, ${KERNEL_ID.unary});
      console.log('computed something');`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGABRT', `expected an abort, got status ${r.status}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`genlab native: unary got unknown UnaryOp id ${UNARY_OP_COUNT + 94}`));
    assert.doesNotMatch(r.stdout, /computed something/);
  });
});
