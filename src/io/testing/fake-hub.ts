// A local stand-in for the Hugging Face Hub, so that tests download models without reaching it.
// It answers the Hub's URL layout and headers: GET /api/models/REPO/revision/REV with the commit
// (sha) and the files (siblings); HEAD and GET /REPO/resolve/REV/FILE with X-Repo-Commit and the
// git blob id as ETag for small files, and for LFS files a 302 to a second server on another port
// (playing the storage host) with X-Linked-Etag (sha256) and X-Linked-Size. Both honour Range.
// Switches make the storage host drop (or stall) a connection mid-body once, or serve corrupt bytes; every
// request is recorded with its headers and the body bytes sent.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeHubFile {
  path: string;
  data: Uint8Array;
  /** Stored in LFS: served through the storage host, named by sha256. */
  lfs: boolean;
}

export interface FakeHubRepo {
  id: string;
  /** Files at each commit (40 hex digits). */
  commits: Record<string, FakeHubFile[]>;
  /** Branches and tags → commit. */
  refs: Record<string, string>;
  /** Gated: only requests with `Authorization: Bearer <token>` may read files. */
  token?: string;
  /** Former names: answered with a relative 307 to the same path under `id`, as for a renamed repository. */
  formerIds?: string[];
}

export interface RecordedRequest {
  server: 'hub' | 'storage';
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
  /** Body bytes written (fewer than announced when the connection was dropped). */
  bytesSent: number;
}

export interface FakeHub {
  /** What HF_ENDPOINT should be. */
  endpoint: string;
  storageOrigin: string;
  requests: RecordedRequest[];
  /**
   * The next storage-host body of `file` stops after `afterBytes` bytes: the connection is
   * destroyed ('close'), or stays open sending nothing more ('stall').
   */
  dropOnce(file: string, afterBytes: number, how?: 'close' | 'stall'): void;
  /** Storage-host bodies of `file` have one byte flipped (the Hub still states the true sha256). */
  corrupt(file: string, on?: boolean): void;
  close(): Promise<void>;
}

export const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The id git gives a blob, which the Hub sends as the ETag of files not in LFS. */
export const gitBlobId = (data: Uint8Array): string => createHash('sha1').update(`blob ${data.byteLength}\0`).update(data).digest('hex');

/** A made-up 40-hex commit id. */
export const fakeCommit = (seed: string): string => createHash('sha1').update(seed).digest('hex');

/** A folder's files as repository files; `lfs` picks the ones the Hub would keep in LFS. */
export async function folderFiles(dir: string, lfs: (name: string) => boolean = (n) => n.endsWith('.safetensors')): Promise<FakeHubFile[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (name) => ({ path: name, data: new Uint8Array(await readFile(path.join(dir, name))), lfs: lfs(name) })));
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

export async function startFakeHub(repos: FakeHubRepo[]): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  const drops = new Map<string, { afterBytes: number; how: 'close' | 'stall' }>();
  const corrupted = new Set<string>();
  const blobs = new Map<string, FakeHubFile>();
  for (const r of repos) for (const files of Object.values(r.commits)) for (const f of files) if (f.lfs) blobs.set(sha256Hex(f.data), f);

  const record = (server: RecordedRequest['server'], req: IncomingMessage, res: ServerResponse): RecordedRequest => {
    const entry: RecordedRequest = { server, method: req.method ?? '', url: req.url ?? '', headers: req.headers, status: 0, bytesSent: 0 };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    res.on('close', () => (entry.status ||= res.statusCode));
    return entry;
  };

  /** Sends `data` (or the range the request asks for); `drop` stops after that many bytes. */
  const sendBody = (req: IncomingMessage, res: ServerResponse, entry: RecordedRequest, data: Uint8Array, headers: Record<string, string>, drop?: { afterBytes: number; how: 'close' | 'stall' }) => {
    let start = 0;
    let end = data.byteLength;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(end, Number(range[2]) + 1) : end;
      if (start >= data.byteLength) {
        res.writeHead(416, { 'Content-Range': `bytes */${data.byteLength}` }).end();
        return;
      }
    }
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Length': String(end - start),
      ...(range ? { 'Content-Range': `bytes ${start}-${end - 1}/${data.byteLength}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = data.subarray(start, end);
    if (drop !== undefined && drop.afterBytes < body.byteLength) {
      entry.bytesSent = drop.afterBytes;
      // The pause lets the client take in what was sent: a stream that errors drops what it queued.
      res.write(body.subarray(0, drop.afterBytes), () => {
        if (drop.how === 'close') setTimeout(() => res.socket?.destroy(), 100);
      });
      return;
    }
    entry.bytesSent = body.byteLength;
    res.end(body);
  };

  const storage = http.createServer((req, res) => {
    const entry = record('storage', req, res);
    const sha = /^\/blobs\/([0-9a-f]{64})/.exec(req.url ?? '')?.[1];
    const file = sha ? blobs.get(sha) : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    let data = file.data;
    if (corrupted.has(file.path)) {
      data = new Uint8Array(data);
      data[data.byteLength >> 1]! ^= 0xff;
    }
    const drop = drops.get(file.path);
    drops.delete(file.path);
    sendBody(req, res, entry, data, { ETag: `"${sha}"`, 'Content-Type': 'application/octet-stream' }, drop);
  });
  const storageOrigin = await listen(storage);

  const error = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Error-Code': code, 'X-Error-Message': message }).end(JSON.stringify({ error: message }));
  };

  const hub = http.createServer((req, res) => {
    const entry = record('hub', req, res);
    const url = new URL(req.url ?? '/', 'http://hub');
    const p = url.pathname;
    const api = p.startsWith('/api/models/');
    const rest = api ? p.slice('/api/models/'.length) : p.slice(1);
    const named = (id: string) => rest === id || rest.startsWith(`${id}/`);
    const renamed = repos.find((r) => r.formerIds?.some(named));
    if (renamed) {
      const old = renamed.formerIds!.find(named)!;
      res.writeHead(307, { Location: `${api ? '/api/models/' : '/'}${renamed.id}${rest.slice(old.length)}${url.search}` }).end();
      return;
    }
    const repo = repos.find((r) => named(r.id));
    if (!repo) {
      // The Hub answers 401 for a repository it does not show, whether missing or private.
      error(res, 401, 'RepoNotFound', 'Repository not found');
      return;
    }
    const tail = rest.slice(repo.id.length + 1);
    const commitOf = (rev: string) => repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined);

    if (api) {
      const m = /^revision\/(.+)$/.exec(tail);
      const rev = m ? decodeURIComponent(m[1]!) : tail === '' ? 'main' : null;
      const commit = rev === null ? undefined : commitOf(rev);
      if (!commit) {
        error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
        return;
      }
      const body = JSON.stringify({ id: repo.id, modelId: repo.id, sha: commit, gated: repo.token ? 'manual' : false, siblings: repo.commits[commit]!.map((f) => ({ rfilename: f.path })) });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      return;
    }

    const m = /^resolve\/([^/]+)\/(.+)$/.exec(tail);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    const rev = decodeURIComponent(m[1]!);
    const name = m[2]!.split('/').map(decodeURIComponent).join('/');
    const commit = commitOf(rev);
    if (!commit) {
      error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return;
    }
    if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
      if (req.headers.authorization) error(res, 403, 'GatedRepo', `Access to model ${repo.id} is restricted and you are not in the authorized list.`);
      else error(res, 401, 'GatedRepo', `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it.`);
      return;
    }
    const file = repo.commits[commit]!.find((f) => f.path === name);
    if (!file) {
      error(res, 404, 'EntryNotFound', `${name} does not exist at ${rev}`);
      return;
    }
    const common = { 'X-Repo-Commit': commit };
    if (file.lfs) {
      const sha = sha256Hex(file.data);
      res
        .writeHead(302, {
          ...common,
          Location: `${storageOrigin}/blobs/${sha}?repo=${encodeURIComponent(repo.id)}&file=${encodeURIComponent(name)}`,
          ETag: `"${sha}"`,
          'X-Linked-Etag': `"${sha}"`,
          'X-Linked-Size': String(file.data.byteLength),
          'Content-Length': '0',
        })
        .end();
      return;
    }
    sendBody(req, res, entry, file.data, { ...common, ETag: `"${gitBlobId(file.data)}"`, 'Content-Type': 'application/octet-stream' });
  });
  const endpoint = await listen(hub);

  return {
    endpoint,
    storageOrigin,
    requests,
    dropOnce: (file, afterBytes, how = 'close') => drops.set(file, { afterBytes, how }),
    corrupt: (file, on = true) => (on ? corrupted.add(file) : corrupted.delete(file)),
    async close() {
      for (const s of [hub, storage]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
}
