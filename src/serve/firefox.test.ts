// The web app's core flow in Firefox (Debian's firefox-esr over WebDriver BiDi; see
// testing/firefox-bidi.ts): suggestions on Tab, keyboard insertion, the likelihood tooltip, no
// horizontal overflow. Skipped, saying why, when firefox-esr is not installed.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ARTIFACTS, buildWebApp, makeTinyModel, startTestServer } from './testing/fixtures.ts';

const FIREFOX = process.env['GENLAB_FIREFOX'] ?? '/usr/bin/firefox-esr';
const skip = existsSync(FIREFOX) ? false : `no Firefox at ${FIREFOX} (apt-get install -y firefox-esr, or set GENLAB_FIREFOX)`;

describe('the web app in Firefox', () => {
  it('suggests on Tab, inserts with the keyboard and shows likelihood alternatives', { skip }, async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-firefox-test-'));
    const web = path.join(tmp, 'web');
    const failed = await buildWebApp(web);
    if (failed) throw failed;
    const tiny = await makeTinyModel();
    const srv = await startTestServer(tiny.lm, tiny.dir, { webRoot: web });
    await mkdir(ARTIFACTS, { recursive: true });
    try {
      const driver = fileURLToPath(new URL('./testing/firefox-bidi.ts', import.meta.url));
      const { execFile } = await import('node:child_process');
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--experimental-websocket', '--no-warnings', '--import', 'tsx', driver, FIREFOX, srv.url, ARTIFACTS], { timeout: 90_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      const seen = JSON.parse(out.trim().split('\n').at(-1)!) as { sentence: string; suggestions: string[]; value: string; popupClosed: boolean; tokensText: string; tooltip: string; overflow: boolean; inserted: string };
      assert.equal(seen.suggestions.length, 3);
      const inserted = seen.inserted.replace(/^…/, '').replace(/↵ /g, '\n').replace(/⇥ /g, '\t').replace(/\r\n?/g, '\n');
      assert.equal(seen.value, seen.sentence + inserted);
      assert.equal(seen.popupClosed, true);
      assert.equal(seen.tokensText, seen.value);
      assert.match(seen.tooltip, /Likelihood of “.+”: \d+(\.\d+)?%/);
      assert.equal(seen.overflow, false);
    } finally {
      await srv.close();
      await tiny.cleanup();
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
