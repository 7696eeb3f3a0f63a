// A request body over the server's limit must reach the client as the 413 the server sends, not as
// a reset connection. The clients run in a child process: in the server's own event loop the race
// between "server closes the socket" and "client reads the answer" is always won by the answer.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';

const BODY_LIMIT = 64 * 1024;

/** Sends oversized completions from another process with Node's fetch and the openai client; prints one outcome per request. */
const CLIENT = `
import OpenAI from 'openai';
const [url, sizes, repeats] = [process.argv[1], JSON.parse(process.argv[2]), Number(process.argv[3])];
const outcomes = [];
for (const size of sizes) for (let i = 0; i < repeats; i++) {
  const prompt = 'x'.repeat(size);
  try {
    const r = await fetch(url + '/v1/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny', prompt }) });
    const body = await r.json();
    outcomes.push('fetch ' + r.status + ' ' + body.error?.code);
  } catch (e) { outcomes.push('fetch failed: ' + (e.cause?.code ?? e.message)); }
  try {
    await new OpenAI({ baseURL: url + '/v1', apiKey: 'none', maxRetries: 0 }).completions.create({ model: 'tiny', prompt, max_tokens: 1 });
    outcomes.push('openai succeeded');
  } catch (e) { outcomes.push(e.status ? 'openai ' + e.status + ' ' + e.code : 'openai failed: ' + (e.cause?.code ?? e.message)); }
}
console.log(JSON.stringify(outcomes));
`;

describe('request bodies over the limit', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  before(async () => {
    tiny = await makeTinyModel();
    srv = await startTestServer(tiny.lm, tiny.dir, { limits: { bodyLimit: BODY_LIMIT } });
  });
  after(async () => {
    await srv.close();
    await tiny.cleanup();
  });

  it('Node fetch and the openai client (another process) read the 413', async () => {
    // Bodies far over the limit: the client is still sending when the server answers.
    const sizes = [BODY_LIMIT + 1000, 2 << 20, 8 << 20];
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CLIENT, srv.url, JSON.stringify(sizes), '4'], { maxBuffer: 1 << 20, cwd: fileURLToPath(new URL('../../', import.meta.url)) });
    const outcomes = JSON.parse(stdout) as string[];
    assert.equal(outcomes.length, sizes.length * 4 * 2);
    const wrong = outcomes.filter((o) => o !== 'fetch 413 request_too_large' && o !== 'openai 413 request_too_large');
    assert.deepEqual(wrong, [], `every oversized request gets the 413; got ${JSON.stringify(outcomes)}`);
  });

  it('the server reads the rest of the body after its 413 instead of resetting the connection', async () => {
    const port = Number(new URL(srv.url).port);
    const total = 4 << 20;
    const result = await new Promise<{ response: string; sentAfterAnswer: number; error: string | null }>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let response = '';
      let sent = 0;
      let sentAtAnswer = -1;
      let error: string | null = null;
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      socket.on('data', (d) => {
        response += d.toString('latin1');
        if (sentAtAnswer < 0) sentAtAnswer = sent;
      });
      socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
      socket.on('close', () => resolve({ response, sentAfterAnswer: sentAtAnswer < 0 ? 0 : sent - sentAtAnswer, error }));
      socket.write(`POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\n\r\n`);
      // Send slowly, so most of the body goes out after the server has answered.
      const send = (): void => {
        if (socket.destroyed) return;
        if (sent >= total) {
          socket.end();
          return;
        }
        const n = Math.min(chunk.length, total - sent);
        socket.write(chunk.subarray(0, n), () => {
          sent += n;
          setTimeout(send, 2);
        });
      };
      send();
    });
    assert.match(result.response, /^HTTP\/1\.1 413 /);
    assert.match(result.response, /request_too_large/);
    assert.equal(result.error, null, 'the connection is not reset while the client sends');
    assert.ok(result.sentAfterAnswer > 1 << 20, `the client sent ${result.sentAfterAnswer} bytes after the answer without an error`);
  });

  it('a client that keeps trickling an oversized body is cut off after the drain time', async () => {
    const short = await startTestServer(tiny.lm, tiny.dir, { limits: { bodyLimit: BODY_LIMIT, bodyDrainMs: 300 } });
    try {
      const port = Number(new URL(short.url).port);
      const t0 = performance.now();
      const { response, ms } = await new Promise<{ response: string; ms: number }>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        let response = '';
        socket.on('data', (d) => (response += d.toString('latin1')));
        socket.on('error', () => {});
        socket.write(`POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${1 << 30}\r\n\r\n`);
        const trickle = setInterval(() => socket.destroyed || socket.write('x'.repeat(100)), 20);
        socket.on('close', () => {
          clearInterval(trickle);
          resolve({ response, ms: performance.now() - t0 });
        });
      });
      assert.match(response, /^HTTP\/1\.1 413 /);
      assert.ok(ms >= 250 && ms < 5000, `closed after ${ms.toFixed(0)} ms, expected about the 300 ms drain time`);
    } finally {
      await short.close();
    }
  });
});
