// Models from the Hugging Face Hub: `hf:ORG/NAME[@REVISION]` resolves to a snapshot folder in the
// cache huggingface_hub uses (hub-cache.ts), downloading what is missing. A download resumes where
// an earlier one stopped (HTTP Range on blobs/<etag>.incomplete), an LFS file must match the
// sha256 the Hub states for it (X-Linked-Etag) before it is renamed into place, and the token goes
// only to the Hub itself, never to the storage host large files redirect to.
//
// A snapshot that already holds what a model needs (config, weights, tokenizer) is used without
// asking the Hub, so a branch keeps the commit it resolved to when it was first fetched; pin
// @COMMIT, or pass `refresh`, to move on. Environment: HF_ENDPOINT, HF_HOME / HF_HUB_CACHE,
// HF_TOKEN (or the token file `huggingface-cli login` writes), HF_HUB_OFFLINE,
// HF_HUB_DOWNLOAD_TIMEOUT, HF_HUB_DISABLE_PROGRESS_BARS.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { progressBar, type Progress } from '../util/progress.ts';
import { fileSize, hfHome, hubCacheDir, isCommitHash, RepoCache, repoFolderName, type HubEnv } from './hub-cache.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** A parsed `hf:ORG/NAME[@REVISION]`. */
export interface HubModelSpec {
  repoId: string;
  /** Branch, tag or commit; 'main' when the spec names none. */
  revision: string;
  /** The spec as written, for messages. */
  text: string;
}

/** Where a model loaded from the Hub came from: what the user wrote and the commit it resolved to. */
export interface HubSource {
  /** The spec as written, e.g. hf:openai-community/gpt2@main. */
  spec: string;
  repoId: string;
  revision: string;
  commit: string;
}

export interface HubProgress {
  repoId: string;
  file: string;
  /** Bytes of all files to fetch in this step that are on disk now. */
  bytes: number;
  totalBytes: number;
}

export interface HubOptions {
  /** Default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Bearer token; default $HF_TOKEN, else the token file. null sends none. */
  token?: string | null;
  /** Use the cache only; default $HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Ask the Hub which commit the revision is at now, even when a usable snapshot is cached. */
  refresh?: boolean;
  /** Show a progress bar on stderr (default unless $HF_HUB_DISABLE_PROGRESS_BARS). */
  progress?: boolean;
  onProgress?: (p: HubProgress) => void;
  /** Attempts after a failed one (network errors, 5xx); each resumes. Default 5. */
  retries?: number;
  /** First retry delay, doubled each time (default 1000 ms, at most 30 s). */
  retryDelayMs?: number;
  /** Give up on a connection that sends nothing for this long; default $HF_HUB_DOWNLOAD_TIMEOUT s, else 10 s. */
  timeoutMs?: number;
  /** Where the Hub's variables are read (default process.env). */
  env?: HubEnv;
}

export interface HubSnapshot {
  repoId: string;
  revision: string;
  commit: string;
  /** snapshots/<commit>: a model folder the loaders open. */
  dir: string;
  /** Files downloaded by this call (empty when the cache had everything). */
  downloaded: string[];
}

interface Settings {
  endpoint: string;
  cacheDir: string;
  token: string | null;
  offline: boolean;
  progress: boolean;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

const truthy = (v: string | undefined): boolean => v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());

async function settingsFrom(opts: HubOptions): Promise<Settings> {
  const env = opts.env ?? process.env;
  let token = opts.token === undefined ? env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'] || null : opts.token;
  if (opts.token === undefined && token === null) {
    // Where `huggingface-cli login` keeps it.
    const tokenPath = env['HF_TOKEN_PATH'] || path.join(hfHome(env), 'token');
    token = (await readFile(tokenPath, 'utf8').catch(() => '')).trim() || null;
  }
  const timeoutSecs = Number(env['HF_HUB_DOWNLOAD_TIMEOUT']);
  return {
    endpoint: (opts.endpoint ?? (env['HF_ENDPOINT'] || DEFAULT_HUB_ENDPOINT)).replace(/\/+$/, ''),
    cacheDir: opts.cacheDir ?? hubCacheDir(env),
    token,
    offline: opts.offline ?? truthy(env['HF_HUB_OFFLINE']),
    progress: opts.progress ?? !truthy(env['HF_HUB_DISABLE_PROGRESS_BARS']),
    retries: opts.retries ?? 5,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? (timeoutSecs > 0 ? timeoutSecs * 1000 : 10_000),
  };
}

/** Parses `hf:ORG/NAME[@REVISION]`; null for anything else (a local folder). */
export function parseHubSpec(spec: string): HubModelSpec | null {
  if (!spec.startsWith('hf:')) return null;
  const body = spec.slice(3);
  const at = body.indexOf('@');
  const repoId = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? 'main' : body.slice(at + 1);
  const part = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
  const parts = repoId.split('/');
  if (parts.length > 2 || !parts.every((p) => part.test(p) && !p.includes('--') && !p.endsWith('.'))) {
    throw new Error(`${spec}: expected hf:ORG/NAME or hf:ORG/NAME@REVISION, where ORG and NAME are letters, digits, '.', '_' or '-' (e.g. hf:openai-community/gpt2)`);
  }
  if (revision === '' || /\s/.test(revision) || revision.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`${spec}: the revision after @ must be a branch, tag or commit hash (e.g. hf:${repoId}@main)`);
  }
  return { repoId, revision, text: spec };
}

/**
 * The error for `FLAG hf:…` in a command that writes into its model folder. A snapshot in the Hub
 * cache is shared with huggingface_hub and every program using it, so genlab never changes one;
 * the message says how to copy it to a folder of one's own.
 */
export function hubSnapshotWriteError(flag: string, spec: HubModelSpec, writes: string, env: HubEnv = process.env): Error {
  const repo = path.join(hubCacheDir(env), repoFolderName(spec.repoId));
  const commit = isCommitHash(spec.revision) ? spec.revision : `$(cat ${path.join(repo, 'refs', spec.revision)})`;
  const copy = path.join('models', spec.repoId.split('/').pop()!);
  return new Error(
    `${flag} ${spec.text}: ${writes}, and a Hugging Face cache snapshot must stay unchanged (huggingface_hub and other programs share it). ` +
      `Copy it to a folder of your own first — once fetched (e.g. by \`genlab generate --model ${spec.text} --prompt Hello\`): cp -rL ${path.join(repo, 'snapshots', commit)} ${copy} — and pass ${flag} ${copy}`,
  );
}

/** Throws hubSnapshotWriteError when spec is `hf:…`. */
export function rejectHubSpec(flag: string, spec: string, writes: string): void {
  const hub = parseHubSpec(spec);
  if (hub) throw hubSnapshotWriteError(flag, hub, writes);
}

/**
 * What a model folder needs: `hf:ORG/NAME[@REV]` becomes the cached snapshot folder (downloaded
 * first when needed); anything else is a local folder and comes back unchanged.
 */
export async function resolveModelSource(spec: string, opts: HubOptions = {}): Promise<string> {
  const hub = parseHubSpec(spec);
  return hub ? (await downloadSnapshot(hub, opts)).dir : spec;
}

// Which files a model needs. Other weight formats (.bin, .pt, .h5, .onnx, .gguf, .msgpack) and
// files in subfolders are left on the Hub: genlab reads safetensors.
const CONFIG_FILES = ['config.json', 'generation_config.json'];
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt', 'special_tokens_map.json', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json'];
const INDEX_FILE = 'model.safetensors.index.json';

function weightFiles(files: readonly string[], shards: readonly string[] | null): string[] {
  if (shards) return [...shards];
  if (files.includes('model.safetensors')) return ['model.safetensors'];
  return files.filter((f) => !f.includes('/') && f.endsWith('.safetensors'));
}

async function indexShards(file: string): Promise<string[]> {
  let index: { weight_map?: Record<string, unknown> };
  try {
    index = JSON.parse(await readFile(file, 'utf8')) as typeof index;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message})`);
  }
  const shards = [...new Set(Object.values(index.weight_map ?? {}))];
  if (shards.length === 0 || !shards.every((s) => typeof s === 'string' && s.endsWith('.safetensors'))) {
    throw new Error(`${file} has no weight_map naming .safetensors shards`);
  }
  return shards as string[];
}

/** Whether a cached snapshot has the config, the weights and a tokenizer. */
async function snapshotUsable(cache: RepoCache, commit: string): Promise<boolean> {
  const has = (f: string) => cache.hasFile(commit, f);
  if (!(await has('config.json'))) return false;
  if (!(await has('tokenizer.json')) && !((await has('vocab.json')) && (await has('merges.txt')))) return false;
  let weights: string[];
  if (await has(INDEX_FILE)) {
    try {
      weights = await indexShards(cache.snapshotFile(commit, INDEX_FILE));
    } catch {
      return false;
    }
  } else {
    weights = weightFiles(await readdir(cache.snapshotDir(commit)).catch(() => []), null);
  }
  if (weights.length === 0) return false;
  for (const w of weights) if (!(await has(w))) return false;
  return true;
}

/** Brings the files a model needs at `spec` into the cache and returns its snapshot folder. */
export async function downloadSnapshot(spec: HubModelSpec | string, opts: HubOptions = {}): Promise<HubSnapshot> {
  const hub = typeof spec === 'string' ? parseHubSpec(spec) : spec;
  if (!hub) throw new Error(`${String(spec)} is not a Hub model: write hf:ORG/NAME[@REVISION]`);
  const s = await settingsFrom(opts);
  const cache = new RepoCache(s.cacheDir, hub.repoId);
  const cached = await cache.cachedCommit(hub.revision);
  const done = (commit: string, downloaded: string[]): HubSnapshot => ({ repoId: hub.repoId, revision: hub.revision, commit, dir: cache.snapshotDir(commit), downloaded });

  if (cached && !opts.refresh && (await snapshotUsable(cache, cached))) return done(cached, []);
  if (s.offline) {
    // Offline, a partial snapshot is still handed over: the loader names the file that is missing.
    if (cached) return done(cached, []);
    throw new Error(`${hub.text} is not in the Hub cache ${cache.root} and HF_HUB_OFFLINE is set: run once without HF_HUB_OFFLINE to download it (or set HF_HOME / HF_HUB_CACHE to the cache that has it)`);
  }

  const info = await repoInfo(s, hub);
  const listed = new Set(info.files);
  if (!listed.has('config.json')) throw new Error(`${hub.text} has no config.json, so it is not a model genlab can load (files: ${preview(info.files)})`);
  const noWeights = () =>
    new Error(`${hub.text} has no .safetensors weights (files: ${preview(info.files)}); genlab reads safetensors only. Pick a repository (or a revision, e.g. a refs/pr/N conversion) that has model.safetensors`);
  if (!listed.has(INDEX_FILE) && weightFiles(info.files, null).length === 0) throw noWeights();
  const downloaded: string[] = [];
  const get = async (files: string[], label: string) => downloaded.push(...(await fetchFiles(s, cache, hub, info.sha, files, label, opts.onProgress)));

  const small = [...CONFIG_FILES, ...TOKENIZER_FILES, INDEX_FILE].filter((f) => listed.has(f));
  await get(small, 'files');
  const shards = listed.has(INDEX_FILE) ? await indexShards(cache.snapshotFile(info.sha, INDEX_FILE)) : null;
  const weights = weightFiles(info.files, shards);
  const unlisted = weights.filter((w) => !listed.has(w));
  if (unlisted.length > 0) throw new Error(`${hub.text}: ${INDEX_FILE} names ${preview(unlisted)}, which the repository does not have`);
  await get(weights, 'weights');
  await cache.writeRef(hub.revision, info.sha);
  return done(info.sha, downloaded);
}

const preview = (files: readonly string[]): string => (files.length > 8 ? `${files.slice(0, 8).join(', ')}, … (${files.length} in all)` : files.join(', ') || 'none');

// ---- talking to the Hub ----

/** An HTTP answer that is not a success; `retryable` for the ones worth another attempt. */
class HubHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** A connection that failed, dropped or went silent: worth another attempt. */
class NetworkError extends Error {}

async function net<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const e = err as Error & { cause?: { message?: string; code?: string } };
    const why = e.name === 'AbortError' || e.name === 'TimeoutError' ? 'no data within the timeout (HF_HUB_DOWNLOAD_TIMEOUT)' : [e.message, e.cause?.code ?? e.cause?.message].filter(Boolean).join(': ');
    throw new NetworkError(`${what}: ${why}`);
  }
}

const userAgent = `genlab (node/${process.versions.node})`;

/**
 * Follows redirects by hand so the token is sent to the Hub's own origin and to nothing else: the
 * Hub answers large files with a redirect to a storage host, which must not see it. With
 * `allRedirects: false` only relative redirects are followed.
 */
async function request(s: Settings, url: string, init: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; allRedirects: boolean; signal?: AbortSignal }): Promise<Response> {
  const hubOrigin = new URL(s.endpoint).origin;
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    const origin = new URL(current).origin;
    const headers: Record<string, string> = { 'user-agent': userAgent, 'accept-encoding': 'identity', ...init.headers };
    if (s.token && origin === hubOrigin) headers['authorization'] = `Bearer ${s.token}`;
    const res = await net(fetch(current, { method: init.method, headers, redirect: 'manual', ...(init.signal ? { signal: init.signal } : {}) }), `could not reach ${origin}`);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return res;
    // As huggingface_hub: a HEAD follows relative redirects only (a renamed repository); an
    // absolute one is where the file's bytes live, and its headers are the metadata.
    if (!init.allRedirects && /^[a-z][a-z0-9+.-]*:/i.test(location)) return res;
    const next = new URL(location, current);
    await res.body?.cancel();
    current = next.href;
  }
  throw new NetworkError(`more than 10 redirects from ${url}`);
}

/** The Hub's answer as an error that names what was asked for and what to do about it. */
async function hubError(res: Response, s: Settings, hub: HubModelSpec, file?: string): Promise<HubHttpError> {
  await res.body?.cancel();
  const code = res.headers.get('x-error-code');
  const what = file ? `${file} in ${hub.text}` : hub.text;
  const tokenHint = s.token
    ? 'the token in HF_TOKEN was refused or lacks access to it: check it at https://huggingface.co/settings/tokens'
    : 'if it is private or gated, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) of an account that may read it';
  let message: string;
  if (code === 'GatedRepo' || res.status === 403) {
    message = `${hub.repoId} is gated: accept its conditions on ${s.endpoint}/${hub.repoId} with your account, then set HF_TOKEN to a token of that account${s.token ? ' (the current HF_TOKEN has no access)' : ''}`;
  } else if (code === 'RevisionNotFound') {
    message = `revision "${hub.revision}" does not exist in ${hub.repoId} on ${s.endpoint}: after @ put a branch, tag or commit of the repository`;
  } else if (code === 'EntryNotFound') {
    message = `${what}: the file does not exist at that revision`;
  } else if (code === 'RepoNotFound' || res.status === 401 || (res.status === 404 && !file)) {
    message = `repository ${hub.repoId} not found on ${s.endpoint} (${hub.text}); check the name, and ${tokenHint}`;
  } else {
    message = `${s.endpoint} answered ${res.status} ${res.statusText} for ${what}`;
  }
  return new HubHttpError(message, res.status);
}

async function withRetries<T>(s: Settings, fn: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const retryable = err instanceof NetworkError || (err instanceof HubHttpError && err.retryable);
      if (!retryable || attempt >= s.retries) {
        if (retryable) (err as Error).message += `; gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}`;
        throw err;
      }
      await new Promise((r) => setTimeout(r, Math.min(30_000, s.retryDelayMs * 2 ** attempt)));
    }
  }
}

async function repoInfo(s: Settings, hub: HubModelSpec): Promise<{ sha: string; files: string[] }> {
  const url = `${s.endpoint}/api/models/${hub.repoId}/revision/${encodeURIComponent(hub.revision)}`;
  const body = await withRetries(s, async () => {
    const res = await request(s, url, { method: 'GET', allRedirects: false, signal: AbortSignal.timeout(s.timeoutMs) });
    if (!res.ok) throw await hubError(res, s, hub);
    return (await net(res.json(), `could not read ${url}`)) as { sha?: unknown; siblings?: unknown };
  });
  const files = Array.isArray(body.siblings) ? body.siblings.map((x: { rfilename?: unknown }) => x?.rfilename).filter((f): f is string => typeof f === 'string') : null;
  if (typeof body.sha !== 'string' || !isCommitHash(body.sha) || !files) {
    throw new Error(`${url} did not answer with a commit (sha) and a file list (siblings); is HF_ENDPOINT (${s.endpoint}) a Hugging Face Hub?`);
  }
  return { sha: body.sha, files };
}

interface FileMeta {
  file: string;
  /** The blob's name: sha256 for LFS files, the git blob id otherwise. */
  etag: string;
  size: number;
  lfs: boolean;
  url: string;
}

const resolveUrl = (s: Settings, repoId: string, commit: string, file: string): string =>
  `${s.endpoint}/${repoId}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;

/** A HEAD on the file's resolve URL: its ETag and size (X-Linked-* for LFS files, answered with a redirect). */
async function fileMeta(s: Settings, hub: HubModelSpec, commit: string, file: string): Promise<FileMeta> {
  const url = resolveUrl(s, hub.repoId, commit, file);
  return withRetries(s, async () => {
    const res = await request(s, url, { method: 'HEAD', allRedirects: false, signal: AbortSignal.timeout(s.timeoutMs) });
    if (res.status >= 400) throw await hubError(res, s, hub, file);
    const linked = res.headers.get('x-linked-etag');
    // huggingface_hub's normalisation: drop a weak-validator prefix and the quotes.
    const etag = (linked ?? res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
    if (!etag || !Number.isSafeInteger(size) || size < 0) {
      throw new Error(`${url} answered without an ETag and a size; is HF_ENDPOINT (${s.endpoint}) a Hugging Face Hub?`);
    }
    return { file, etag, size, lfs: linked !== null, url };
  });
}

/** Downloads what the snapshot lacks of `files`; returns the files that needed a download. */
async function fetchFiles(s: Settings, cache: RepoCache, hub: HubModelSpec, commit: string, files: string[], label: string, onProgress: HubOptions['onProgress']): Promise<string[]> {
  const metas: FileMeta[] = [];
  for (const file of files) {
    if (await cache.hasFile(commit, file)) continue;
    const meta = await fileMeta(s, hub, commit, file);
    // Another revision (or another tool) may have fetched the same contents already.
    if (await cache.blobExists(meta.etag)) await cache.linkSnapshotFile(commit, file, meta.etag);
    else metas.push(meta);
  }
  if (metas.length === 0) return [];
  const totalBytes = metas.reduce((a, m) => a + m.size, 0);
  const before = await Promise.all(metas.map((m) => fileSize(cache.incompletePath(m.etag))));
  const sessionStart = metas.reduce((a, m, i) => a + Math.min(before[i]!, m.size), 0);
  const bar = s.progress && totalBytes > 0 ? new ByteProgress(`${hub.text} ${label}`, totalBytes, sessionStart) : null;
  let finished = 0;
  try {
    for (const m of metas) {
      const report = (fileBytes: number) => {
        bar?.update(finished + fileBytes);
        onProgress?.({ repoId: hub.repoId, file: m.file, bytes: finished + fileBytes, totalBytes });
      };
      await cache.withBlobLock(m.etag, () => downloadBlob(s, cache, hub, m, report), {
        onWait: (lock) => process.stderr.write(`waiting for another process that downloads ${m.file} of ${hub.repoId} (lock ${lock})\n`),
      });
      await cache.linkSnapshotFile(commit, m.file, m.etag);
      finished += m.size;
    }
  } finally {
    bar?.stop();
  }
  return metas.map((m) => m.file);
}

/**
 * Streams one file into blobs/<etag>.incomplete, resuming from what is there with a Range
 * request, retrying dropped or silent connections, and renames it to blobs/<etag> once its size
 * (and for LFS files its sha256) is right. A finished file that does not match is deleted.
 */
async function downloadBlob(s: Settings, cache: RepoCache, hub: HubModelSpec, m: FileMeta, report: (bytes: number) => void): Promise<void> {
  if (await cache.blobExists(m.etag)) return;
  const part = cache.incompletePath(m.etag);
  await mkdir(path.dirname(part), { recursive: true });
  const checkSha = m.lfs && /^[0-9a-f]{64}$/.test(m.etag);
  let have = -1;
  let hash: Hash = createHash('sha256');

  await withRetries(s, async () => {
    const onDisk = await fileSize(part);
    if (onDisk !== have) {
      // A file left by an earlier run (or longer than it can be): hash what is kept, resume after it.
      have = onDisk <= m.size ? onDisk : 0;
      if (onDisk > m.size) await truncate(part, 0);
      hash = checkSha ? await hashPrefix(part, have) : createHash('sha256');
    }
    if (have === m.size) {
      if (m.size === 0) await (await open(part, 'a')).close();
      return;
    }
    const ctl = new AbortController();
    let timer = setTimeout(() => ctl.abort(), s.timeoutMs);
    try {
      const res = await request(s, m.url, { method: 'GET', allRedirects: true, signal: ctl.signal, headers: have > 0 ? { range: `bytes=${have}-` } : {} });
      const host = new URL(res.url || m.url).host;
      if (res.status === 416) {
        // The partial file is not a prefix of this blob as the server knows it: start over.
        await res.body?.cancel();
        await truncate(part, 0);
        throw new NetworkError(`${host} cannot serve ${m.file} from byte ${have}; starting it over`);
      }
      if (!res.ok && new URL(res.url || m.url).origin === new URL(s.endpoint).origin) throw await hubError(res, s, hub, m.file);
      if (!res.ok) {
        // The storage host large files redirect to (a signed URL may have expired): ask the Hub again.
        await res.body?.cancel();
        throw new NetworkError(`${host} answered ${res.status} ${res.statusText} for ${m.file}`);
      }
      const start = res.status === 206 ? Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN) : 0;
      if (start !== have) {
        // The server ignored (or moved) the range: start over rather than splice two offsets.
        const asked = have;
        await truncate(part, 0);
        have = 0;
        hash = createHash('sha256');
        if (start !== 0) {
          await res.body?.cancel();
          throw new NetworkError(`${host} answered a range from byte ${start} for ${m.file}, not from ${asked}`);
        }
      }
      if (!res.body) throw new NetworkError(`${m.file}: the response has no body`);
      const fh = await open(part, have === 0 ? 'w' : 'a');
      try {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await net(reader.read(), `download of ${m.file} from ${host} broke off after ${have} of ${m.size} bytes`);
          if (done) break;
          clearTimeout(timer);
          timer = setTimeout(() => ctl.abort(), s.timeoutMs);
          if (have + value.byteLength > m.size) {
            await reader.cancel();
            throw new Error(`${m.file} of ${hub.text}: the server sent more than the ${m.size} bytes the Hub announced`);
          }
          await fh.write(value);
          hash.update(value);
          have += value.byteLength;
          report(have);
        }
      } finally {
        await fh.close();
      }
      if (have < m.size) throw new NetworkError(`download of ${m.file} ended after ${have} of ${m.size} bytes`);
    } finally {
      clearTimeout(timer);
    }
  }).catch((err: Error) => {
    if (err instanceof NetworkError || (err instanceof HubHttpError && err.retryable)) {
      err.message += have > 0 ? `; run the same command again to resume from byte ${have} (kept in ${part})` : '';
    }
    throw err;
  });

  if (checkSha) {
    const got = hash.digest('hex');
    if (got !== m.etag) {
      await unlink(part).catch(() => undefined);
      throw new Error(`${m.file} of ${hub.text} is corrupt: its sha256 is ${got} but the Hub states ${m.etag} (X-Linked-Etag); the partial download was deleted, run the command again to download it afresh`);
    }
  }
  await cache.commitBlob(m.etag);
}

async function hashPrefix(file: string, bytes: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (bytes === 0) return hash;
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

/** The shared progress bar in bytes: percent and ETA from the bar, sizes and rate as fields. */
class ByteProgress {
  private readonly bar: Progress;
  private readonly t0 = Date.now();

  constructor(
    label: string,
    private readonly total: number,
    private readonly start: number,
  ) {
    this.bar = progressBar(1000, label, '{done} of {size} | {rate}', { initial: { done: formatBytes(start), size: formatBytes(total) } });
    this.update(start);
  }

  update(bytes: number): void {
    const secs = (Date.now() - this.t0) / 1000;
    const rate = secs > 0 ? `${formatBytes((bytes - this.start) / secs)}/s` : '–';
    this.bar.update(Math.floor((1000 * bytes) / this.total), { done: formatBytes(bytes), size: formatBytes(this.total), rate });
  }

  stop(): void {
    this.bar.stop();
  }
}

function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}
