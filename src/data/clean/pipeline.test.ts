import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveSource, sotuSource } from '../corpus.ts';
import { cleanCorpus, mergeCleanConfig, CLEAN_DOCUMENTS_FILE, CLEAN_REMOVED_FILE, CLEAN_REPORT_FILE, type CleanReport } from './pipeline.ts';
import { writeCleanReport } from './report.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-clean-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// Real prose (the first State of the Union speeches) so the quality filters see ordinary text.
let SPEECH_A = '';
let SPEECH_B = '';
let BODY = '';
before(async () => {
  const texts: string[] = [];
  for await (const d of sotuSource().documents()) {
    texts.push(d.text.trim());
    if (texts.length === 3) break;
  }
  SPEECH_A = texts[0]!;
  SPEECH_B = texts[1]!;
  BODY = texts[2]!.split(' ').slice(0, 120).join(' ');
});

function rows(file: string): Record<string, string>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, string>);
}

test('clean: filters, PII, exact and near dedup, removed file, report; the input is untouched', async () => {
  const input = path.join(dir, 'input.jsonl');
  const words = SPEECH_B.split(' ');
  const mirror = words.map((w, i) => (i % 97 === 50 ? 'indeed' : w)).join(' ');
  const email = [
    'From alice@example.com Mon Jun 24 17:49:21 2002',
    'Received: from mail.example.com ([193.120.211.219])',
    ' by mx.example.org with ESMTP',
    'Subject: minutes',
    '',
    `Dear members, ${BODY} Call me on (555) 123-4567 or write to alice@example.com with questions.`,
  ].join('\n');
  const docs = [
    { text: SPEECH_A, id: 'a' },
    { text: `Home | Speeches | Archive | Contact\n${SPEECH_B}\nCopyright 2021 Example. All rights reserved.`, id: 'b' },
    { text: SPEECH_A.replace(/ the /g, '  the '), id: 'a-copy' },
    { text: mirror, id: 'b-mirror' },
    { text: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit.', id: 'lorem' },
    { text: Array.from({ length: 30 }, () => 'Buy the best shoes now and get free shipping with all orders of fifty dollars.').join('\n'), id: 'spam' },
    { text: email, id: 'mail' },
  ];
  fs.writeFileSync(input, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const before = createHash('sha256').update(fs.readFileSync(input)).digest('hex');

  const out = path.join(dir, 'out');
  const progress: number[] = [];
  const report = await cleanCorpus({ sources: [resolveSource(input)], outDir: out, writeRemoved: true, onProgress: (p) => progress.push(p.documents) });
  assert.equal(createHash('sha256').update(fs.readFileSync(input)).digest('hex'), before, 'input unchanged');
  assert.equal(progress.at(-1), docs.length);

  const kept = rows(path.join(out, CLEAN_DOCUMENTS_FILE));
  assert.deepEqual(kept.map((d) => d['id']), ['input.jsonl:1', 'input.jsonl:2', 'input.jsonl:7']);
  assert.equal(kept[1]!['text'], SPEECH_B, 'menu and copyright lines removed');
  assert.ok(kept[2]!['text']!.startsWith('Dear members,'), 'mail headers removed');
  assert.match(kept[2]!['text']!, /Call me on <PHONE> or write to <EMAIL> with questions\.$/);

  const removed = rows(path.join(out, CLEAN_REMOVED_FILE));
  const why = Object.fromEntries(removed.map((r) => [r['id'], r['filter']]));
  assert.deepEqual(why, { 'input.jsonl:3': 'exactDedup', 'input.jsonl:4': 'nearDedup', 'input.jsonl:5': 'loremIpsum', 'input.jsonl:6': 'duplicateLines' });
  assert.equal(removed.find((r) => r['id'] === 'input.jsonl:3')!['duplicateOf'], 'input.jsonl:1');
  assert.equal(removed.find((r) => r['id'] === 'input.jsonl:4')!['duplicateOf'], 'input.jsonl:2');

  const st = (n: string) => report.stages.find((s) => s.name === n)!;
  assert.equal(report.input.documents, 7);
  assert.equal(report.output.documents, 3);
  assert.equal(st('exactDedup').documentsRemoved, 1);
  assert.equal(st('nearDedup').documentsRemoved, 1);
  assert.equal(st('navigation').linesRemoved, 1);
  assert.equal(st('boilerplate').linesRemoved, 1);
  assert.equal(st('mailHeaders').linesRemoved, 4);
  assert.deepEqual(report.pii, { email: 1, phone: 1, ip: 0 });
  assert.equal(st('loremIpsum').examples[0]!.id, 'input.jsonl:5');
  assert.ok(report.mbPerSecond > 0);
  const onDisk = JSON.parse(fs.readFileSync(path.join(out, CLEAN_REPORT_FILE), 'utf8')) as CleanReport;
  assert.equal(onDisk.output.documents, 3);
  assert.equal(onDisk.sources[0]!.sha256, before);

  // The output folder is a corpus source: its cleaned documents, not its report files.
  const src = resolveSource(out);
  const texts: string[] = [];
  for await (const d of src.documents()) texts.push(d.text);
  assert.deepEqual(texts, kept.map((d) => d['text']));

  const files = await writeCleanReport(out, report);
  for (const f of [files.markdown, files.chart.png, files.chart.html]) assert.ok(fs.statSync(f).size > 100, f);
  const md = fs.readFileSync(files.markdown, 'utf8');
  assert.match(md, /\| exactDedup \| dedup \| 1 \| 0 \|/);
  assert.match(md, /input\.jsonl:5/);
});

test('a config file can switch stages off', async () => {
  const input = path.join(dir, 'two.jsonl');
  fs.writeFileSync(input, [SPEECH_A, SPEECH_A].map((t, i) => JSON.stringify({ text: t, id: String(i) })).join('\n'));
  const out = path.join(dir, 'out2');
  const config = mergeCleanConfig({ dedup: { exact: { enabled: false }, near: { enabled: false } } });
  const r = await cleanCorpus({ sources: [resolveSource(input)], outDir: out, config });
  assert.equal(r.output.documents, 2);
  assert.equal(fs.existsSync(path.join(out, CLEAN_REMOVED_FILE)), false, 'no removed file unless asked');
});

test('bad configs and inputs are named in the error', async () => {
  assert.throws(() => mergeCleanConfig({ dedupe: {} }), /config key "dedupe" is not a setting; valid top-level keys: normalize, filters, pii, dedup/);
  assert.throws(() => mergeCleanConfig({ dedup: { near: { bands: '14' } } }), /dedup\.near\.bands must be a number/);
  assert.throws(() => mergeCleanConfig({ dedup: { near: { verifyThreshold: 2 } } }), /verifyThreshold must be in \[0, 1\]/);
  await assert.rejects(cleanCorpus({ sources: [], outDir: path.join(dir, 'x') }), /no input given/);
  const inside = path.join(dir, 'self');
  fs.mkdirSync(inside);
  fs.writeFileSync(path.join(inside, 'a.txt'), SPEECH_A);
  await assert.rejects(cleanCorpus({ sources: [resolveSource(inside)], outDir: inside }), /is inside the output folder/);
});
