import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { init } from '../backend/registry.ts';
import { buildNoisyCorpus, NOISY_HELDOUT_FILE, NOISY_RAW_FILE, spamAssassinFiles } from '../data/clean/noisy.ts';
import { runCleanExperiment } from './clean-data.ts';

let dir: string;
before(async () => {
  await init({ threads: 2 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-noisy-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const rows = (file: string): { text: string; id: string; kind?: string }[] =>
  fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { text: string; id: string; kind?: string });

test('the noisy corpus mixes labelled noise into the speeches and never leaks held-out speeches', async () => {
  const out = path.join(dir, 'noisy');
  const m = await buildNoisyCorpus({ outDir: out, maxSpeeches: 40, emails: 30, boilerplatePages: 20, seed: 3 });
  const raw = rows(path.join(out, NOISY_RAW_FILE));
  assert.equal(raw.length, m.kinds.length);
  assert.deepEqual(raw.map((r) => r.kind), m.kinds);
  assert.equal(m.counts.email.documents, 30);
  assert.equal(m.counts['boilerplate-page'].documents, 20);
  assert.ok(m.counts['exact-duplicate'].documents > 0 && m.counts['near-duplicate'].documents > 0);
  const held = rows(path.join(out, NOISY_HELDOUT_FILE));
  assert.equal(held.length, m.heldOut.documents);
  assert.ok(held.length >= 1);
  // No training document derives from a held-out speech, and no held-out text appears in raw.
  const heldIds = new Set(held.map((h) => h.id));
  assert.ok(m.speeches.every((s) => s === null || !heldIds.has(s)));
  const rawText = raw.map((r) => r.text).join('\n');
  for (const h of held) assert.equal(rawText.includes(h.text.slice(200, 400)), false, `held-out ${h.id} leaked`);
  // Exact duplicates are byte-identical to their original.
  const byId = new Map(raw.map((r) => [r.id, r.text]));
  for (const r of raw.filter((x) => x.kind === 'exact-duplicate')) assert.equal(r.text, byId.get(r.id.replace(/~copy\d+$/, '')));
  const emails = raw.filter((r) => r.kind === 'email');
  assert.ok(emails.every((e) => /^(From |Return-Path:|Received:)/m.test(e.text)), 'e-mails keep their headers');
  assert.ok(spamAssassinFiles().files.length > 6000);
  // Same seed, same corpus.
  const again = await buildNoisyCorpus({ outDir: path.join(dir, 'noisy2'), maxSpeeches: 40, emails: 30, boilerplatePages: 20, seed: 3 });
  assert.deepEqual(again.kinds, m.kinds);
  assert.equal(fs.readFileSync(path.join(dir, 'noisy2', NOISY_RAW_FILE), 'utf8'), fs.readFileSync(path.join(out, NOISY_RAW_FILE), 'utf8'));
});

test('raw vs cleaned experiment (test-sized): same tokens, same held-out set, both arms recorded', async () => {
  const out = path.join(dir, 'exp');
  const r = await runCleanExperiment({ outDir: out, preset: 'tiny', tokens: 16 * 64 * 40, vocabSize: 300, noisy: { maxSpeeches: 30, emails: 60, boilerplatePages: 30 }, evalPoints: 2, quiet: true });
  const [raw, clean] = r.arms;
  assert.equal(raw!.arm, 'raw');
  assert.equal(clean!.arm, 'clean');
  assert.equal(raw!.tokens, clean!.tokens);
  assert.equal(raw!.steps, 40);
  assert.ok(clean!.trainTokensAvailable < raw!.trainTokensAvailable, 'cleaning removed tokens');
  for (const a of r.arms) {
    assert.ok(Number.isFinite(a.heldOutLoss) && a.heldOutLoss > 0 && a.heldOutLoss < Math.log(300) + 0.5);
    assert.ok(a.curve.length >= 2);
  }
  assert.equal(r.improvement, raw!.heldOutLoss - clean!.heldOutLoss);
  assert.ok(r.corpus.speeches.kept >= r.corpus.speeches.total - 1 && r.corpus.speeches.keptMoreThanOnce <= 1, JSON.stringify(r.corpus.speeches));
  assert.ok((r.corpus.cleanedKept['email'] ?? 0) < 60);
  assert.equal(r.corpus.cleanedKept['boilerplate-page'] ?? 0, 0);
  for (const f of ['experiment.json', 'experiment.md', 'experiment.png', 'clean/clean-report.md', 'clean/removed.jsonl']) assert.ok(fs.statSync(path.join(out, f)).size > 100, f);
});

test('tokensToReach interpolates where a falling curve first reaches a loss', async () => {
  const { tokensToReach } = await import('./clean-data.ts');
  const curve = [{ tokens: 100, loss: 4 }, { tokens: 200, loss: 3 }, { tokens: 300, loss: 2 }];
  assert.equal(tokensToReach(curve, 2.5), 250);
  assert.equal(tokensToReach(curve, 5), 100);
  assert.equal(tokensToReach(curve, 1), null);
});
