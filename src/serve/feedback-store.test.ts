// The feedback store: migrations, export pairs, and durability when the server is killed with
// SIGKILL while clients are writing (every acknowledged row must survive, the file must be intact).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FEEDBACK_SCHEMA_VERSION, FeedbackStore, MIGRATIONS } from './feedback-store.ts';

describe('feedback store', () => {
  let tmp: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-feedback-'));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('creates the schema in WAL mode and migrates an old database without losing rows', () => {
    const fresh = new FeedbackStore(path.join(tmp, 'fresh.sqlite'));
    assert.equal(fresh.schemaVersion, FEEDBACK_SCHEMA_VERSION);
    assert.equal(fresh.journalMode, 'wal');
    fresh.close();

    const file = path.join(tmp, 'old.sqlite');
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    old.prepare("INSERT INTO feedback (kind, prompt, chosen, rejected) VALUES ('preference', 'p', 'a', 'b')").run();
    old.close();
    const store = new FeedbackStore(file);
    assert.equal(store.schemaVersion, MIGRATIONS.length);
    const row = store.get(1)!;
    assert.deepEqual([row.kind, row.prompt, row.chosen, row.rejected, row.source], ['preference', 'p', 'a', 'b', null]);
    const id = store.add({ kind: 'rating', prompt: 'p', completion: 'c', rating: 'down', source: 'write', settings: { temperature: 0.5 } });
    assert.deepEqual(store.get(id)!.settings, { temperature: 0.5 });
    assert.equal(store.get(id)!.rating, -1);
    store.close();

    const future = path.join(tmp, 'future.sqlite');
    const f = new Database(future);
    f.pragma('user_version = 99');
    f.close();
    assert.throws(() => new FeedbackStore(future), /schema version 99, newer than/);
  });

  it('pairs ratings of the same prompt into chosen/rejected on request', () => {
    const store = new FeedbackStore(':memory:');
    store.add({ kind: 'preference', prompt: 'P', chosen: 'good', rejected: 'bad' });
    store.add({ kind: 'rating', prompt: 'Q', completion: 'q-up', rating: 'up' });
    store.add({ kind: 'rating', prompt: 'Q', completion: 'q-down', rating: 'down' });
    store.add({ kind: 'rating', prompt: 'Q', completion: 'q-up2', rating: 'up' });
    store.add({ kind: 'rating', prompt: 'R', completion: 'r-down', rating: 'down' });
    assert.deepEqual([...store.pairs()], [{ prompt: 'P', chosen: 'good', rejected: 'bad' }]);
    assert.deepEqual(
      [...store.pairs({ ratings: true })],
      [
        { prompt: 'P', chosen: 'good', rejected: 'bad' },
        { prompt: 'Q', chosen: 'q-up', rejected: 'q-down' },
        { prompt: 'Q', chosen: 'q-up2', rejected: 'q-down' },
      ],
    );
    assert.deepEqual(store.count(), { ratings: 4, up: 2, down: 2, preferences: 1 });
    store.close();
  });

  it('keeps every acknowledged row when the server is killed mid-write', async () => {
    const db = path.join(tmp, 'killed.sqlite');
    const here = path.dirname(fileURLToPath(import.meta.url));
    const child = path.join(tmp, 'child.mts'); // .mts: outside the package, .ts would be CommonJS
    await writeFile(
      child,
      `import { makeTinyModel } from ${JSON.stringify(path.join(here, 'testing', 'fixtures.ts'))};
       import { serveCommand } from ${JSON.stringify(path.join(here, 'index.ts'))};
       const tiny = await makeTinyModel({ nPositions: 32 });
       const s = await serveCommand({ model: tiny.dir, port: 0, db: process.argv[2], backend: 'ref', webRoot: null });
       console.log('URL ' + s.url);`,
    );
    const proc = spawn(process.execPath, ['--import', 'tsx', child, db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /URL (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        proc.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening: ${stderr}`)));
      });
      const acked = new Map<number, string>();
      let killed = false;
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; !killed; i++) {
          const prompt = `writer ${w} item ${i} ${'x'.repeat(i % 7 === 0 ? 20_000 : 10)}`;
          try {
            const res = await fetch(`${url}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'preference', prompt, chosen: `c${i}`, rejected: `r${i}` }) });
            if (res.status !== 201) throw new Error(`status ${res.status}`);
            acked.set(((await res.json()) as { id: number }).id, prompt);
          } catch {
            if (!killed) throw new Error('a write failed before the kill');
            return;
          }
          if (acked.size >= 400 && !killed) {
            killed = true;
            proc.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: 12 }, (_, w) => writer(w)));
      await exited;
      assert.equal(proc.signalCode, 'SIGKILL');

      const store = new FeedbackStore(db);
      assert.equal(store.integrityCheck(), 'ok');
      for (const [id, prompt] of acked) assert.equal(store.get(id)?.prompt, prompt, `acknowledged row ${id} is missing`);
      assert.ok(store.count().preferences >= acked.size);
      store.close();
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  });
});
