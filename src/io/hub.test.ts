// Downloads from a local fake Hub (testing/fake-hub.ts) into a temporary HF_HOME: the cache comes
// out as huggingface_hub lays it out, is reused without requests (also one built by hand),
// revisions resolve, a dropped connection resumes with a Range request, a corrupt file is refused
// and removed, the token reaches the Hub but not the storage host, and offline mode uses the
// cache alone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { hubCacheDir, repoFolderName } from './hub-cache.ts';
import { downloadSnapshot, parseHubSpec, resolveModelSource, type HubOptions, type HubProgress } from './hub.ts';
import { fakeCommit, gitBlobId, sha256Hex, startFakeHub, type FakeHub, type FakeHubFile } from './testing/fake-hub.ts';

const text = (s: string) => new Uint8Array(Buffer.from(s));
const C1 = fakeCommit('first');
const C2 = fakeCommit('second');
const WEIGHTS = { [C1]: new Uint8Array(randomBytes(300_000)), [C2]: new Uint8Array(randomBytes(200_000)) };
const TOKENIZER = text('{"model":{"type":"BPE"}}');

const filesAt = (commit: string): FakeHubFile[] => [
  { path: 'config.json', data: text(JSON.stringify({ model_type: 'gpt2', commit })), lfs: false },
  { path: 'tokenizer.json', data: TOKENIZER, lfs: false },
  { path: 'model.safetensors', data: WEIGHTS[commit]!, lfs: true },
  { path: 'pytorch_model.bin', data: new Uint8Array(50_000), lfs: true },
  { path: 'README.md', data: text('# test'), lfs: false },
  { path: 'onnx/model.onnx', data: new Uint8Array(10), lfs: true },
];

const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const SHARDED: FakeHubFile[] = [
  ...filesAt(C1).filter((f) => f.path === 'config.json' || f.path === 'tokenizer.json'),
  { path: 'model.safetensors.index.json', data: text(JSON.stringify({ metadata: {}, weight_map: { 'a.weight': SHARDS[0], 'b.weight': SHARDS[1], 'c.weight': SHARDS[1] } })), lfs: false },
  { path: SHARDS[0]!, data: new Uint8Array(randomBytes(1000)), lfs: true },
  { path: SHARDS[1]!, data: new Uint8Array(randomBytes(2000)), lfs: true },
  // Not in the index (a consolidated copy some repositories carry): left on the Hub.
  { path: 'consolidated.safetensors', data: new Uint8Array(3000), lfs: true },
];

describe('Hugging Face Hub downloads', () => {
  let hub: FakeHub;
  let tmp: string;
  let home: string;
  let n = 0;
  const TOKEN = 'hf_test_token';

  before(async () => {
    hub = await startFakeHub([
      { id: 'test/repo', commits: { [C1]: filesAt(C1), [C2]: filesAt(C2) }, refs: { main: C2, v1: C1 }, formerIds: ['old/repo'] },
      { id: 'test/gated', commits: { [C1]: filesAt(C1) }, refs: { main: C1 }, token: TOKEN },
      { id: 'test/sharded', commits: { [C1]: SHARDED }, refs: { main: C1 } },
      { id: 'test/bin-only', commits: { [C1]: filesAt(C1).filter((f) => f.path !== 'model.safetensors') }, refs: { main: C1 } },
    ]);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-hub-'));
  });
  after(async () => {
    await hub.close();
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(() => {
    home = path.join(tmp, `home-${n++}`);
  });

  const opts = (extra: HubOptions = {}): HubOptions => ({ env: { HF_ENDPOINT: hub.endpoint, HF_HOME: home, HF_HUB_DISABLE_PROGRESS_BARS: '1' }, retryDelayMs: 5, ...extra });
  const repoRoot = () => path.join(home, 'hub', repoFolderName('test/repo'));
  const since = (start: number) => hub.requests.slice(start);

  it('lays out blobs, snapshots and refs as huggingface_hub does, and fetches only what a model needs', async () => {
    const progress: HubProgress[] = [];
    const snap = await downloadSnapshot('hf:test/repo', opts({ onProgress: (p) => progress.push(p) }));
    assert.equal(snap.commit, C2);
    assert.equal(snap.dir, path.join(repoRoot(), 'snapshots', C2));
    assert.deepEqual(snap.downloaded.sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
    assert.equal(await readFile(path.join(repoRoot(), 'refs', 'main'), 'utf8'), C2);
    // LFS files are named by their sha256, the others by their git blob id.
    const blobs = (await readdir(path.join(repoRoot(), 'blobs'))).sort();
    assert.deepEqual(blobs, [sha256Hex(WEIGHTS[C2]!), gitBlobId(filesAt(C2)[0]!.data), gitBlobId(TOKENIZER)].sort());
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) {
      const link = path.join(snap.dir, f);
      assert.ok((await lstat(link)).isSymbolicLink(), `${f} is a symlink`);
      assert.match(await readlink(link), /^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/);
      assert.deepEqual(new Uint8Array(await readFile(link)), filesAt(C2).find((x) => x.path === f)!.data);
    }
    assert.deepEqual((await readdir(snap.dir)).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
    assert.ok(!hub.requests.some((r) => /pytorch_model|onnx|README/.test(r.url)), 'skipped files are not even asked about');
    assert.equal(progress.at(-1)!.bytes, WEIGHTS[C2]!.byteLength);
    assert.equal(progress.at(-1)!.totalBytes, WEIGHTS[C2]!.byteLength);
    // The same folder is what $HF_HOME/hub means to huggingface_hub.
    assert.equal(hubCacheDir({ HF_HOME: home }), path.join(home, 'hub'));
  });

  it('uses a complete cached snapshot without asking the Hub', async () => {
    const first = await resolveModelSource('hf:test/repo', opts());
    const start = hub.requests.length;
    assert.equal(await resolveModelSource('hf:test/repo', opts()), first);
    assert.equal(since(start).length, 0);
    // refresh asks again (the listing), but downloads nothing new.
    const again = await downloadSnapshot('hf:test/repo', opts({ refresh: true }));
    assert.deepEqual(again.downloaded, []);
    assert.ok(since(start).length > 0);
  });

  it('resolves @branch and @commit, and shares blobs between commits', async () => {
    const branch = await downloadSnapshot('hf:test/repo@v1', opts());
    assert.equal(branch.commit, C1);
    assert.equal(await readFile(path.join(repoRoot(), 'refs', 'v1'), 'utf8'), C1);
    assert.match(await readFile(path.join(branch.dir, 'config.json'), 'utf8'), new RegExp(C1));
    const start = hub.requests.length;
    const pinned = await downloadSnapshot(`hf:test/repo@${C1}`, opts());
    assert.equal(pinned.dir, branch.dir);
    assert.equal(since(start).length, 0, 'a cached commit needs no request');
    await assert.rejects(readFile(path.join(repoRoot(), 'refs', C1)), 'no ref is written for a commit');

    const main = await downloadSnapshot('hf:test/repo', opts());
    assert.equal(main.commit, C2);
    // tokenizer.json is the same at both commits: linked to the blob already there, not downloaded.
    assert.ok(!main.downloaded.includes('tokenizer.json'));
    assert.equal(await readlink(path.join(main.dir, 'tokenizer.json')), await readlink(path.join(branch.dir, 'tokenizer.json')));
    await assert.rejects(downloadSnapshot('hf:test/repo@nope', opts()), /revision "nope" does not exist in test\/repo/);
  });

  it('resumes a dropped download with a Range request instead of starting over', async () => {
    const size = WEIGHTS[C2]!.byteLength;
    hub.dropOnce('model.safetensors', 120_000);
    const start = hub.requests.length;
    const snap = await downloadSnapshot('hf:test/repo', opts());
    assert.deepEqual(new Uint8Array(await readFile(path.join(snap.dir, 'model.safetensors'))), WEIGHTS[C2]);
    const gets = since(start).filter((r) => r.server === 'storage' && r.method === 'GET');
    assert.equal(gets.length, 2);
    assert.equal(gets[0]!.headers.range, undefined);
    // Resumed from what reached the disk: all of the 120,000 bytes unless the broken stream lost some in flight.
    const kept = Number(/^bytes=(\d+)-$/.exec(String(gets[1]!.headers.range))?.[1]);
    assert.ok(kept > 0 && kept <= 120_000, `resumed from byte ${kept}`);
    assert.equal(gets[1]!.status, 206);
    const sent = gets.reduce((a, r) => a + r.bytesSent, 0);
    assert.equal(sent, size + (120_000 - kept), 'no byte that reached the disk crossed the wire twice');
    assert.ok(!(await readdir(path.join(repoRoot(), 'blobs'))).some((f) => f.endsWith('.incomplete')));
  });

  it('gives up on a connection that goes silent (HF_HUB_DOWNLOAD_TIMEOUT), and the next run resumes it', async () => {
    hub.dropOnce('model.safetensors', 80_000, 'stall');
    const env = { ...opts().env, HF_HUB_DOWNLOAD_TIMEOUT: '0.3' };
    await assert.rejects(downloadSnapshot('hf:test/repo', { ...opts({ retries: 0 }), env }), (err: Error) => {
      assert.match(err.message, /download of model\.safetensors from 127\.0\.0\.1:\d+ broke off after 80000 of 200000 bytes: no data within the timeout \(HF_HUB_DOWNLOAD_TIMEOUT\)/);
      assert.match(err.message, /; gave up after 1 attempt; run the same command again to resume from byte 80000/);
      return true;
    });
    const part = path.join(repoRoot(), 'blobs', `${sha256Hex(WEIGHTS[C2]!)}.incomplete`);
    assert.equal((await lstat(part)).size, 80_000);
    const start = hub.requests.length;
    const snap = await downloadSnapshot('hf:test/repo', { ...opts(), env });
    const gets = since(start).filter((r) => r.server === 'storage');
    assert.deepEqual(gets.map((r) => r.headers.range), ['bytes=80000-']);
    assert.equal(gets[0]!.bytesSent, 120_000);
    assert.deepEqual(new Uint8Array(await readFile(path.join(snap.dir, 'model.safetensors'))), WEIGHTS[C2]);
  });

  it('refuses a file whose sha256 is not the one the Hub states, and leaves no blob behind', async () => {
    hub.corrupt('model.safetensors');
    try {
      await assert.rejects(downloadSnapshot('hf:test/repo', opts()), (err: Error) => {
        assert.match(err.message, /model\.safetensors of hf:test\/repo is corrupt: its sha256 is [0-9a-f]{64} but the Hub states [0-9a-f]{64}/);
        assert.match(err.message, /partial download was deleted/);
        return true;
      });
    } finally {
      hub.corrupt('model.safetensors', false);
    }
    const blobs = await readdir(path.join(repoRoot(), 'blobs'));
    assert.ok(!blobs.some((f) => f.startsWith(sha256Hex(WEIGHTS[C2]!))), `no blob or partial for the weights: ${blobs.join(', ')}`);
    await assert.rejects(lstat(path.join(repoRoot(), 'snapshots', C2, 'model.safetensors')));
    await assert.rejects(readFile(path.join(repoRoot(), 'refs', 'main')), 'an unfinished snapshot writes no ref');
    const snap = await downloadSnapshot('hf:test/repo', opts());
    assert.deepEqual(snap.downloaded, ['model.safetensors']);
  });

  it('downloads a blob once when two loads run at the same time, and takes over a lock a dead process left', async () => {
    const sha = sha256Hex(WEIGHTS[C2]!);
    const lock = path.join(home, 'hub', '.locks', repoFolderName('test/repo'), `${sha}.lock`);
    await mkdir(path.dirname(lock), { recursive: true });
    await writeFile(lock, '999999999');
    const start = hub.requests.length;
    const [a, b] = await Promise.all([downloadSnapshot('hf:test/repo', opts()), downloadSnapshot('hf:test/repo', opts())]);
    assert.equal(a.dir, b.dir);
    assert.equal(since(start).filter((r) => r.server === 'storage' && r.method === 'GET').length, 1);
    assert.deepEqual(new Uint8Array(await readFile(path.join(a.dir, 'model.safetensors'))), WEIGHTS[C2]);
    await assert.rejects(lstat(lock), 'the lock is released');
  });

  it('waits while a live process holds the blob lock', async () => {
    const sha = sha256Hex(WEIGHTS[C2]!);
    const lock = path.join(home, 'hub', '.locks', repoFolderName('test/repo'), `${sha}.lock`);
    await mkdir(path.dirname(lock), { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await writeFile(lock, String(holder.pid));
      const start = hub.requests.length;
      let finished = false;
      const download = downloadSnapshot('hf:test/repo', opts()).finally(() => (finished = true));
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(finished, false);
      assert.ok(!since(start).some((r) => r.server === 'storage'), 'the weights wait for the lock');
      holder.kill();
      await once(holder, 'exit');
      const snap = await download;
      assert.deepEqual(new Uint8Array(await readFile(path.join(snap.dir, 'model.safetensors'))), WEIGHTS[C2]);
    } finally {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill();
    }
  });

  it('sends HF_TOKEN to the Hub and not to the storage host it redirects to', async () => {
    await assert.rejects(downloadSnapshot('hf:test/gated', opts()), /test\/gated is gated: accept its conditions .* then set HF_TOKEN/);
    await assert.rejects(downloadSnapshot('hf:test/gated', opts({ token: 'hf_wrong' })), /the current HF_TOKEN has no access/);
    const start = hub.requests.length;
    const env = { ...opts().env, HF_TOKEN: TOKEN };
    const snap = await downloadSnapshot('hf:test/gated', { ...opts(), env });
    assert.equal(snap.commit, C1);
    const reqs = since(start);
    assert.ok(reqs.some((r) => r.server === 'storage'), 'the weights came from the storage host');
    for (const r of reqs) {
      if (r.server === 'hub') assert.equal(r.headers.authorization, `Bearer ${TOKEN}`, `${r.method} ${r.url}`);
      else assert.equal(r.headers.authorization, undefined, `${r.method} ${r.url} must not carry the token`);
    }
  });

  it('reads the token file huggingface-cli login writes when HF_TOKEN is not set', async () => {
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, 'token'), `${TOKEN}\n`);
    const snap = await downloadSnapshot('hf:test/gated', opts());
    assert.equal(snap.commit, C1);
  });

  it('with HF_HUB_OFFLINE=1 uses the cache alone, and names the cache when the model is not there', async () => {
    const online = await resolveModelSource('hf:test/repo@v1', opts());
    const start = hub.requests.length;
    const offline = { ...opts(), env: { ...opts().env, HF_HUB_OFFLINE: '1' } };
    assert.equal(await resolveModelSource('hf:test/repo@v1', offline), online);
    assert.equal(await resolveModelSource(`hf:test/repo@${C1}`, offline), online);
    await assert.rejects(resolveModelSource('hf:test/repo', offline), (err: Error) => {
      assert.match(err.message, /hf:test\/repo is not in the Hub cache/);
      assert.ok(err.message.includes(repoRoot()), err.message);
      assert.match(err.message, /HF_HUB_OFFLINE/);
      return true;
    });
    assert.equal(since(start).length, 0);
  });

  it("reuses a cache huggingface_hub filled (built here by hand), fetching only what it lacks", async () => {
    const root = path.join(home, 'custom-cache', repoFolderName('test/repo'));
    const snapshot = path.join(root, 'snapshots', C1);
    await mkdir(path.join(root, 'blobs'), { recursive: true });
    await mkdir(path.join(root, 'refs'), { recursive: true });
    await mkdir(snapshot, { recursive: true });
    await writeFile(path.join(root, 'refs', 'main'), C1);
    for (const f of filesAt(C1).filter((x) => x.path === 'config.json' || x.path === 'tokenizer.json')) {
      const etag = f.lfs ? sha256Hex(f.data) : gitBlobId(f.data);
      await writeFile(path.join(root, 'blobs', etag), f.data);
      await symlink(`../../blobs/${etag}`, path.join(snapshot, f.path));
    }
    const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: path.join(home, 'custom-cache'), HF_HUB_DISABLE_PROGRESS_BARS: '1' };
    // The weights are missing, so the Hub is asked; main has moved on to C2 there.
    const start = hub.requests.length;
    const snap = await downloadSnapshot('hf:test/repo@v1', { env });
    assert.equal(snap.dir, snapshot);
    assert.deepEqual(snap.downloaded, ['model.safetensors']);
    assert.ok(!since(start).some((r) => r.url.includes('config.json') || r.url.includes('tokenizer.json')), 'files already in the snapshot are not asked about');
    // Now complete: main (refs/main → C1, as the other tool left it) resolves with no request.
    const start2 = hub.requests.length;
    assert.equal(await resolveModelSource('hf:test/repo', { env }), snapshot);
    assert.equal(since(start2).length, 0);
  });

  it('fetches the shards a safetensors index names, and refuses a repository without safetensors', async () => {
    const snap = await downloadSnapshot('hf:test/sharded', opts());
    assert.deepEqual((await readdir(snap.dir)).sort(), ['config.json', 'model.safetensors.index.json', ...SHARDS, 'tokenizer.json'].sort());
    const start = hub.requests.length;
    assert.equal(await resolveModelSource('hf:test/sharded', opts()), snap.dir);
    assert.equal(since(start).length, 0, 'a complete sharded snapshot is used as is');

    await assert.rejects(downloadSnapshot('hf:test/bin-only', opts()), /hf:test\/bin-only has no \.safetensors weights \(files: .*pytorch_model\.bin.*\); genlab reads safetensors only/);
    await assert.rejects(lstat(path.join(home, 'hub', repoFolderName('test/bin-only'), 'blobs')), 'nothing was downloaded');
  });

  it('follows the relative redirects of a renamed repository, caching under the name asked for', async () => {
    const snap = await downloadSnapshot('hf:old/repo', opts());
    assert.equal(snap.dir, path.join(home, 'hub', repoFolderName('old/repo'), 'snapshots', C2));
    assert.deepEqual(new Uint8Array(await readFile(path.join(snap.dir, 'model.safetensors'))), WEIGHTS[C2]);
  });

  it('names the repository that does not exist, and gives up on an unreachable Hub after bounded retries', async () => {
    await assert.rejects(downloadSnapshot('hf:test/missing', opts()), /repository test\/missing not found on http:\/\/127\.0\.0\.1:\d+ \(hf:test\/missing\); check the name, and if it is private or gated, set HF_TOKEN/);
    // A host that accepts connections and closes them at once.
    let connections = 0;
    const rude = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(rude.address() as net.AddressInfo).port}`;
    try {
      await assert.rejects(downloadSnapshot('hf:test/repo', { ...opts(), endpoint, retries: 2 }), (err: Error) => {
        assert.ok(err.message.startsWith(`could not reach ${endpoint}: fetch failed`), err.message);
        assert.match(err.message, /; gave up after 3 attempts$/);
        return true;
      });
      assert.equal(connections, 3);
    } finally {
      await new Promise((r) => rude.close(r));
    }
  });

  it('parses hf:ORG/NAME[@REVISION] and rejects malformed specs with the expected form', () => {
    assert.deepEqual(parseHubSpec('hf:openai-community/gpt2'), { repoId: 'openai-community/gpt2', revision: 'main', text: 'hf:openai-community/gpt2' });
    assert.deepEqual(parseHubSpec('hf:gpt2@refs/pr/1'), { repoId: 'gpt2', revision: 'refs/pr/1', text: 'hf:gpt2@refs/pr/1' });
    assert.equal(parseHubSpec('models/tiny'), null);
    for (const bad of ['hf:', 'hf:a/b/c', 'hf:a/../b', 'hf:a/b@', 'hf:a b/c', 'hf:a/b@x/../y']) {
      assert.throws(() => parseHubSpec(bad), /expected hf:ORG\/NAME|the revision after @/, bad);
    }
  });
});
