// The op-level suite every backend runs: each op's gradient against float64-accumulated finite
// differences, forward values against direct computations, and the errors bad input produces.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gradcheck } from '../../autograd/gradcheck.ts';
import { backward, noGrad } from '../../autograd/tape.ts';
import type { Device } from '../../backend/device.ts';
import { Rng } from '../../backend/rng.ts';
import { empty, writeVersion, type Tensor } from '../../tensor/tensor.ts';
import * as ops from '../index.ts';

export function opsSuite(name: string, makeDevice: () => Promise<Device>): void {
  describe(`ops on ${name}`, () => {
    let dev: Device;
    let rng: Rng;
    before(async () => {
      dev = await makeDevice();
      rng = new Rng(42);
    });
    after(async () => {
      await dev.close();
    });

    const randT = (shape: number[], requiresGrad = true, scale = 1): Tensor => {
      const t = empty(dev, shape);
      const v = new Float32Array(t.size);
      for (let i = 0; i < v.length; i++) v[i] = scale * rng.normal();
      t.set(v);
      t.requiresGrad = requiresGrad;
      return t;
    };
    const idsT = (shape: number[], vocab: number): Tensor => {
      const t = empty(dev, shape, 'int32');
      const v = new Int32Array(t.size);
      for (let i = 0; i < v.length; i++) v[i] = Math.floor(rng.uniform() * vocab);
      return t.set(v);
    };
    const check = (label: string, f: (...x: Tensor[]) => Tensor, inputs: Tensor[], opts = {}): void => {
      const r = gradcheck(f, inputs, opts);
      assert.ok(r.ok, `${label}: gradient mismatch ${JSON.stringify(r.worst)}`);
      assert.ok(r.checked > 0, `${label}: nothing checked`);
    };

    it('matmul: all transpose combinations, batched and shared weight', () => {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = randT(transA ? [2, 5, 3] : [2, 3, 5]);
          const b = randT(transB ? [2, 4, 5] : [2, 5, 4]);
          check(`matmul tA=${transA} tB=${transB}`, (x, y) => ops.matmul(x!, y!, { transA, transB }), [a, b]);
          const w = randT(transB ? [4, 5] : [5, 4]);
          check(`matmul shared tA=${transA} tB=${transB}`, (x, y) => ops.matmul(x!, y!, { transA, transB }), [a, w]);
        }
      }
    });

    it('matmul forward equals the definition', () => {
      const a = randT([3, 7], false);
      const b = randT([7, 5], false);
      const c = ops.matmul(a, b).toArray();
      const av = a.toArray();
      const bv = b.toArray();
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 5; j++) {
          let s = 0;
          for (let k = 0; k < 7; k++) s += av[i * 7 + k]! * bv[k * 5 + j]!;
          assert.ok(Math.abs(c[i * 5 + j]! - s) < 1e-4, `c[${i},${j}] = ${c[i * 5 + j]} expected ${s}`);
        }
      }
    });

    it('linear with bias (Conv1D layout)', () => {
      check('linear', (x, w, b) => ops.linear(x!, w!, b!), [randT([2, 3, 6]), randT([6, 5]), randT([5])]);
    });

    it('elementwise with broadcasting', () => {
      check('add', (x, y) => ops.add(x!, y!), [randT([3, 4]), randT([4])]);
      check('sub', (x, y) => ops.sub(x!, y!), [randT([3, 1]), randT([1, 4])]);
      check('mul', (x, y) => ops.mul(x!, y!), [randT([2, 3, 4]), randT([3, 1])]);
      const pos = randT([4], false);
      pos.set(Array.from(pos.toArray(), (v) => 1.5 + Math.abs(v)));
      pos.requiresGrad = true;
      check('div', (x, y) => ops.div(x!, y!), [randT([3, 4]), pos]);
      check('affine', (x) => ops.affine(x!, -1.5, 0.25), [randT([7])]);
    });

    it('activations', () => {
      check('gelu', (x) => ops.gelu(x!), [randT([63])]);
      check('tanh', (x) => ops.tanh(x!), [randT([7])]);
      check('exp', (x) => ops.exp(x!), [randT([7], true, 0.5)]);
      check('neg', (x) => ops.neg(x!), [randT([7])]);
      // relu's kink makes finite differences unreliable within eps of 0: keep inputs away from it.
      const x = randT([16], false);
      x.set(Array.from(x.toArray(), (v) => (v >= 0 ? v + 0.1 : v - 0.1)));
      x.requiresGrad = true;
      check('relu', (t) => ops.relu(t!), [x]);
    });

    it('gelu matches the tanh formula', () => {
      const x = randT([65], false, 3);
      const y = ops.gelu(x).toArray();
      const xv = x.toArray();
      for (let i = 0; i < xv.length; i++) {
        const v = xv[i]!;
        const e = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
        assert.ok(Math.abs(y[i]! - e) < 1e-5 * (1 + Math.abs(e)), `gelu(${v}) = ${y[i]}, expected ${e}`);
      }
    });

    it('reductions', () => {
      check('sum axis', (x) => ops.sum(x!, 1), [randT([3, 5, 2])]);
      check('mean all', (x) => ops.mean(x!), [randT([4, 3])]);
      check('mean keepDims', (x) => ops.mean(x!, -1, { keepDims: true }), [randT([4, 3])]);
      check('max axis', (x) => ops.max(x!, 0), [randT([5, 3])]);
    });

    it('views: reshape, permute, slice, transpose, contiguous', () => {
      check('reshape', (x) => ops.reshape(x!, [6, -1]), [randT([2, 3, 4])]);
      check('permute', (x) => ops.contiguous(ops.permute(x!, [2, 0, 1])), [randT([2, 3, 4])]);
      check('slice', (x) => ops.slice(x!, 1, 1, 3), [randT([2, 4, 3])]);
      check('transpose+matmul', (x, y) => ops.matmul(ops.transpose(x!, 0, 1), y!), [randT([5, 3]), randT([5, 2])]);
      check('slice→reshape→permute chain', (x) => ops.permute(ops.reshape(ops.slice(x!, 2, 4, 8), [2, 3, 2, 2]), [0, 2, 1, 3]), [randT([2, 3, 12])]);
    });

    it('reshape of a sliced view needs no copy', () => {
      const x = randT([2, 3, 12], false);
      const v = ops.reshape(ops.slice(x, 2, 4, 8), [2, 3, 2, 2]);
      assert.equal(v.storage, x.storage);
      assert.deepEqual(v.strides, [36, 12, 2, 1]);
    });

    it('embedding (repeated ids accumulate)', () => {
      const table = randT([7, 5]);
      const ids = empty(dev, [2, 3], 'int32').set([1, 3, 1, 6, 0, 1]);
      check('embedding', (w) => ops.embedding(w!, ids), [table]);
    });

    it('layerNorm', () => {
      check('layerNorm', (x, g, b) => ops.layerNorm(x!, g!, b!), [randT([3, 2, 7]), randT([7]), randT([7])], { eps: 3e-3 });
    });

    it('rmsNorm: gradients and the definition', () => {
      check('rmsNorm', (x, g) => ops.rmsNorm(x!, g!), [randT([3, 2, 7]), randT([7])], { eps: 3e-3 });
      const fixed = randT([4, 5], false);
      check('rmsNorm, gamma only', (g) => ops.rmsNorm(fixed, g!), [randT([5])], { eps: 3e-3 });
      const x = randT([2, 6], false);
      const g = randT([6], false);
      const y = ops.rmsNorm(x, g, 1e-5).toArray();
      const xa = x.toArray();
      const ga = g.toArray();
      for (let r = 0; r < 2; r++) {
        let ms = 0;
        for (let c = 0; c < 6; c++) ms += xa[r * 6 + c]! ** 2 / 6;
        for (let c = 0; c < 6; c++) {
          const want = (xa[r * 6 + c]! / Math.sqrt(ms + 1e-5)) * ga[c]!;
          assert.ok(Math.abs(y[r * 6 + c]! - want) < 1e-5, `rmsNorm[${r},${c}] = ${y[r * 6 + c]}, expected ${want}`);
        }
      }
    });

    it('silu: gradient and the definition', () => {
      check('silu', (x) => ops.silu(x!), [randT([3, 9], true, 3)]);
      const x = randT([17], false, 4);
      const y = ops.silu(x).toArray();
      x.toArray().forEach((v, i) => assert.ok(Math.abs(y[i]! - v / (1 + Math.exp(-v))) < 1e-5, `silu(${v}) = ${y[i]}`));
    });

    it('swiglu: gradients to both inputs (each alone too) and equality with silu(gate) · up', () => {
      check('swiglu', (g, u) => ops.swiglu(g!, u!), [randT([3, 9], true, 3), randT([3, 9])]);
      const fixedUp = randT([2, 5], false);
      check('swiglu, gate only', (g) => ops.swiglu(g!, fixedUp), [randT([2, 5], true, 3)]);
      const fixedGate = randT([2, 5], false, 3);
      check('swiglu, up only', (u) => ops.swiglu(fixedGate, u!), [randT([2, 5])]);
      const fused = ops.swiglu(fixedGate, fixedUp).toArray();
      const plain = ops.mul(ops.silu(fixedGate), fixedUp).toArray();
      fused.forEach((v, i) => assert.ok(Math.abs(v - plain[i]!) < 1e-6, `swiglu[${i}] = ${v}, silu·up = ${plain[i]}`));
      assert.throws(() => ops.swiglu(fixedGate, randT([5, 2], false)), /swiglu: gate \[2, 5\] and up \[5, 2\] must have the same shape/);
    });

    it('rope: gradient, rotation of pairs (c, c + D/2), and offset = slice of a longer sequence', () => {
      const [B, T, H, D] = [2, 4, 3, 6];
      const P = 9;
      const cosT = empty(dev, [P, D / 2]);
      const sinT = empty(dev, [P, D / 2]);
      const ang = Array.from({ length: P * (D / 2) }, (_, i) => Math.floor(i / (D / 2)) * 0.3 ** (i % (D / 2)));
      cosT.set(ang.map(Math.cos));
      sinT.set(ang.map(Math.sin));
      check('rope', (x) => ops.rope(x!, cosT, sinT, 2), [randT([B, T, H, D])]);
      const x = randT([1, 5, 1, D], false);
      const full = ops.rope(x, cosT, sinT).toArray();
      const xa = x.toArray();
      const t = 3;
      const c = 1;
      const a = ang[t * (D / 2) + c]!;
      const want = xa[t * D + c]! * Math.cos(a) - xa[t * D + c + D / 2]! * Math.sin(a);
      assert.ok(Math.abs(full[t * D + c]! - want) < 1e-5, `rope out = ${full[t * D + c]}, expected ${want}`);
      const tail = ops.rope(ops.slice(x, 1, 3, 5), cosT, sinT, 3).toArray();
      tail.forEach((v, i) => assert.ok(Math.abs(v - full[3 * D + i]!) < 1e-6, `offset rope[${i}] = ${v}, full ${full[3 * D + i]}`));
      assert.throws(() => ops.rope(randT([1, 8, 1, D], false), cosT, sinT, 2), /rope: the cos table \[9, 3\] must be \(≥ 10 positions/);
    });

    it('softmax', () => {
      check('softmax', (x) => ops.softmax(x!), [randT([4, 9])]);
      const y = ops.softmax(randT([3, 65], false, 10)).toArray();
      for (let r = 0; r < 3; r++) {
        let s = 0;
        for (let i = 0; i < 65; i++) s += y[r * 65 + i]!;
        assert.ok(Math.abs(s - 1) < 1e-5);
      }
    });

    it('causal attention: gradients, strided inputs, and equality with the unfused form', () => {
      const [B, H, T, D] = [2, 3, 5, 4];
      check('attention', (q, k, v) => ops.attention(q!, k!, v!), [randT([B, H, T, D]), randT([B, H, T, D]), randT([B, H, T, D])]);
      // Packed qkv (B, T, 3·H·D) split by views, as the GPT does.
      const qkv = randT([B, T, 3 * H * D]);
      const heads = (x: Tensor, i: number): Tensor => ops.permute(ops.reshape(ops.slice(x, 2, i * H * D, (i + 1) * H * D), [B, T, H, D]), [0, 2, 1, 3]);
      check('attention on packed qkv', (x) => ops.attention(heads(x!, 0), heads(x!, 1), heads(x!, 2)), [qkv]);
      // Unfused reference: softmax(QKᵀ/√D + mask) V.
      const q = randT([1, 1, T, D], false);
      const k = randT([1, 1, T, D], false);
      const v = randT([1, 1, T, D], false);
      const fused = ops.contiguous(ops.attention(q, k, v)).toArray();
      const qa = q.toArray();
      const ka = k.toArray();
      const va = v.toArray();
      for (let i = 0; i < T; i++) {
        const s: number[] = [];
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qa[i * D + d]! * ka[j * D + d]!;
          s.push(dot / Math.sqrt(D));
        }
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((x, y) => x + y, 0);
        for (let d = 0; d < D; d++) {
          let o = 0;
          for (let j = 0; j <= i; j++) o += (e[j]! / z) * va[j * D + d]!;
          assert.ok(Math.abs(fused[i * D + d]! - o) < 1e-5, `out[${i},${d}] = ${fused[i * D + d]}, expected ${o}`);
        }
      }
    });

    it('grouped-query attention: each query head reads its kv head (prefill and one-query decode), with gradients', () => {
      const [B, H, Hkv, T, D] = [2, 4, 2, 5, 3];
      check('gqa', (q, k, v) => ops.attention(q!, k!, v!), [randT([B, H, T, D]), randT([B, Hkv, T, D]), randT([B, Hkv, T, D])]);
      const q = randT([B, H, T, D], false);
      const k = randT([B, Hkv, T, D], false);
      const v = randT([B, Hkv, T, D], false);
      const gqa = ops.contiguous(ops.attention(q, k, v)).toArray();
      // Query head h reads kv head floor(h / 2): compare each query head against plain attention.
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / Hkv));
        const one = ops.contiguous(ops.attention(ops.slice(q, 1, h, h + 1), ops.slice(k, 1, kvh, kvh + 1), ops.slice(v, 1, kvh, kvh + 1))).toArray();
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < T * D; i++) {
            const got = gqa[(b * H + h) * T * D + i]!;
            assert.ok(Math.abs(got - one[b * T * D + i]!) < 1e-6, `b${b} h${h} [${i}]: ${got} vs ${one[b * T * D + i]}`);
          }
        }
      }
      assert.throws(() => ops.attention(q, randT([B, 3, T, D], false), randT([B, 3, T, D], false)), /attention: shapes/);
      // A single query (decoding) takes the no-copy path: it must equal the last row of the full pass.
      const last = ops.contiguous(ops.attention(ops.slice(q, 2, T - 1, T), k, v)).toArray();
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          for (let i = 0; i < D; i++) {
            const want = gqa[((b * H + h) * T + T - 1) * D + i]!;
            assert.ok(Math.abs(last[(b * H + h) * D + i]! - want) < 1e-6, `decode b${b} h${h} [${i}]: ${last[(b * H + h) * D + i]} vs ${want}`);
          }
        }
      }
      check('gqa decode step', (x, y, z) => ops.attention(x!, y!, z!), [randT([B, H, 1, D]), randT([B, Hkv, T, D]), randT([B, Hkv, T, D])]);
    });

    it('attention with fewer queries than keys equals the last rows of full attention (KV cache)', () => {
      const [B, H, T, D] = [1, 2, 6, 4];
      const q = randT([B, H, T, D], false);
      const k = randT([B, H, T, D], false);
      const v = randT([B, H, T, D], false);
      const full = ops.contiguous(ops.attention(q, k, v)).toArray();
      const last = ops.contiguous(ops.attention(ops.slice(q, 2, T - 2, T), k, v)).toArray();
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < 2; t++) {
          for (let d = 0; d < D; d++) {
            const a = last[(h * 2 + t) * D + d]!;
            const b = full[(h * T + T - 2 + t) * D + d]!;
            assert.ok(Math.abs(a - b) < 1e-6, `h${h} t${t} d${d}: ${a} vs ${b}`);
          }
        }
      }
      check('attention tq<tk', (qq, kk, vv) => ops.attention(qq!, kk!, vv!), [randT([1, 2, 2, 4]), randT([1, 2, 5, 4]), randT([1, 2, 5, 4])]);
    });

    it('sliding-window attention: gradients (prefill, KV cache, GQA), the masked unfused form, and cached rows', () => {
      const [B, H, Hkv, T, D, W] = [2, 4, 2, 9, 3, 3];
      check('windowed attention', (q, k, v) => ops.attention(q!, k!, v!, { window: W }), [randT([B, H, T, D]), randT([B, H, T, D]), randT([B, H, T, D])]);
      check('windowed gqa tq<tk', (q, k, v) => ops.attention(q!, k!, v!, { window: W }), [randT([B, H, 4, D]), randT([B, Hkv, T, D]), randT([B, Hkv, T, D])]);
      check('windowed decode step', (q, k, v) => ops.attention(q!, k!, v!, { window: W }), [randT([1, H, 1, D]), randT([1, Hkv, T, D]), randT([1, Hkv, T, D])]);
      // softmax(QKᵀ/√D + mask) V with the band mask written out: query i sees keys i−W < j <= i.
      const q = randT([1, H, T, D], false);
      const k = randT([1, Hkv, T, D], false);
      const v = randT([1, Hkv, T, D], false);
      const fused = ops.contiguous(ops.attention(q, k, v, { window: W })).toArray();
      const [qa, ka, va] = [q.toArray(), k.toArray(), v.toArray()];
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / Hkv));
        for (let i = 0; i < T; i++) {
          const js: number[] = [];
          for (let j = Math.max(0, i - W + 1); j <= i; j++) js.push(j);
          const s = js.map((j) => {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += qa[(h * T + i) * D + d]! * ka[(kvh * T + j) * D + d]!;
            return dot / Math.sqrt(D);
          });
          const m = Math.max(...s);
          const e = s.map((x) => Math.exp(x - m));
          const z = e.reduce((x, y) => x + y, 0);
          for (let d = 0; d < D; d++) {
            const want = js.reduce((acc, j, n) => acc + (e[n]! / z) * va[(kvh * T + j) * D + d]!, 0);
            const got = fused[(h * T + i) * D + d]!;
            assert.ok(Math.abs(got - want) < 1e-5, `h${h} out[${i},${d}] = ${got}, expected ${want}`);
          }
        }
      }
      // The last rows over the full (cached) keys equal the full pass: the window, not the cache, masks.
      for (const tq of [1, 4]) {
        const last = ops.contiguous(ops.attention(ops.slice(q, 2, T - tq, T), k, v, { window: W })).toArray();
        for (let h = 0; h < H; h++) {
          for (let t = 0; t < tq; t++) {
            for (let d = 0; d < D; d++) {
              const a = last[(h * tq + t) * D + d]!;
              const b = fused[(h * T + T - tq + t) * D + d]!;
              assert.ok(Math.abs(a - b) < 1e-6, `tq ${tq} h${h} t${t} d${d}: ${a} vs ${b}`);
            }
          }
        }
      }
      // A window as wide as the sequence changes nothing.
      const plain = ops.contiguous(ops.attention(q, k, v)).toArray();
      const wide = ops.contiguous(ops.attention(q, k, v, { window: T })).toArray();
      for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(plain[i]! - wide[i]!) < 1e-6, `window ${T} [${i}]: ${wide[i]} vs ${plain[i]}`);
      assert.throws(() => ops.attention(q, k, v, { window: -1 }), /attention: window -1 must be a non-negative integer \(0 for no window\)/);
      assert.throws(() => ops.attention(q, k, v, { window: 2.5 }), /attention: window 2.5 must be a non-negative integer/);
      assert.throws(() => ops.attention(q, k, v, { window: 2, causal: false }), /a sliding window \(2\) needs causal attention/);
    });

    it('writeSlice writes a strided source into positions of a buffer in place (the KV cache write)', () => {
      const dst = randT([2, 3, 6, 4], false); // (B, H, maxT, D)
      const was = dst.toArray();
      const src = ops.permute(randT([2, 2, 3, 4], false), [0, 2, 1, 3]); // (B, H, 2, D), strided like a head view
      const sv = src.toArray();
      const version = writeVersion(dst.storage);
      ops.writeSlice(dst, 2, 3, src);
      assert.equal(writeVersion(dst.storage), version + 1, 'the write is recorded');
      const got = dst.toArray();
      for (let i = 0; i < got.length; i++) {
        const [b, h, t, d] = [Math.floor(i / 72), Math.floor(i / 24) % 3, Math.floor(i / 4) % 6, i % 4];
        const want = t >= 3 && t < 5 ? sv[((b * 3 + h) * 2 + t - 3) * 4 + d]! : was[i]!;
        assert.equal(got[i], want, `(${b}, ${h}, ${t}, ${d})`);
      }
      assert.throws(() => ops.writeSlice(dst, 2, 0, randT([2, 2, 2, 4], false)), /writeSlice: source \[2, 2, 2, 4\] must match the destination \[2, 3, 6, 4\] in every dimension but 2/);
      assert.throws(() => ops.writeSlice(dst, 2, 5, src), /writeSlice: positions \[5, 7\) do not fit dimension 2 of size 6/);
      assert.throws(() => ops.writeSlice(dst, 2, 1, ops.slice(dst, 2, 0, 2)), /overlaps the region/);
      const needsGrad = randT([2, 3, 1, 4]);
      assert.throws(() => ops.writeSlice(dst, 2, 0, needsGrad), /in place without recording a gradient, but the source requires one; call it inside noGrad\(\)/);
      noGrad(() => ops.writeSlice(dst, 2, 0, needsGrad));
      assert.deepEqual(ops.slice(dst, 2, 0, 1).toArray(), needsGrad.toArray());
    });

    it('non-causal attention (encoder, cross-attention) sees every key, with Tq != Tk', () => {
      const [B, H, D] = [2, 2, 4];
      check('cross-attention tq>tk', (q, k, v) => ops.attention(q!, k!, v!, { causal: false }), [randT([B, H, 5, D]), randT([B, H, 3, D]), randT([B, H, 3, D])]);
      check('cross-attention tq<tk', (q, k, v) => ops.attention(q!, k!, v!, { causal: false }), [randT([B, H, 2, D]), randT([B, H, 6, D]), randT([B, H, 6, D])]);
      // Against softmax(QKᵀ/√D) V computed directly, no mask.
      const q = randT([1, 1, 3, D], false);
      const k = randT([1, 1, 4, D], false);
      const v = randT([1, 1, 4, D], false);
      const out = ops.contiguous(ops.attention(q, k, v, { causal: false })).toArray();
      const [qa, ka, va] = [q.toArray(), k.toArray(), v.toArray()];
      for (let i = 0; i < 3; i++) {
        const s = [0, 1, 2, 3].map((j) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qa[i * D + d]! * ka[j * D + d]!;
          return dot / Math.sqrt(D);
        });
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) {
          const want = e.reduce((acc, w, j) => acc + (w / z) * va[j * D + d]!, 0);
          assert.ok(Math.abs(out[i * D + d]! - want) < 1e-5, `out[${i},${d}] = ${out[i * D + d]}, expected ${want}`);
        }
      }
    });

    it('cross-entropy with ignore-index', () => {
      const targets = empty(dev, [2, 3], 'int32').set([1, -100, 4, 0, 2, -100]);
      check('crossEntropy', (x) => ops.crossEntropy(x!, targets), [randT([2, 3, 5])]);
      const logits = randT([2, 3, 5], false);
      const l = ops.crossEntropy(logits, targets).item();
      const lv = logits.toArray();
      const tv = [1, -100, 4, 0, 2, -100];
      let s = 0;
      let n = 0;
      for (let r = 0; r < 6; r++) {
        if (tv[r] === -100) continue;
        const row = Array.from(lv.subarray(r * 5, r * 5 + 5));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
        s += lse - row[tv[r]!]!;
        n++;
      }
      assert.ok(Math.abs(l - s / n) < 1e-5, `loss ${l}, expected ${s / n}`);
    });

    it('dropout: seeded mask, scaling, gradient through the same mask', () => {
      const x = randT([1000], false);
      const a = ops.dropout(x, 0.25, 7).toArray();
      const b = ops.dropout(x, 0.25, 7).toArray();
      assert.deepEqual(a, b);
      const xv = x.toArray();
      let kept = 0;
      for (let i = 0; i < a.length; i++) {
        if (a[i] !== 0) {
          kept++;
          assert.ok(Math.abs(a[i]! - xv[i]! / 0.75) < 1e-6);
        }
      }
      assert.ok(kept > 690 && kept < 810, `kept ${kept} of 1000 at p=0.25`);
      check('dropout', (t) => ops.dropout(t!, 0.3, 99), [randT([33])]);
    });

    it('gradients accumulate across backward calls; noGrad records nothing', () => {
      const w = randT([3]);
      const f = (): Tensor => ops.sum(ops.mul(w, w));
      backward(f());
      const g1 = w.grad!.toArray();
      backward(f());
      const g2 = w.grad!.toArray();
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(g2[i]! - 2 * g1[i]!) < 1e-5);
      const y = noGrad(() => ops.mul(w, w));
      assert.equal(y.requiresGrad, false);
      assert.equal(y.gradFn, null);
    });

    it('bad input names the op and the shapes', () => {
      assert.throws(() => ops.matmul(randT([2, 3], false), randT([4, 5], false)), /matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/);
      assert.throws(() => ops.add(randT([2, 3], false), randT([4], false)), /add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
      assert.throws(() => ops.reshape(randT([2, 3], false), [4, 2]), /reshape: cannot reshape \[2, 3\]/);
      assert.throws(() => ops.embedding(randT([4, 2], false), idsT([3], 4).set([0, 4, 1])), /embedding: id 4 at position 1/);
      assert.throws(() => ops.crossEntropy(randT([2, 3], false), idsT([2], 3).set([0, 7])), /crossEntropy: target 7/);
      assert.throws(() => ops.layerNorm(randT([2, 3], false), randT([4], false), randT([4], false)), /layerNorm: gamma \[4\]/);
      assert.throws(() => ops.slice(randT([2, 3], false), 1, 2, 5), /slice: range \[2, 5\)/);
    });
  });
}
