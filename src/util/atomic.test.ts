import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AtomicFileWriter,
  AtomicFileWriterSync,
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
} from './atomic.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-atomic-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const temps = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

test('writeFileAtomic replaces the file and leaves no temp files', async () => {
  const f = path.join(dir, 'a.txt');
  fs.writeFileSync(f, 'old');
  await writeFileAtomic(f, 'new contents');
  assert.equal(fs.readFileSync(f, 'utf8'), 'new contents');
  writeFileAtomicSync(f, new Uint8Array([104, 105]));
  assert.equal(fs.readFileSync(f, 'utf8'), 'hi');
  // A view into a larger buffer writes only the view.
  const big = new Float32Array([1, 2, 3, 4]);
  await writeFileAtomic(f, big.subarray(1, 3));
  assert.deepEqual([...new Float32Array(new Uint8Array(fs.readFileSync(f)).buffer)], [2, 3]);
  assert.deepEqual(temps(), []);
});

test('writeJsonAtomic writes 2-space JSON with a trailing newline', async () => {
  const f = path.join(dir, 'c.json');
  await writeJsonAtomic(f, { b: 1, a: [1, 2] });
  assert.equal(fs.readFileSync(f, 'utf8'), '{\n  "b": 1,\n  "a": [\n    1,\n    2\n  ]\n}\n');
});

test('a missing folder gives an error naming the target and the fix; nothing is left behind', async () => {
  const f = path.join(dir, 'no-such-dir', 'x.bin');
  await assert.rejects(writeFileAtomic(f, 'x'), /could not write .*no-such-dir\/x\.bin.*destination folder does not exist/);
  assert.throws(() => writeFileAtomicSync(f, 'x'), /destination folder does not exist/);
});

test('abort keeps the old file and removes the temp file', async () => {
  const f = path.join(dir, 'keep.txt');
  fs.writeFileSync(f, 'original');
  const w = await AtomicFileWriter.open(f);
  await w.write('partial');
  assert.equal(temps().length, 1);
  await w.abort();
  assert.equal(fs.readFileSync(f, 'utf8'), 'original');
  assert.deepEqual(temps(), []);
  await assert.rejects(w.write('more'), /already closed/);
});

test('sync streaming writer with a header patched after the body', () => {
  const f = path.join(dir, 'patched.bin');
  const w = new AtomicFileWriterSync(f);
  w.write(new Uint8Array(4)); // placeholder header
  w.write(new Uint8Array([9, 8, 7]));
  assert.equal(fs.existsSync(f), false, 'target must not appear before commit');
  w.writeAt(new Uint8Array([1, 2, 3, 4]), 0);
  assert.equal(w.bytesWritten, 7);
  w.commit();
  assert.deepEqual([...fs.readFileSync(f)], [1, 2, 3, 4, 9, 8, 7]);
  assert.deepEqual(temps(), []);
  assert.throws(() => w.write('x'), /already closed/);
});

test('an exception between open and commit, handled by abort, leaves the old file intact', () => {
  const f = path.join(dir, 'crash.txt');
  fs.writeFileSync(f, 'v1');
  const w = new AtomicFileWriterSync(f);
  try {
    w.write('v2 partial');
    throw new Error('simulated failure');
  } catch {
    w.abort();
  }
  assert.equal(fs.readFileSync(f, 'utf8'), 'v1');
  assert.deepEqual(temps(), []);
});
