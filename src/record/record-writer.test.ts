import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fileSha256, parentRef, RunRecorder, type RecordFacts } from './record-writer.ts';
import { saveEnergySegment, type RunRecord } from './run-record.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-record-writer-'));
const version = (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version;

const facts = (outDir?: string): RecordFacts => ({
  kind: 'merge',
  method: 'test',
  command: 'genlab merge --model a --adapter b --out c',
  data: null,
  hyperparameters: {},
  parameters: { total: 10, trainable: 0 },
  training: { steps: 0, tokensSeen: 0, trainingFlops: 0, trainSeconds: 0 },
  compute: { method: 'none' },
  device: { name: 'ref', threads: 1 },
  ...(outDir ? { outDir } : {}),
});

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('the run record writer', () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('measures wall time and energy around the run; a snapshot does not end the measurement', async () => {
    const rec = RunRecorder.start({ powercapRoot: path.join(tmp, 'no-rapl'), wattsPerCore: 10 });
    busy(30);
    const mid = await rec.build(facts(), { final: false });
    busy(30);
    const dir = path.join(tmp, 'out');
    mkdirSync(dir);
    const last = await rec.write(dir, facts());
    assert.ok(mid.training.wallSeconds > 0 && last.training.wallSeconds > mid.training.wallSeconds);
    assert.ok(mid.energy.joules > 0 && last.energy.joules > mid.energy.joules, 'energy keeps counting after a snapshot');
    const written = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
    assert.deepEqual(written, last);
    assert.equal(written.genlab.version, version);
    assert.equal(written.software.genlab, version);
    assert.equal(written.software.node, process.version);
    assert.equal(written.emissions.gCO2e, written.energy.kWh * written.emissions.intensity.gPerKWh);
  });

  it('adds the energy of interrupted earlier processes of the run', async () => {
    const dir = path.join(tmp, 'resumed');
    mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
    const earlier = (await RunRecorder.start({ powercapRoot: path.join(tmp, 'no-rapl'), wattsPerCore: 10 }).build(facts())).energy;
    await saveEnergySegment(dir, earlier);
    const r = await RunRecorder.start({ powercapRoot: path.join(tmp, 'no-rapl'), wattsPerCore: 10 }).build(facts(dir));
    assert.equal(r.energy.segments.length, 1);
    assert.match(r.energy.note, /sum of 2 processes/);
    assert.ok(r.energy.joules > earlier.joules);
  });

  it('references a parent with the hash of its run.json and the record itself; none when it has none', async () => {
    const withRecord = path.join(tmp, 'parent');
    mkdirSync(withRecord);
    const bytes = JSON.stringify({ genlab: { kind: 'pretraining' } });
    writeFileSync(path.join(withRecord, 'run.json'), bytes);
    const ref = await parentRef(withRecord);
    assert.deepEqual(ref, { path: withRecord, name: 'parent', runRecordSha256: createHash('sha256').update(bytes).digest('hex'), record: { genlab: { kind: 'pretraining' } } });
    const bare = path.join(tmp, 'bare');
    mkdirSync(bare);
    assert.deepEqual(await parentRef(bare, 'gpt2'), { path: bare, name: 'gpt2', runRecordSha256: null, record: null });
    writeFileSync(path.join(bare, 'run.json'), '{ not json');
    await assert.rejects(parentRef(bare), new RegExp(`${path.join(bare, 'run.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not valid JSON`));
    assert.deepEqual(await fileSha256(path.join(withRecord, 'run.json')), { sha256: ref.runRecordSha256, bytes: bytes.length });
  });
});
