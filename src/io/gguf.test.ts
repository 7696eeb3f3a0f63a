// The GGUF container and ggml's block formats, checked against their definitions: the header's
// bytes at known offsets, aligned tensor data, Q8_0 blocks computed by hand (ties away from zero,
// the f16 scale), Q4_0 blocks assembled nibble by nibble, and files that lie about their contents.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeGgml, encodeGgml, quantizeQ8_0 } from './ggml-quants.ts';
import { gguf, GgufError, openGguf, writeGguf } from './gguf.ts';
import { f16BitsToF32, f32ToF16Bits } from './half.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'genlab-gguf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('GGUF container', () => {
  it('writes the v3 layout (magic, counts, typed metadata, reversed dims, aligned data) and reads it back', async () => {
    const file = path.join(dir, 'a.gguf');
    const m = new Float32Array([1, 2, 3, 4, 5, 6]);
    await writeGguf(
      file,
      [
        ['general.architecture', gguf.str('gpt2')],
        ['x.count', gguf.u32(7)],
        ['x.eps', gguf.f32(1e-5)],
        ['x.flag', gguf.bool(true)],
        ['x.names', gguf.strings(['a', 'ü', ''])],
        ['x.ids', gguf.i32s([-1, 2])],
        ['x.big', { type: 'u64', value: 2n ** 40n }],
      ],
      [
        { name: 'm', shape: [2, 3], type: 'F32', data: () => encodeGgml('F32', m) },
        { name: 'h', shape: [3], type: 'F16', data: () => encodeGgml('F16', new Float32Array([0.5, -2, 65504])) },
      ],
    );
    const bytes = readFileSync(file);
    assert.equal(bytes.toString('latin1', 0, 4), 'GGUF');
    assert.equal(bytes.readUInt32LE(4), 3);
    assert.equal(bytes.readBigUInt64LE(8), 2n); // tensors
    assert.equal(bytes.readBigUInt64LE(16), 7n); // key-value pairs
    assert.equal(bytes.readBigUInt64LE(24), 20n); // length of 'general.architecture'
    assert.equal(bytes.toString('utf8', 32, 52), 'general.architecture');
    assert.equal(bytes.readUInt32LE(52), 8); // GGUF_TYPE_STRING
    const r = openGguf(file);
    try {
      assert.equal(r.version, 3);
      assert.deepEqual(r.get('x.count'), { type: 'u32', value: 7 });
      assert.equal(r.get('x.eps')!.value, Math.fround(1e-5));
      assert.deepEqual(r.get('x.flag'), { type: 'bool', value: true });
      assert.deepEqual(r.get('x.names'), { type: 'array', itemType: 'string', value: ['a', 'ü', ''] });
      assert.deepEqual(r.get('x.ids'), { type: 'array', itemType: 'i32', value: [-1, 2] });
      assert.deepEqual(r.get('x.big'), { type: 'u64', value: 2n ** 40n });
      const t = r.info('m');
      assert.deepEqual(t.shape, [2, 3]);
      assert.equal(t.offset % 32, 0);
      assert.deepEqual(Array.from(r.readF32('m')), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(Array.from(r.readF32('h')), [0.5, -2, 65504]);
      assert.equal(r.info('h').offset % 32, 0);
      assert.equal(r.info('h').offset - r.info('m').offset, 32, 'the second tensor starts at the next multiple of 32');
    } finally {
      r.close();
    }
  });

  it('stores ne innermost first: a (2, 3) tensor is written as ne = [3, 2]', async () => {
    const file = path.join(dir, 'ne.gguf');
    await writeGguf(file, [], [{ name: 'w', shape: [2, 3], type: 'F32', data: () => new Uint8Array(24) }]);
    const b = readFileSync(file);
    // Header: 24 bytes, then name (8 + 1), n_dims (4), ne[0], ne[1] (8 each), type (4), offset (8).
    assert.equal(b.readUInt32LE(24 + 9), 2);
    assert.equal(b.readBigUInt64LE(24 + 13), 3n);
    assert.equal(b.readBigUInt64LE(24 + 21), 2n);
    assert.equal(b.readUInt32LE(24 + 29), 0); // GGML_TYPE_F32
  });

  it('refuses files that are not GGUF, are truncated, or place tensors outside the file', async () => {
    const bad = path.join(dir, 'bad.gguf');
    writeFileSync(bad, Buffer.from('GGML then some bytes that are not a model, long enough'));
    assert.throws(() => openGguf(bad), (e: Error) => e instanceof GgufError && /does not start with "GGUF"/.test(e.message));
    const good = path.join(dir, 'good.gguf');
    await writeGguf(good, [['k', gguf.strings(['x', 'y'])]], [{ name: 't', shape: [64], type: 'F32', data: () => new Uint8Array(256) }]);
    const full = readFileSync(good);
    writeFileSync(bad, full.subarray(0, full.length - 100));
    assert.throws(() => openGguf(bad), /tensor "t": its 256 bytes at offset \d+ run past the end of the file/);
    writeFileSync(bad, full.subarray(0, 40));
    assert.throws(() => openGguf(bad), /runs past the end of the file/);
    const huge = Buffer.from(full);
    huge.writeBigUInt64LE(10n ** 12n, 16); // key-value count
    writeFileSync(bad, huge);
    assert.throws(() => openGguf(bad), /claims 1000000000000 metadata entries/);
    // Header 24 bytes, key-value 43 bytes, then the tensor's name (9), n_dims (4), ne[0] (8), type.
    const wrongType = Buffer.from(full);
    assert.equal(wrongType.readUInt32LE(24 + 43 + 21), 0);
    wrongType.writeUInt32LE(99, 24 + 43 + 21);
    writeFileSync(bad, wrongType);
    assert.throws(() => openGguf(bad), /tensor "t": has ggml type 99, which genlab does not know/);
  });

  it('refuses a quantized tensor whose rows are not whole blocks', async () => {
    await assert.rejects(writeGguf(path.join(dir, 'q.gguf'), [], [{ name: 'q', shape: [2, 24], type: 'Q8_0', data: () => new Uint8Array(0) }]), /multiple of 32 values, got rows of 24/);
  });
});

describe('ggml block formats', () => {
  it('Q8_0: d = max|x|/127 as f16, q = round(x/d) with halves away from zero', () => {
    // max |x| = 127 → d = 1, so q = round(x): ties at ±0.5 and ±2.5 go away from zero.
    const x = new Float32Array(32);
    x.set([127, -0.5, 0.5, 2.5, -2.5, 1.49, -126.6, 0]);
    const b = quantizeQ8_0(x);
    assert.equal(b.length, 34);
    const view = new DataView(b.buffer);
    assert.equal(view.getUint16(0, true), f32ToF16Bits(1));
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((j) => view.getInt8(2 + j)), [127, -1, 1, 3, -3, 1, -127, 0]);
    // A block's scale that f16 cannot hold exactly: values decode as q · f16(d).
    const y = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.37);
    const q = quantizeQ8_0(y);
    const d0 = f16BitsToF32(new DataView(q.buffer).getUint16(0, true));
    assert.equal(d0, f16BitsToF32(f32ToF16Bits(Math.fround(Math.max(...y.subarray(0, 32).map(Math.abs)) / 127))));
    const back = decodeGgml('Q8_0', q, 64);
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(back[i]! - y[i]!) <= 0.6 * (0.37 / 127), `value ${i}`);
    assert.equal(back[3], new DataView(q.buffer).getInt8(2 + 3) * d0);
  });

  it('Q4_0: x[j] = (low nibble of byte j − 8)·d, x[j+16] = (high nibble − 8)·d', () => {
    const d = 0.25;
    const block = new Uint8Array(18);
    new DataView(block.buffer).setUint16(0, f32ToF16Bits(d), true);
    const expected = new Float32Array(32);
    for (let j = 0; j < 16; j++) {
      const lo = j; // 0..15 → −8..7
      const hi = 15 - j;
      block[2 + j] = lo | (hi << 4);
      expected[j] = (lo - 8) * d;
      expected[j + 16] = (hi - 8) * d;
    }
    assert.deepEqual(Array.from(decodeGgml('Q4_0', block, 32)), Array.from(expected));
  });

  it('F16 and BF16 round to nearest even', () => {
    const x = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    assert.deepEqual(Array.from(decodeGgml('F16', encodeGgml('F16', x), 4)), [1, 1 + 2 ** -9, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    assert.deepEqual(Array.from(decodeGgml('BF16', encodeGgml('BF16', x), 4)), [1, 1, 1, 1 + 2 ** -6]);
  });

  it('names the types it cannot read and how to get one it can', () => {
    assert.throws(() => decodeGgml('Q4_K', new Uint8Array(144), 256), /cannot read Q4_K tensors.*llama-quantize/);
  });
});
