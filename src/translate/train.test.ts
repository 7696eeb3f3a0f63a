// End to end on a synthetic language pair (English number and colour words → their German
// words, same order): `genlab train --task translate` learns it in a few seconds, and
// `genlab translate`, `genlab eval --task translate` and `genlab bleu` report what it learned.
// The commands run as child processes, exactly as a person would type them (one kernel thread:
// for a model this small, thread hand-offs cost more than they save).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { init } from '../backend/registry.ts';
import { loadTranslator } from './folder.ts';
import { corpusBleu } from './metrics.ts';
import type { Pair } from './pairs.ts';
import { syntheticTranslator } from './testing/fixtures.ts';
import { splitSentences, translateSentence, translateText } from './translate.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
function genlab(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `genlab ${args.join(' ')} failed:\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('translation end to end on a synthetic language pair', () => {
  let tmp: string;
  let data: string;
  let modelDir: string;
  let test: Pair[];
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-translate-'));
    // Data only: the first test trains through the CLI.
    ({ data, modelDir, test } = await syntheticTranslator(tmp));
    await init();
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('genlab train --task translate learns it', async () => {
    const { stderr } = genlab(['train', '--task', 'translate', '--pairs', path.join(data, 'train.tsv'), '--model', 'translate-tiny', '--steps', '500', '--batch-tokens', '256', '--eval-every', '250', '--dropout', '0.05', '--out', modelDir, '--seed', '3', '--threads', '1']);
    assert.match(stderr, /pairs: 2400 training, 100 validation/);
    const tm = await loadTranslator(modelDir);
    assert.equal(tm.model.config.sourceLang, 'en');
    assert.equal(tm.model.config.targetLang, 'de');
    const run = tm.runRecord as { complete: boolean; validation: { greedyBleu: number } };
    assert.equal(run.complete, true);
    const hyps = test.map((p) => translateSentence(tm, p.source, { beamSize: 4 }).translation);
    const bleu = corpusBleu(hyps, [test.map((p) => p.target)]).score;
    assert.ok(bleu > 60, `held-out BLEU ${bleu.toFixed(1)}: e.g. ${test[0]!.source} → ${hyps[0]}`);
    const greedy = test.map((p) => translateSentence(tm, p.source, { beamSize: 1 }).translation);
    assert.ok(corpusBleu(greedy, [test.map((p) => p.target)]).score > 50);
  });

  it('genlab translate, genlab eval --task translate and genlab bleu agree', async () => {
    const text = 'red cat.\ntwo blue dog.';
    const tm = await loadTranslator(modelDir);
    const direct = translateText(tm, text, { beamSize: 3 });
    assert.equal(direct.sentences.length, 2);
    const cli = JSON.parse(genlab(['translate', '--model', modelDir, '--text', text, '--beam', '3', '--json', '--threads', '1']).stdout) as { translation: string; sentences: unknown[] };
    assert.equal(cli.translation, direct.translation);
    assert.equal(genlab(['translate', '--model', modelDir, '--text', text, '--beam', '3', '--threads', '1']).stdout.trim(), direct.translation);

    const hypsFile = path.join(tmp, 'hyps.txt');
    const ev = JSON.parse(genlab(['eval', '--task', 'translate', '--model', modelDir, '--pairs', path.join(data, 'test.tsv'), '--beam', '2', '--json', '--hyps-out', hypsFile, '--threads', '1']).stdout) as { bleu: number; chrf: number; sentences: number; beam: number };
    assert.equal(ev.sentences, 100);
    assert.equal(ev.beam, 2);
    const hyps = (await readFile(hypsFile, 'utf8')).split('\n').slice(0, -1);
    const expected = corpusBleu(hyps, [test.map((p) => p.target)]).score;
    assert.ok(Math.abs(ev.bleu - expected) < 1e-9);
    const refsFile = path.join(tmp, 'refs.txt');
    await writeFile(refsFile, test.map((p) => p.target + '\n').join(''));
    const b = JSON.parse(genlab(['bleu', hypsFile, refsFile, '--json']).stdout) as { bleu: number; chrf: number };
    assert.deepEqual(b, { bleu: ev.bleu, chrf: ev.chrf });
    const record = JSON.parse(await readFile(path.join(modelDir, 'run.json'), 'utf8')) as { evaluations: Array<{ name: string; data: string; metrics: { bleu: number } }> };
    assert.equal(record.evaluations.find((e) => e.name === 'translation' && e.data === path.join(data, 'test.tsv'))?.metrics.bleu, ev.bleu, 'the evaluation is recorded with the model, next to the trainer\'s own on the validation pairs');
  });

  it('errors name the bad input and the fix', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), 'train', '--task', 'translate', '--out', path.join(tmp, 'x')], { cwd: ROOT, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--task translate needs --pairs FILE\.tsv/);
    const b = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), 'bleu', path.join(data, 'test.tsv'), path.join(data, 'train.tsv')], { cwd: ROOT, encoding: 'utf8' });
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /train\.tsv has 2400 lines but .*test\.tsv has 100; both need one sentence per line/);
  });
});

describe('sentence splitting', () => {
  it('splits paragraphs at sentence ends, not inside numbers or lower-case continuations', () => {
    assert.deepEqual(splitSentences('Four score and seven years ago. Now we are engaged! Is it 3.5 or e.g. more? "Yes," he said.\nNew line'), ['Four score and seven years ago.', 'Now we are engaged!', 'Is it 3.5 or e.g. more?', '"Yes," he said.', 'New line']);
  });
});
