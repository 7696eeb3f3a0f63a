import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PYTHON } from '../bench/peer.ts';
import { ShardWriter, ShardReader, ShardSet, ShardError, readShardHeader, SHARD_HEADER_BYTES } from './shards.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-shards-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function sub(name: string): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  return d;
}

/** An llm.c-style file written by hand: only magic, version and count set. */
function llmcFile(file: string, magic: number, version: number, tokens: number[], bpt: 2 | 4, extra?: (h: Int32Array) => void): void {
  const header = new Int32Array(256);
  header[0] = magic;
  header[1] = version;
  header[2] = tokens.length;
  extra?.(header);
  const body = bpt === 2 ? new Uint16Array(tokens) : new Uint32Array(tokens);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(header.buffer), Buffer.from(body.buffer)]));
}

test('uint16 shards roll at shardTokens and read back exactly, across shard boundaries', () => {
  const d = sub('u16');
  const w = new ShardWriter({ dir: d, prefix: 'train', vocabSize: 50257, shardTokens: 1000 });
  const all: number[] = [];
  let x = 12345;
  for (let doc = 0; doc < 80; doc++) {
    const ids: number[] = [];
    const len = 1 + (doc * 97) % 150;
    for (let i = 0; i < len; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      ids.push(x % 50257);
    }
    w.append(ids);
    all.push(...ids);
  }
  const files = w.finish();
  assert.ok(all.length > 3001 && all.length % 1000 !== 0, 'test data must span 4+ shards, the last partial');
  const expectedShards = Math.ceil(all.length / 1000);
  assert.equal(files.length, expectedShards);
  assert.deepEqual(files.map((f) => f.file), Array.from({ length: expectedShards }, (_, i) => `train_${String(i).padStart(6, '0')}.bin`));
  assert.deepEqual(files.map((f) => f.tokens), Array.from({ length: expectedShards }, (_, i) => Math.min(1000, all.length - i * 1000)));
  assert.deepEqual(fs.readdirSync(d).filter((f) => f.endsWith('.tmp')), []);

  // Header fields, read independently of the reader.
  const raw = fs.readFileSync(files[0]!.path);
  const h = new Int32Array(raw.buffer, raw.byteOffset, 256);
  assert.deepEqual([...h.subarray(0, 5)], [20240520, 1, 1000, 2, 50257]);
  assert.equal(raw.byteLength, SHARD_HEADER_BYTES + 2000);
  assert.deepEqual([...new Uint16Array(raw.buffer, raw.byteOffset + 1024, 5)], all.slice(0, 5));

  const set = ShardSet.open(files.map((f) => f.path), { vocabSize: 50257 });
  assert.equal(set.tokenCount, all.length);
  assert.deepEqual([...set.read(0, all.length)], all);
  assert.deepEqual([...set.read(990, 25)], all.slice(990, 1015)); // spans shards 0 and 1
  assert.deepEqual([...set.read(1999, 1002)], all.slice(1999, 3001)); // spans three shards
  const out = new Int32Array(10).fill(-1);
  set.read(5, 3, out, 4);
  assert.deepEqual([...out], [-1, -1, -1, -1, ...all.slice(5, 8), -1, -1, -1]);
  assert.throws(() => set.read(all.length - 2, 3), /outside the \d+ tokens of \d+ shard/);
  set.close();
});

test('uint32 shards for vocabularies above 65536', () => {
  const d = sub('u32');
  const w = new ShardWriter({ dir: d, prefix: 'val', vocabSize: 100_000 });
  w.append([0, 65535, 65536, 99_999]);
  const [f] = w.finish();
  const r = ShardReader.open(f!.path);
  assert.equal(r.header.bytesPerToken, 4);
  assert.equal(r.header.magic, 20240801);
  assert.equal(r.header.version, 7);
  assert.deepEqual([...r.read(0, 4)], [0, 65535, 65536, 99_999]);
  r.validate();
  r.close();
  assert.throws(() => new ShardWriter({ dir: d, prefix: 'x', vocabSize: 100_000, bytesPerToken: 2 }), /does not fit uint16/);
});

test('reads llm.c files (no bytes-per-token or vocab in the header)', () => {
  const f = path.join(dir, 'llmc_train_000000.bin');
  llmcFile(f, 20240520, 1, [50256, 464, 3290], 2);
  const r = ShardReader.open(f, { vocabSize: 50257 });
  assert.equal(r.header.vocabSize, null);
  assert.deepEqual([...r.read(0, 3)], [50256, 464, 3290]);
  r.close();
});

test('appending a bad id throws before writing any of that batch', () => {
  const d = sub('badid');
  const w = new ShardWriter({ dir: d, prefix: 'train', vocabSize: 10 });
  w.append([1, 2, 3]);
  assert.throws(() => w.append([4, 10, 5]), /token id 10 at index 1 is not an integer in \[0, 10\)/);
  assert.throws(() => w.append([1.5]), /token id 1.5/);
  const files = w.finish();
  assert.equal(files[0]!.tokens, 3);
  assert.throws(() => w.append([1]), /already finished/);
});

test('finish with no tokens writes nothing; abort removes the shard in progress', () => {
  const d = sub('empty');
  assert.deepEqual(new ShardWriter({ dir: d, prefix: 'val', vocabSize: 10 }).finish(), []);
  const w = new ShardWriter({ dir: d, prefix: 'train', vocabSize: 10 });
  w.append([1, 2, 3]);
  w.abort();
  assert.deepEqual(fs.readdirSync(d), []);
});

test('corrupt shards give clear errors', () => {
  const cases: [string, (f: string) => void, RegExp][] = [
    ['bad magic', (f) => llmcFile(f, 12345, 1, [1, 2], 2), /bad magic number 12345 \(expected 20240520 or 20240801\)/],
    ['bad version', (f) => llmcFile(f, 20240520, 3, [1, 2], 2), /unsupported version 3 for magic 20240520 \(expected 1\)/],
    ['short file', (f) => fs.writeFileSync(f, new Uint8Array(100)), /only 100 bytes, shorter than the 1024-byte header/],
    ['truncated', (f) => {
      llmcFile(f, 20240520, 1, [1, 2, 3, 4], 2);
      fs.truncateSync(f, 1024 + 5);
    }, /truncated: header promises 4 tokens \(1032 bytes\) but the file has 1029 bytes/],
    ['trailing bytes', (f) => {
      llmcFile(f, 20240520, 1, [1, 2], 2);
      fs.appendFileSync(f, new Uint8Array(3));
    }, /3 unexpected bytes after the 2 tokens/],
    ['bytes-per-token mismatch', (f) => llmcFile(f, 20240520, 1, [1], 2, (h) => { h[3] = 4; }), /header says 4 bytes per token but magic 20240520 means 2/],
  ];
  for (const [name, make, pattern] of cases) {
    const f = path.join(dir, `bad-${name.replace(/\W+/g, '-')}.bin`);
    make(f);
    assert.throws(() => ShardReader.open(f), (e: unknown) => e instanceof ShardError && e.message.includes(f) && pattern.test(e.message), name);
  }
});

test('tokens beyond the vocab and vocab mismatches are caught', () => {
  const f = path.join(dir, 'vocab.bin');
  llmcFile(f, 20240520, 1, [1, 2, 300, 4], 2, (h) => { h[3] = 2; h[4] = 256; });
  assert.throws(() => ShardReader.open(f, { vocabSize: 512 }), /was written for vocab size 256 but the tokenizer has 512/);
  const r = ShardReader.open(f);
  assert.deepEqual([...r.read(0, 2)], [1, 2]);
  assert.throws(() => r.read(1, 3), /token 300 at position 2 is >= vocab size 256; the shard was made with a different tokenizer/);
  assert.throws(() => r.validate(), /token 300 at position 2/);
  assert.throws(() => r.read(3, 2), /outside the shard's 4 tokens/);
  r.close();
  assert.equal(readShardHeader(f).tokenCount, 4);
});

const numpyOk = spawnSync(PYTHON, ['-c', 'import numpy'], { timeout: 60_000 }).status === 0;

test('numpy reads our shards the way llm.c\'s loader does', { skip: numpyOk ? false : 'numpy not available to /usr/bin/python3 (apt-get install python3-numpy)' }, () => {
  const d = sub('numpy');
  const w = new ShardWriter({ dir: d, prefix: 'train', vocabSize: 50257 });
  const ids = [50256, 15496, 995, 0, 50255];
  w.append(ids);
  const [f] = w.finish();
  const py = `
import numpy as np, sys, json
with open(sys.argv[1], 'rb') as fh:
    header = np.frombuffer(fh.read(256 * 4), dtype=np.int32)
    assert header[0] == 20240520 and header[1] == 1
    toks = np.frombuffer(fh.read(), dtype=np.uint16)
    assert len(toks) == header[2]
print(json.dumps(toks.tolist()))`;
  const r = spawnSync(PYTHON, ['-c', py, f!.path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ids);
});
