import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadTokenizer } from './files.ts';
import { rng, sotuTexts } from './testing/fixtures.ts';
import { referenceTrain } from './testing/reference.ts';
import { tokenizerTrainCommand } from './train-command.ts';
import { countWords, trainBpe, trainBpeFromCounts, type TrainProgress } from './train.ts';
import { ByteLevelTokenizer, type Tokenizer } from './tokenizer.ts';

const texts = sotuTexts(6);
const train = texts.slice(0, 5);
const heldOut = texts[5]!;

function mergeStrings(tok: Tokenizer): string[] {
  assert.ok(tok instanceof ByteLevelTokenizer);
  return tok.merges.map(([a, b]) => `${tok.idToToken(a)} ${tok.idToToken(b)}`);
}

test('trains to the requested vocabulary size with <|endoftext|> last', async () => {
  const events: TrainProgress[] = [];
  const tok = await trainBpe(train, { vocabSize: 1000, onProgress: (p) => events.push({ ...p }) });
  assert.equal(tok.vocabSize, 1000);
  assert.equal(tok.merges.length, 1000 - 256 - 1);
  assert.equal(tok.eotId, 999);
  assert.deepEqual([...tok.specialTokens], [['<|endoftext|>', 999]]);
  for (let b = 0; b < 256; b++) assert.deepEqual([...tok.tokenBytes(b)], [b], 'ids 0..255 are the bytes');
  // the first merge is the most frequent pair in these speeches; check it by brute force
  const counts = await countWords(train);
  const pairCounts = new Map<string, number>();
  for (const [w, f] of counts) {
    const bytes = new TextEncoder().encode(w);
    for (let i = 0; i + 1 < bytes.length; i++) pairCounts.set(`${bytes[i]},${bytes[i + 1]}`, (pairCounts.get(`${bytes[i]},${bytes[i + 1]}`) ?? 0) + f);
  }
  const top = [...pairCounts].sort((x, y) => y[1] - x[1])[0]![0];
  assert.equal(tok.merges[0]!.join(','), top);
  // progress: counting, then merges rising to the target, then done
  assert.equal(events[0]!.phase, 'count');
  assert.equal(events.at(-1)!.phase, 'done');
  assert.equal(events.at(-1)!.merges, 743);
  const countEnd = events.filter((e) => e.phase === 'count').at(-1)!;
  assert.equal(countEnd.chars, train.reduce((s, t) => s + t.length, 0));
  assert.equal(countEnd.texts, 5);
  const mergeCounts = events.filter((e) => e.phase !== 'count').map((e) => e.merges);
  assert.deepEqual(mergeCounts, [...mergeCounts].sort((a, b) => a - b));
  assert.ok(mergeCounts.length > 10);

  // held-out text: exact round trip and real compression
  const ids = tok.encode(heldOut);
  assert.equal(tok.decode(ids), heldOut);
  const bytes = new TextEncoder().encode(heldOut).length;
  assert.ok(ids.length < bytes / 2.5, `${ids.length} tokens for ${bytes} bytes`);
});

test('incremental training equals naive recount-every-merge training (SOTU)', async () => {
  const counts = await countWords(train.slice(0, 2));
  const tok = trainBpeFromCounts(counts, { vocabSize: 700 });
  assert.deepEqual(mergeStrings(tok), referenceTrain(counts, 699, 2));
});

test('incremental training equals naive training on random small-alphabet words (overlaps, ties)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const alphabet = 'abcd'.slice(0, 2 + (seed % 3));
    const counts = new Map<string, number>();
    const nWords = 5 + Math.floor(rand() * 30);
    for (let i = 0; i < nWords; i++) {
      let w = '';
      const len = 1 + Math.floor(rand() * 12);
      for (let k = 0; k < len; k++) w += alphabet[Math.floor(rand() * alphabet.length)];
      counts.set(w, (counts.get(w) ?? 0) + 1 + Math.floor(rand() * 5));
    }
    const minFrequency = 1 + (seed % 2);
    const tok = trainBpeFromCounts(counts, { vocabSize: 256 + 60 + 1, minFrequency });
    const ref = referenceTrain(counts, 256 + 60, minFrequency);
    assert.deepEqual(mergeStrings(tok), ref, `seed ${seed}`);
    for (const w of counts.keys()) assert.equal(tok.decode(tok.encode(w)), w);
  }
});

test('training is deterministic and accepts async iterables', async () => {
  const a = await trainBpe(train.slice(0, 2), { vocabSize: 500 });
  async function* gen(): AsyncGenerator<string> {
    for (const t of train.slice(0, 2)) yield t;
  }
  const b = await trainBpe(gen(), { vocabSize: 500 });
  assert.deepEqual(mergeStrings(a), mergeStrings(b));
});

test('minFrequency stops training early with a smaller vocabulary', async () => {
  const tok = await trainBpe(train.slice(0, 1), { vocabSize: 5000, minFrequency: 50 });
  assert.ok(tok.vocabSize < 5000, `vocab ${tok.vocabSize}`);
  assert.equal(tok.eotId, tok.vocabSize - 1);
  const counts = await countWords(train.slice(0, 1));
  assert.deepEqual(mergeStrings(tok), referenceTrain(counts, 4999, 50));
});

test('special tokens are cut out before counting and get the last ids', async () => {
  const counts = await countWords(['a<|endoftext|>b <|pad|>'], ['<|endoftext|>', '<|pad|>']);
  assert.deepEqual([...counts].sort(), [[' ', 1], ['a', 1], ['b', 1]]);
  const tok = await trainBpe(['hello hello <|pad|> world'], { vocabSize: 300, specialTokens: ['<|pad|>', '<|sep|>'] });
  assert.deepEqual([...tok.specialTokens], [['<|pad|>', tok.vocabSize - 2], ['<|sep|>', tok.vocabSize - 1]]);
  assert.equal(tok.eotId, tok.vocabSize - 2, 'without <|endoftext|>, eotId is the first special token');
  assert.ok(!tok.merges.some(([x, y]) => (tok.idToToken(x) + tok.idToToken(y)).includes('pad')));
});

test('bad training options are rejected with the reason', async () => {
  await assert.rejects(trainBpe(['x'], { vocabSize: 200 }), /vocabSize 200 is too small: byte-level BPE needs 256 byte tokens \+ 1 special token\(s\) = 257/);
  await assert.rejects(trainBpe(['x'], { vocabSize: 300, minFrequency: 0 }), /minFrequency 0 must be at least 1/);
  await assert.rejects(trainBpe(['x'], { vocabSize: 300, specialTokens: ['a', 'a'] }), /must be distinct/);
});

test('tokenizerTrainCommand reads files and folders, trains and saves both formats', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genlab-tok-'));
  try {
    await mkdir(join(dir, 'corpus', 'sub'), { recursive: true });
    await writeFile(join(dir, 'corpus', 'a.txt'), train[0]!);
    await writeFile(join(dir, 'corpus', 'sub', 'b.txt'), train[1]!);
    await writeFile(join(dir, 'corpus', 'ignored.json'), '{"not": "text"}');
    await writeFile(join(dir, 'single.md'), train[2]!);
    const out = join(dir, 'tok');
    const res = await tokenizerTrainCommand([join(dir, 'corpus'), join(dir, 'single.md')], { vocabSize: 400, out, quiet: true });
    assert.deepEqual(res.inputFiles.map((f) => f.slice(dir.length + 1)), ['corpus/a.txt', 'corpus/sub/b.txt', 'single.md']);
    assert.equal(res.tokenizer.vocabSize, 400);
    const expected = await trainBpe(train.slice(0, 3), { vocabSize: 400 });
    assert.deepEqual(mergeStrings(res.tokenizer), mergeStrings(expected));
    assert.deepEqual((await readdir(out)).sort(), ['merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
    for (const prefer of ['tokenizer.json', 'vocab+merges'] as const) {
      const loaded = await loadTokenizer(out, { prefer });
      assert.deepEqual(mergeStrings(loaded), mergeStrings(res.tokenizer));
    }
    await assert.rejects(tokenizerTrainCommand([join(dir, 'nope')], { vocabSize: 300, out, quiet: true }), /input .*nope does not exist/);
    await mkdir(join(dir, 'empty'));
    await assert.rejects(tokenizerTrainCommand([join(dir, 'empty')], { vocabSize: 300, out, quiet: true }), /folder .*empty has no \.txt files/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
