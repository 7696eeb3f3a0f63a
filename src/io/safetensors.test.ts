import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PYTHON, torchAvailable, torchEnv } from '../bench/peer.ts';
import {
  openSafetensors,
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSync,
  SafetensorsError,
  type TensorToWrite,
} from './safetensors.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-st-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Build a file by hand from a header object and data bytes (independent of the writer). */
function handMade(header: unknown, data: Uint8Array, headerLenOverride?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

describe('safetensors writer layout', () => {
  test('matches the reference implementation byte for byte (vectors from its own tests)', () => {
    // From huggingface/safetensors tensor.rs test_serialization.
    const a = serializeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]);
    const expectedA = [
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    assert.deepEqual([...a], expectedA);
    // test_serialization_forced_alignement: 7 spaces of padding.
    const b = serializeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]);
    const expectedB = [
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
      121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
      91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
      32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
      160, 64,
    ];
    assert.deepEqual([...b], expectedB);
    // test_empty, with and without metadata.
    assert.deepEqual([...serializeSafetensors([])], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    assert.deepEqual([...serializeSafetensors([], { framework: 'pt' })], [
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
      95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  test('orders tensors by descending dtype alignment, then name; offsets tile the data', () => {
    const bytes = serializeSafetensors([
      { name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(3) },
      { name: 'e', dtype: 'U8', shape: [5], data: new Uint8Array(5) },
      { name: 'c', dtype: 'BF16', shape: [2], data: new Float32Array(2) },
      { name: 'b', dtype: 'I64', shape: [1], data: new Int32Array(1) },
      { name: '10', dtype: 'F32', shape: [1], data: new Float32Array(1) },
      { name: '9', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    // Key order as written (a JSON.parse round trip would reorder integer-like keys).
    const order = [...text.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    assert.deepEqual(order, ['b', '10', '9', 'a', 'c', 'e']);
    const h = JSON.parse(text);
    assert.deepEqual(h.b.data_offsets, [0, 8]);
    assert.deepEqual(h['10'].data_offsets, [8, 12]);
    assert.deepEqual(h['9'].data_offsets, [12, 16]);
    assert.deepEqual(h.a.data_offsets, [16, 28]);
    assert.deepEqual(h.c.data_offsets, [28, 32]);
    assert.deepEqual(h.e.data_offsets, [32, 37]);
    assert.equal(bytes.byteLength, 8 + n + 37);
    assert.match(text, / *$/);
  });
});

describe('safetensors round trips', () => {
  test('F32/F16/BF16/F64/I32/I64/U8/I16 with metadata, through a file', async () => {
    const w = new Float32Array([0, 1, -2.5, 3.25, 1e-3, -65504, 7.5e6, Math.PI]);
    const ids = new Int32Array([0, -1, 2147483647, -2147483648]);
    const file = path.join(dir, 'round.safetensors');
    const tensors: TensorToWrite[] = [
      { name: 'h.0.attn.c_attn.weight', dtype: 'F32', shape: [2, 4], data: w },
      { name: 'half', dtype: 'F16', shape: [8], data: w },
      { name: 'brain', dtype: 'BF16', shape: [2, 2, 2], data: w },
      { name: 'double', dtype: 'F64', shape: [8], data: w },
      { name: 'ids32', dtype: 'I32', shape: [4], data: ids },
      { name: 'ids64', dtype: 'I64', shape: [2, 2], data: ids },
      { name: 'mask', dtype: 'U8', shape: [3], data: new Uint8Array([0, 1, 255]) },
      { name: 'short', dtype: 'I16', shape: [2], data: new Int16Array([-300, 300]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ];
    await writeSafetensors(file, tensors, { format: 'pt', note: 'ünïcode ✓' });
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    const r = openSafetensors(file);
    try {
      assert.deepEqual(r.metadata, { format: 'pt', note: 'ünïcode ✓' });
      assert.deepEqual(new Set(r.names), new Set(tensors.map((t) => t.name)));
      assert.deepEqual(r.info('brain').shape, [2, 2, 2]);
      assert.deepEqual(r.readF32('h.0.attn.c_attn.weight'), w);
      assert.deepEqual(r.readF32('double'), w);
      // Values exactly representable in half / bfloat16 survive; the others round.
      const half = r.readF32('half');
      assert.deepEqual([...half.subarray(0, 4)], [0, 1, -2.5, 3.25]);
      assert.equal(half[5], -65504);
      assert.equal(half[6], Infinity); // 7.5e6 overflows half
      assert.ok(Math.abs(half[4]! - 1e-3) < 1e-6);
      const bf = r.readF32('brain');
      assert.deepEqual([...bf.subarray(0, 4)], [0, 1, -2.5, 3.25]);
      assert.ok(Math.abs(bf[7]! - Math.PI) < 0.02);
      assert.deepEqual(r.readI32('ids32'), ids);
      assert.deepEqual(r.readI32('ids64'), ids);
      assert.deepEqual([...r.readI32('mask')], [0, 1, 255]);
      assert.deepEqual([...r.readI32('short')], [-300, 300]);
      assert.equal(r.readF32('empty').length, 0);
      // Into a bigger flat buffer at an offset.
      const flat = new Float32Array(12).fill(-1);
      r.readF32Into('h.0.attn.c_attn.weight', flat, 3);
      assert.deepEqual([...flat.subarray(3, 11)], [...w]);
      assert.equal(flat[2], -1);
      assert.equal(flat[11], -1);
      assert.throws(() => r.readF32Into('h.0.attn.c_attn.weight', flat, 6), /room for 6 elements/);
      assert.throws(() => r.readF32('ids32'), /not a floating-point type; use readI32/);
      assert.throws(() => r.readI32('half'), /not an integer type; use readF32/);
      assert.throws(() => r.info('wte.weight'), (e: unknown) => e instanceof SafetensorsError && e.tensor === 'wte.weight' && /no such tensor/.test(e.message));
    } finally {
      r.close();
    }
  });

  test('bfloat16 and half rounding: ties go to even, hand-computed cases', () => {
    const vals = new Float32Array([
      1 + 2 ** -8, // bf16: halfway between 1 and 1+2^-7 → 1 (even)
      1 + 3 * 2 ** -8, // halfway between 1+2^-7 and 1+2^-6 → 1+2^-6 (even)
      1 + 2 ** -8 + 2 ** -20, // just above halfway → up
      2 ** -24, // smallest half subnormal
      2 ** -25, // halfway between 0 and 2^-24 → 0
      1.5 * 2 ** -25, // above halfway → 2^-24
      65520, // halfway between 65504 and 65536(inf) → inf
      1 + 2 ** -11, // half: halfway between 1 and 1+2^-10 → 1
    ]);
    const r = parseSafetensors(serializeSafetensors([
      { name: 'b', dtype: 'BF16', shape: [8], data: vals },
      { name: 'h', dtype: 'F16', shape: [8], data: vals },
    ]));
    const b = r.readF32('b');
    assert.equal(b[0], 1);
    assert.equal(b[1], 1 + 2 ** -6);
    assert.equal(b[2], 1 + 2 ** -7);
    const h = r.readF32('h');
    assert.equal(h[3], 2 ** -24);
    assert.equal(h[4], 0);
    assert.equal(h[5], 2 ** -24);
    assert.equal(h[6], Infinity);
    assert.equal(h[7], 1);
  });

  test('raw bytes and native typed arrays; NaN survives conversion', () => {
    const nan = new Float32Array([NaN, -0]);
    const r = parseSafetensors(serializeSafetensors([
      { name: 'raw', dtype: 'F32', shape: [2], data: f32Bytes([1.5, -2]) },
      { name: 'bits', dtype: 'BF16', shape: [1], data: new Uint16Array([0x3fc0]) },
      { name: 'nan16', dtype: 'F16', shape: [2], data: nan },
      { name: 'nanbf', dtype: 'BF16', shape: [2], data: nan },
    ]));
    assert.deepEqual([...r.readF32('raw')], [1.5, -2]);
    assert.deepEqual([...r.readF32('bits')], [1.5]);
    assert.ok(Number.isNaN(r.readF32('nan16')[0]));
    assert.ok(Object.is(r.readF32('nan16')[1], -0));
    assert.ok(Number.isNaN(r.readF32('nanbf')[0]));
  });

  test('sync writer and writer input errors', () => {
    const file = path.join(dir, 'sync.safetensors');
    writeSafetensorsSync(file, [{ name: 'x', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]);
    const r = openSafetensors(file);
    assert.deepEqual([...r.readF32('x')], [1, 2]);
    r.close();
    const one = new Float32Array(1);
    assert.throws(() => serializeSafetensors([{ name: 'x', dtype: 'F32', shape: [2], data: one }]), /has 2 elements but data has 1/);
    assert.throws(() => serializeSafetensors([
      { name: 'x', dtype: 'F32', shape: [1], data: one },
      { name: 'x', dtype: 'F32', shape: [1], data: one },
    ]), /duplicate tensor name/);
    assert.throws(() => serializeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [1], data: one }]), /reserved/);
    assert.throws(() => serializeSafetensors([{ name: 'x', dtype: 'I32', shape: [1], data: one }]), /cannot store a Float32Array as dtype I32/);
    assert.throws(() => serializeSafetensors([], { n: 3 as unknown as string }), /must be a string/);
  });

  test('I64 values outside int32 are rejected on read, naming the element', () => {
    const big = new BigInt64Array([1n, 2n ** 40n]);
    const r = parseSafetensors(serializeSafetensors([{ name: 'pos', dtype: 'I64', shape: [2], data: big }]), 'big.st');
    assert.throws(() => r.readI32('pos'), /big\.st: tensor "pos": element 1 = 1099511627776 does not fit in int32/);
  });

  test('large tensor crosses the conversion chunk size', () => {
    const n = (1 << 20) + 37;
    const w = new Float32Array(n);
    // Integers of magnitude <= 256 are exact in bfloat16 (8 significant bits).
    for (let i = 0; i < n; i++) w[i] = (i % 513) - 256;
    const r = parseSafetensors(serializeSafetensors([{ name: 'w', dtype: 'BF16', shape: [n], data: w }]));
    assert.deepEqual(r.readF32('w'), w);
  });
});

describe('safetensors corrupt files', () => {
  const good = () => handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12));
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['empty file', () => new Uint8Array(0), /too small to hold the 8-byte header length/],
    ['5-byte file', () => new Uint8Array(5), /too small/],
    ['huge header length', () => handMade('{}', new Uint8Array(0), 2n ** 62n), /exceeds the 100000000-byte limit/],
    ['header length past the end', () => handMade('{}', new Uint8Array(0), 5000n), /runs past the end of the 10-byte file/],
    ['bad JSON', () => handMade('{"a": {"dtype": "F32", ', new Uint8Array(0)), /header is not valid JSON/],
    ['JSON array header', () => handMade('[1,2]', new Uint8Array(0)), /must be an object/],
    ['invalid UTF-8', () => handMade(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), new Uint8Array(0)), /(not valid UTF-8|not valid JSON)/],
    ['unknown dtype', () => handMade({ w: { dtype: 'F31', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "w": dtype "F31" is unknown/],
    ['sub-byte dtype', () => handMade({ w: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "w": dtype "F4" is a sub-byte format/],
    ['shape/offset size mismatch', () => handMade({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": shape \[3\] with dtype F32 needs 12 bytes but data_offsets \[0, 8\] span 8/],
    ['negative shape', () => handMade({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, new Uint8Array(0)), /tensor "w": shape \[-1\]/],
    ['reversed offsets', () => handMade({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /tensor "w": data_offsets \[4,0\] must be/],
    ['overlapping offsets', () => handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /tensor "b": data_offsets \[4, 8\] overlap tensor "a"/],
    ['gap between tensors', () => handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)), /tensor "b": .*leave a gap after byte 4/],
    ['offsets past the data (truncated)', () => good().subarray(0, good().byteLength - 3), /tensor "b": data_offsets \[8, 12\] run past the end of the data region \(9 bytes\): the file is truncated/],
    ['trailing bytes', () => handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(9)), /cover 4 bytes of data but the file holds 9: 5 trailing bytes/],
    ['non-string metadata', () => handMade({ __metadata__: { epoch: 3 } }, new Uint8Array(0)), /"__metadata__" value for key "epoch" must be a string/],
    ['shape overflow', () => handMade({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor "w": shape .* too many elements/],
  ];
  for (const [name, make, pattern] of cases) {
    test(name, () => {
      const file = path.join(dir, `bad-${name.replace(/\W+/g, '-')}.safetensors`);
      fs.writeFileSync(file, make());
      assert.throws(
        () => openSafetensors(file),
        (e: unknown) => e instanceof SafetensorsError && e.message.includes(file) && pattern.test(e.message),
      );
    });
  }

  test('the hand-made good file reads, so the corrupt cases fail for their stated reason', () => {
    const r = parseSafetensors(good());
    assert.deepEqual(r.names, ['a', 'b']);
    assert.deepEqual([...r.readI32('b')], [0]);
  });

  test('every truncation point of a valid file is rejected cleanly', () => {
    const full = serializeSafetensors([
      { name: 'w', dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      { name: 'b', dtype: 'BF16', shape: [2], data: new Float32Array([1, 2]) },
    ], { a: 'b' });
    for (let cut = 0; cut < full.byteLength; cut++) {
      assert.throws(() => parseSafetensors(full.subarray(0, cut), `cut${cut}`), SafetensorsError, `cut at ${cut}`);
    }
    assert.doesNotThrow(() => parseSafetensors(full));
  });

  test('missing file names the path and the fix', () => {
    assert.throws(() => openSafetensors(path.join(dir, 'nope.safetensors')), /nope\.safetensors: cannot open: .*no such file; check the path/);
  });
});

// ------------------------------------------------------------------ PyTorch cross-check


// An independent reader/writer in Python (struct + json + torch.frombuffer), since the
// `safetensors` package is not installed here.
const PY_SCRIPT = String.raw`
import json, struct, sys, torch
DT = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64,
      'I32': torch.int32, 'I64': torch.int64, 'U8': torch.uint8, 'I16': torch.int16}
def read(path):
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8+n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    out = {}
    for name, info in header.items():
        s, e = info['data_offsets']
        raw = bytearray(buf[8+n+s:8+n+e])
        t = torch.frombuffer(raw, dtype=DT[info['dtype']]) if len(raw) else torch.empty(0, dtype=DT[info['dtype']])
        out[name] = t.reshape(info['shape'])
    return meta, out
def write(path, tensors, meta):
    header = {'__metadata__': meta}
    off = 0
    blobs = []
    rev = {v: k for k, v in DT.items()}
    for name, t in tensors.items():
        b = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[name] = {'dtype': rev[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)
mode, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == 'check':
    meta, t = read(a)
    src = torch.tensor(json.loads(open(b).read())['w'], dtype=torch.float32)
    res = {
        'meta': meta,
        'f32': t['w32'].flatten().tolist(),
        'bf16_bits_equal': bool(torch.equal(t['wbf'].flatten().view(torch.int16), src.to(torch.bfloat16).view(torch.int16))),
        'f16_bits_equal': bool(torch.equal(t['wh'].flatten().view(torch.int16), src.to(torch.float16).view(torch.int16))),
        'i64': t['ids'].flatten().tolist(),
        'shape': list(t['wbf'].shape),
    }
    print(json.dumps(res))
else:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, generator=g) * 10
    tensors = {'x32': x, 'xbf': x.to(torch.bfloat16), 'xh': x.to(torch.float16),
               'n64': torch.tensor([[-5, 7], [2**31 - 1, -2**31]], dtype=torch.int64)}
    write(a, tensors, {'framework': 'pt'})
    print(json.dumps({'x32': x.flatten().tolist(), 'xbf': x.to(torch.bfloat16).float().flatten().tolist(),
                      'xh': x.to(torch.float16).float().flatten().tolist(), 'n64': tensors['n64'].flatten().tolist()}))
`;

describe('PyTorch cross-check', { skip: torchAvailable() ? false : 'torch not importable with /usr/bin/python3' }, () => {
  const runPy = (...args: string[]) => {
    const script = path.join(dir, 'st_check.py');
    fs.writeFileSync(script, PY_SCRIPT);
    const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', timeout: 120_000, env: torchEnv() });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  test('torch reads what we write, bit-identical bf16/f16 rounding', () => {
    const n = 257;
    const w = new Float32Array(n);
    // Values spread over many binades, including ties for bf16 rounding.
    for (let i = 0; i < n; i++) w[i] = Math.fround(Math.sin(i * 12.9898) * 43758.5453 % 97) * 2 ** ((i % 40) - 20);
    w[0] = 1 + 2 ** -8;
    w[1] = 1 + 3 * 2 ** -8;
    const file = path.join(dir, 'to-torch.safetensors');
    writeSafetensorsSync(file, [
      { name: 'w32', dtype: 'F32', shape: [n], data: w },
      { name: 'wbf', dtype: 'BF16', shape: [1, n], data: w },
      { name: 'wh', dtype: 'F16', shape: [n], data: w },
      { name: 'ids', dtype: 'I64', shape: [3], data: new Int32Array([-7, 0, 2147483647]) },
    ], { source: 'genlab' });
    const src = path.join(dir, 'src.json');
    fs.writeFileSync(src, JSON.stringify({ w: [...w] }));
    const res = runPy('check', file, src);
    assert.deepEqual(res.meta, { source: 'genlab' });
    assert.deepEqual(res.f32, [...w]);
    assert.equal(res.bf16_bits_equal, true);
    assert.equal(res.f16_bits_equal, true);
    assert.deepEqual(res.i64, [-7, 0, 2147483647]);
    assert.deepEqual(res.shape, [1, n]);
  });

  test('we read what torch writes', () => {
    const file = path.join(dir, 'from-torch.safetensors');
    const expected = runPy('write', file, '-');
    const r = openSafetensors(file);
    try {
      assert.deepEqual(r.metadata, { framework: 'pt' });
      assert.deepEqual(r.info('x32').shape, [3, 5]);
      assert.deepEqual([...r.readF32('x32')], expected.x32.map(Math.fround));
      assert.deepEqual([...r.readF32('xbf')], expected.xbf);
      assert.deepEqual([...r.readF32('xh')], expected.xh);
      assert.deepEqual([...r.readI32('n64')], expected.n64);
    } finally {
      r.close();
    }
  });
});
