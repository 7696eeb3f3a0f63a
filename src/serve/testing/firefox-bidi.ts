// A minimal WebDriver BiDi client for Firefox (Playwright drives only its own patched Firefox,
// which cannot be downloaded here; Debian's firefox-esr speaks the W3C BiDi protocol natively).
// Runs as a child process with --experimental-websocket (Node 20 has WebSocket behind that flag):
//   node --experimental-websocket --import tsx src/serve/testing/firefox-bidi.ts FIREFOX URL OUT_DIR
// It plays the app's core flow and prints one JSON line with what it saw.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const KEY = { tab: '\uE004', enter: '\uE007', down: '\uE015' } as const;

class Bidi {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; type: string; result?: unknown; error?: string; message?: string };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === 'error') p?.reject(new Error(`${msg.error}: ${msg.message}`));
      else p?.resolve(msg.result);
    });
  }

  send<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }
}

async function main(): Promise<void> {
  const [firefox, url, outDir] = process.argv.slice(2) as [string, string, string];
  const profile = mkdtempSync(path.join(os.tmpdir(), 'genlab-firefox-'));
  const proc = spawn(firefox, ['--headless', '--no-remote', '--profile', profile, '--remote-debugging-port', '0', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const wsUrl = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`Firefox did not start its WebDriver BiDi server: ${err.slice(-500)}`)), 30_000);
      proc.stderr.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(`${m[1]}/session`);
        }
      });
    });
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', () => reject(new Error(`cannot connect to ${wsUrl}`)));
    });
    const bidi = new Bidi(ws);
    await bidi.send('session.new', { capabilities: {} });
    const tree = await bidi.send<{ contexts: { context: string }[] }>('browsingContext.getTree', {});
    const context = tree.contexts[0]!.context;
    await bidi.send('browsingContext.setViewport', { context, viewport: { width: 1280, height: 800 } });
    await bidi.send('browsingContext.navigate', { context, url, wait: 'complete' });

    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await bidi.send<{ type: string; result?: { value?: unknown }; exceptionDetails?: { text: string } }>('script.evaluate', {
        expression: `JSON.stringify(${expression})`,
        target: { context },
        awaitPromise: true,
      });
      if (r.type !== 'success') throw new Error(`evaluating ${expression}: ${r.exceptionDetails?.text}`);
      return JSON.parse(r.result!.value as string) as T;
    };
    const waitFor = async (expression: string, what: string): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        if (await evaluate<boolean>(expression)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    const keys = async (...values: string[]): Promise<void> => {
      const actions = values.flatMap((value) => [...value].flatMap((v) => [{ type: 'keyDown', value: v }, { type: 'keyUp', value: v }]));
      await bidi.send('input.performActions', { context, actions: [{ type: 'key', id: 'keyboard', actions }] });
    };
    const screenshot = async (name: string): Promise<void> => {
      const shot = await bidi.send<{ data: string }>('browsingContext.captureScreenshot', { context });
      writeFileSync(path.join(outDir, name), Buffer.from(shot.data, 'base64'));
    };

    await waitFor(`document.querySelector('.tagline')?.textContent.includes('token context')`, 'the server config');
    await evaluate(`(document.querySelector('#doc').focus(), true)`);
    const sentence = 'The Congress of the United States';
    await keys(sentence, KEY.tab);
    await waitFor(`document.querySelectorAll('#suggestions [role=option]').length === 3 && !document.querySelector('#suggestions .streaming')`, 'three suggestions');
    const suggestions = await evaluate<string[]>(`[...document.querySelectorAll('#suggestions [role=option]')].map((e) => e.textContent)`);
    await screenshot('firefox-write-1280x800.png');
    const target = Math.max(0, suggestions.findIndex((t) => /^…(?!\(the model ended)./.test(t)));
    await keys(...Array.from({ length: target }, () => KEY.down), KEY.enter);
    const value = await evaluate<string>(`document.querySelector('#doc').value`);
    const popupClosed = await evaluate<boolean>(`document.querySelectorAll('#suggestions [role=option]').length === 0`);

    await evaluate(`(document.querySelector('#tab-likelihood').click(), true)`);
    await waitFor(`document.querySelectorAll('.tok').length > 3`, 'the likelihood view');
    const tokensText = await evaluate<string>(`[...document.querySelectorAll('.tok')].map((e) => e.textContent).join('')`);
    const box = await evaluate<{ x: number; y: number }>(`(() => { const r = document.querySelectorAll('.tok')[2].getBoundingClientRect(); return { x: Math.round(r.x + r.width / 2), y: Math.round(r.y + r.height / 2) }; })()`);
    await bidi.send('input.performActions', { context, actions: [{ type: 'pointer', id: 'mouse', actions: [{ type: 'pointerMove', x: box.x, y: box.y }] }] });
    await waitFor(`!!document.querySelector('[role=tooltip]')`, 'the tooltip');
    const tooltip = await evaluate<string>(`document.querySelector('[role=tooltip]').innerText`);
    await screenshot('firefox-likelihood-1280x800.png');
    const overflow = await evaluate<boolean>(`document.documentElement.scrollWidth > window.innerWidth`);
    process.stdout.write(`${JSON.stringify({ sentence, suggestions, value, popupClosed, tokensText, tooltip, overflow, inserted: suggestions[target] })}\n`);
    await bidi.send('session.end', {}).catch(() => {});
    ws.close();
  } finally {
    proc.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
