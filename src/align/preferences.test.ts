import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FeedbackStore } from '../serve/feedback-store.ts';
import { sotuTexts } from '../serve/testing/fixtures.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { IGNORE_INDEX, pairBatch, readPreferences, splitPairs, tokenizePairs } from './preferences.ts';

describe('preference data', () => {
  let dir: string;
  let tok: Tokenizer;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-prefs-'));
    tok = await trainBpe(sotuTexts(2), { vocabSize: 300 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads the JSONL export and names the line of a bad record', async () => {
    const file = path.join(dir, 'p.jsonl');
    await writeFile(file, '{"prompt":"a","chosen":" b","rejected":" c"}\n\n{"prompt":"d","chosen":" e","rejected":" f"}\n');
    assert.deepEqual(await readPreferences(file), [
      { prompt: 'a', chosen: ' b', rejected: ' c', source: `${file}:1` },
      { prompt: 'd', chosen: ' e', rejected: ' f', source: `${file}:3` },
    ]);
    await writeFile(file, '{"prompt":"a","chosen":" b","rejected":" c"}\n{"prompt":"a","chosen":3,"rejected":" c"}\n');
    await assert.rejects(readPreferences(file), new RegExp(`${file.replace(/[.\\]/g, '\\$&')}:2: "chosen" must be a string, got 3`));
    await writeFile(file, '{"prompt":"a",\n');
    await assert.rejects(readPreferences(file), /p\.jsonl:1: not valid JSON/);
    await writeFile(file, '\n');
    await assert.rejects(readPreferences(file), /holds no preference pairs; collect some in the app/);
    await assert.rejects(readPreferences(path.join(dir, 'missing.jsonl')), /cannot read preference data .*missing\.jsonl/);
  });

  it("reads the app's SQLite database directly, with the export's pairs", async () => {
    const db = path.join(dir, 'feedback.sqlite');
    const store = new FeedbackStore(db);
    store.add({ kind: 'preference', prompt: 'The Congress', chosen: ' shall', rejected: ' may', model: 'm' });
    store.add({ kind: 'rating', prompt: 'We', completion: ' the people', rating: 'up' });
    store.add({ kind: 'rating', prompt: 'We', completion: ' xx', rating: 'down' });
    const exported = [...store.pairs({ ratings: true })];
    store.close();
    const read = await readPreferences(db);
    assert.deepEqual(read.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })), exported);
    assert.equal(read.length, 2);
    assert.match(read[1]!.source, /feedback\.sqlite#rating \d+/);
    assert.equal((await readPreferences(db, { ratings: false })).length, 1);
  });

  it('tokenizes prompt and completions separately; masks all but completion tokens', () => {
    const [p] = tokenizePairs([{ prompt: 'The Congress ', chosen: 'shall act', rejected: 'may wait', source: 's' }], tok, { maxLength: 64 });
    // The prompt's trailing space moves to the completions, as the app joins suggestions.
    assert.deepEqual(p!.prompt, tok.encode('The Congress'));
    assert.deepEqual(p!.chosen, tok.encode(' shall act'));
    const b = pairBatch([p!], tok.eotId!);
    const row = (r: number): number[] => Array.from(b.targets.subarray(r * b.width, (r + 1) * b.width));
    const scored = row(0).filter((t) => t !== IGNORE_INDEX);
    assert.deepEqual(scored, p!.chosen);
    assert.deepEqual(b.counts, [p!.chosen.length, p!.rejected.length]);
    // Inputs are the sequence without its last token; targets are shifted by one.
    const seq = [...p!.prompt, ...p!.chosen];
    assert.deepEqual(Array.from(b.ids.subarray(0, seq.length - 1)), seq.slice(0, -1));
    assert.equal(row(0)[p!.prompt.length - 1], seq[p!.prompt.length]);
    assert.equal(row(0)[p!.prompt.length - 2], IGNORE_INDEX);
  });

  it('cuts long prompts from the left and refuses empty or identical completions', () => {
    const long = 'Fellow citizens of the Senate and of the House of Representatives, among the vicissitudes incident to life';
    const [p] = tokenizePairs([{ prompt: long, chosen: ' no event could have filled me', rejected: ' yes', source: 's' }], tok, { maxLength: 16, maxPromptLength: 6 });
    assert.deepEqual(p!.prompt, tok.encode(long).slice(-6));
    assert.equal(p!.chosen.length, 10);
    assert.throws(() => tokenizePairs([{ prompt: 'a', chosen: '', rejected: ' b', source: 'prefs.jsonl:7' }], tok, { maxLength: 16 }), /prefs\.jsonl:7: the chosen completion is empty/);
    assert.throws(() => tokenizePairs([{ prompt: 'a', chosen: ' same text here', rejected: ' same text there', source: 'x:2' }], tok, { maxLength: 4, maxPromptLength: 2 }), /x:2: chosen and rejected are the same tokens after cutting them to 3 tokens \(raise --max-length\)/);
    const [empty] = tokenizePairs([{ prompt: '', chosen: ' a', rejected: ' b', source: 's' }], tok, { maxLength: 8 });
    assert.deepEqual(empty!.prompt, [tok.eotId]);
  });

  it('holds out a seeded share of pairs when there are enough', () => {
    const items = Array.from({ length: 30 }, (_, i) => i);
    const a = splitPairs(items, 0.1, 1);
    assert.equal(a.val.length, 3);
    assert.deepEqual([...a.train, ...a.val].sort((x, y) => x - y), items);
    assert.deepEqual(splitPairs(items, 0.1, 1), a);
    assert.notDeepEqual(splitPairs(items, 0.1, 2).val, a.val);
    assert.equal(splitPairs(items.slice(0, 9), 0.1, 1).val.length, 0);
  });
});
