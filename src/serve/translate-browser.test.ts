// The Translate tab in a real browser (Debian's Chromium driven by playwright-core): the panel
// opens with the talk's example (Lincoln, English → German), translates it, translates sentences
// of the synthetic language pair its tiny model learned (so the words on screen are real
// translations), switches to greedy decoding, and fits 1280×800 and 390×844 screens.
// Screenshots go to test-artifacts/. Needs /usr/bin/chromium or GENLAB_CHROMIUM.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { closeBrowserTest, launchChromium, openApp, type AppPage } from './testing/chromium.ts';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { syntheticTranslation, syntheticTranslator } from '../translate/testing/fixtures.ts';
import { ARTIFACTS, buildWebApp, makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import { TRANSLATE_EXAMPLE } from './translate-routes.ts';


describe('the Translate tab in Chromium', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let tmp: string;
  let browser: Browser;
  let dev: Device;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-translate-browser-'));
    const web = path.join(tmp, 'web');
    const failed = await buildWebApp(web);
    if (failed) throw failed;
    tiny = await makeTinyModel();
    // One kernel thread: for a model this small, thread hand-offs cost more than they save.
    dev = await createDevice({ threads: 1 });
    const synthetic = await syntheticTranslator(path.join(tmp, 'synthetic'), { device: dev, steps: 500 });
    const tm = await synthetic.load();
    srv = await startTestServer(tiny.lm, tiny.dir, { webRoot: web, translators: [{ tm, id: 'en-de-synthetic' }] });
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(async () => {
    await dev?.close();
    await closeBrowserTest({ browser, srv, tiny, tmp });
  });

  const open = async (width: number, height: number): Promise<AppPage> => {
    const page = await openApp(browser, srv.url, width, height);
    await page.getByRole('tab', { name: 'Translate' }).click();
    await page.getByRole('heading', { name: 'Translate: English → German' }).waitFor();
    return page;
  };

  const noOverflow = async (page: Page, width: number, what: string): Promise<void> => {
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    // Names the widest elements that stick out, so a failure says what to fix.
    const culprits = await page.evaluate((w) => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} (${Math.round(e.getBoundingClientRect().right)}px)`).slice(0, 6), width);
    assert.ok(scrollWidth <= width, `${what}: the page is ${scrollWidth}px wide in a ${width}px window: ${culprits.join(', ')}`);
  };

  const translation = async (page: Page, before: string | null): Promise<string> => {
    await page.waitForFunction((prev) => {
      const out = document.querySelector('#tr-output');
      return out !== null && out.textContent !== prev && !document.querySelector('button.primary[disabled]');
    }, before);
    return page.locator('#tr-output').innerText();
  };

  it('translates the Lincoln example, then sentences the model knows, with beam search and greedy', async () => {
    const page = await open(1280, 800);
    const source = page.locator('#tr-source');
    assert.equal(await source.inputValue(), TRANSLATE_EXAMPLE, 'the panel opens with the talk’s example');
    await page.getByRole('button', { name: 'Translate', exact: true }).click();
    const lincoln = await translation(page, null);
    const api = (await (await fetch(`${srv.url}/api/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: TRANSLATE_EXAMPLE, beam: 5 }) })).json()) as { translation: string; sentences: unknown[] };
    assert.equal(lincoln, api.translation, 'the panel shows what the API returns');
    assert.equal(api.sentences.length, 3);
    assert.match(await page.locator('.side h3').innerText(), /German · beam 5 · \d+\.\d\d s/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'translate-lincoln-1280x800.png') });

    const known = 'two red cat.\nblue dog one white house.';
    await source.fill(known);
    await page.getByRole('button', { name: 'Translate', exact: true }).click();
    const out = await translation(page, lincoln);
    assert.equal(out, syntheticTranslation(known), `the model's translation: ${JSON.stringify(out)}`);
    await page.getByText('Sentence by sentence').click();
    assert.equal(await page.locator('.side ol li').count(), 2);

    await page.locator('#tr-beam').selectOption('1');
    await page.getByRole('button', { name: 'Translate', exact: true }).click();
    await page.getByText(/German · greedy/).waitFor();
    assert.equal(await page.locator('#tr-output').innerText(), syntheticTranslation(known));
    await page.screenshot({ path: path.join(ARTIFACTS, 'translate-1280x800.png') });
    await noOverflow(page, 1280, 'translate view');

    await page.getByRole('button', { name: 'Use the example (Lincoln)' }).click();
    assert.equal(await source.inputValue(), TRANSLATE_EXAMPLE);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('reports a request the server refuses and fits a phone screen', async () => {
    const page = await open(390, 844);
    await page.locator('#tr-source').fill(Array.from({ length: 70 }, (_, i) => `Sentence ${i} ends here.`).join(' '));
    await page.getByRole('button', { name: 'Translate', exact: true }).click();
    await page.getByRole('alert').getByText(/70 sentences; one request translates at most 64/).waitFor();
    await page.locator('#tr-source').fill('one black dog.');
    await page.getByRole('button', { name: 'Translate', exact: true }).click();
    assert.equal(await translation(page, null), 'eins schwarz Hund.');
    await noOverflow(page, 390, 'translate view');
    await page.screenshot({ path: path.join(ARTIFACTS, 'translate-390x844.png'), fullPage: true });
    await page.context().close();
  });
});
