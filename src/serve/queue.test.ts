import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from './errors.ts';
import { GenerationQueue } from './queue.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('GenerationQueue', () => {
  it('runs one job at a time in arrival order', async () => {
    const q = new GenerationQueue(10);
    const log: string[] = [];
    let active = 0;
    const job = (name: string) => async () => {
      active++;
      assert.equal(active, 1, 'two jobs ran at once');
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      active--;
      return name;
    };
    const signal = new AbortController().signal;
    const results = await Promise.all(['a', 'b', 'c'].map((n) => q.run(signal, job(n))));
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    assert.deepEqual([q.stats().running, q.stats().waiting, q.stats().completed], [0, 0, 3]);
  });

  it('refuses with 429 and Retry-After when the waiting room is full', async () => {
    const q = new GenerationQueue(1);
    const signal = new AbortController().signal;
    let release!: () => void;
    const first = q.run(signal, () => new Promise<void>((r) => (release = r)));
    const second = q.run(signal, async () => 'second');
    await assert.rejects(q.run(signal, async () => 'third'), (e: unknown) => e instanceof ApiError && e.status === 429 && Number(e.headers['retry-after']) >= 1);
    release();
    await first;
    assert.equal(await second, 'second');
  });

  it('drops a waiting job whose request was aborted, and a failed job frees the slot', async () => {
    const q = new GenerationQueue(5);
    const signal = new AbortController().signal;
    let release!: () => void;
    const first = q.run(signal, () => new Promise<void>((r) => (release = r)));
    const gone = new AbortController();
    let ran = false;
    const waiting = q.run(gone.signal, async () => {
      ran = true;
    });
    assert.equal(q.stats().waiting, 1);
    gone.abort(new Error('client left'));
    await assert.rejects(waiting, /client left/);
    assert.equal(q.stats().waiting, 0);
    release();
    await first;
    assert.equal(ran, false);
    await assert.rejects(q.run(signal, async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await q.run(signal, async () => 'after'), 'after');
    assert.equal(q.stats().running, 0);
  });
});
