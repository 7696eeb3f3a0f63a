// Issue 7 in the web app, in Debian's Chromium (playwright-core): the Likelihood view marks the
// server's low-confidence spans with a dotted underline (and only those tokens), its tooltip shows
// the entropy, "Detect watermark" reports z and p; the watermark toggle in Settings survives a
// reload and is sent with suggestions. Screenshots go to test-artifacts/ (look at them).
// Needs /usr/bin/chromium (apt-get install -y chromium) or GENLAB_CHROMIUM=/path/to/chromium.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { closeBrowserTest, launchChromium, openApp, type AppPage } from './testing/chromium.ts';
import { ARTIFACTS, buildWebApp, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import { makeTrainedTinyModel } from './testing/trained-model.ts';
import type { Analysis } from './wire.ts';

const HUMAN = 'The Congress of the United States shall assemble at least once in every year, and such meeting shall be on the first Monday in December.';

describe('low-confidence spans and the watermark in the web app', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let tmp: string;
  let browser: Browser;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-account-browser-'));
    const web = path.join(tmp, 'web');
    // The app is built from the current sources (never a stale web/dist) while the model trains.
    const build = buildWebApp(web);
    // Trained for a moment, so some tokens are confident and some are not (a random model is unsure of every token).
    tiny = await makeTrainedTinyModel();
    const failed = await build;
    if (failed) throw failed;
    srv = await startTestServer(tiny.lm, tiny.dir, { webRoot: web, db: path.join(tmp, 'feedback.sqlite'), runsDir: path.join(tmp, 'runs') });
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(() => closeBrowserTest({ browser, srv, tiny, tmp }));

  const open = (width: number, height: number): Promise<AppPage> => openApp(browser, srv.url, width, height);

  const post = async <T,>(url: string, body: unknown): Promise<T> => {
    const res = await fetch(srv.url + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, url);
    return (await res.json()) as T;
  };

  /** Writes `text` as the document and opens the Likelihood view on it. */
  const analyze = async (page: Page, text: string): Promise<void> => {
    await page.getByRole('tab', { name: 'Write' }).click();
    await page.locator('#doc').fill(text);
    await page.getByRole('tab', { name: 'Likelihood' }).click();
    await page.locator('.tok').first().waitFor();
  };

  it('the watermark toggle is remembered across reloads and sent with suggestions', async () => {
    const page = await open(1280, 800);
    const toggle = page.getByLabel('Watermark suggestions');
    assert.equal(await toggle.isChecked(), false, 'off by default');
    await toggle.check();
    await page.reload();
    await page.getByText('tiny, 128-token context').waitFor();
    assert.equal(await page.getByLabel('Watermark suggestions').isChecked(), true, 'still on after a reload');
    const editor = page.locator('#doc');
    await editor.click();
    await editor.pressSequentially('We the people');
    const request = page.waitForRequest((r) => r.url().endsWith('/api/autocomplete'));
    await editor.press('Tab');
    assert.equal((await request).postDataJSON().watermark, true);
    await page.getByLabel('Watermark suggestions').uncheck();
    const plain = page.waitForRequest((r) => r.url().endsWith('/api/autocomplete'));
    await editor.click();
    await editor.press('End');
    await editor.pressSequentially(' of');
    await editor.press('Tab');
    assert.equal('watermark' in (await plain).postDataJSON(), false);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('underlines exactly the low-confidence spans, shows the entropy, and detects the watermark', async () => {
    const page = await open(1280, 800);
    await analyze(page, HUMAN);
    const expected = await post<Analysis>('/api/analyze', { text: HUMAN, top_k: 10 });
    const inSpan = new Set(expected.low_confidence_spans.flatMap((s) => Array.from({ length: s.end_token - s.first_token }, (_, k) => s.first_token + k)));
    assert.ok(inSpan.size > 0 && inSpan.size < expected.tokens.length, `${inSpan.size} of ${expected.tokens.length} tokens in spans: the test needs both kinds`);
    const marked = await page.locator('.tok').evaluateAll((els) => els.flatMap((el, i) => (el.classList.contains('low') ? [i] : [])));
    assert.deepEqual(marked, [...inSpan].sort((a, b) => a - b));
    const style = async (i: number): Promise<string> => page.locator('.tok').nth(i).evaluate((el) => getComputedStyle(el).textDecorationStyle + ' ' + getComputedStyle(el).textDecorationLine);
    const lowAt = marked[0]!;
    const sureAt = expected.tokens.findIndex((_, i) => !inSpan.has(i));
    assert.equal(await style(lowAt), 'dotted underline');
    assert.notEqual(await style(sureAt), 'dotted underline');
    await page.getByText('low confidence: a run of tokens the model gave under 10%').waitFor();
    await page.getByText(`${expected.low_confidence_spans.length} low-confidence span`).waitFor();

    // Hover a marked token whose entropy is known: the tooltip gives it.
    const probe = marked.find((i) => expected.tokens[i]!.entropy !== null)!;
    await page.locator('.tok').nth(probe).hover();
    const tip = page.getByRole('tooltip');
    await tip.waitFor();
    const tipText = await tip.innerText();
    assert.ok(tipText.includes(`Entropy here ${expected.tokens[probe]!.entropy!.toFixed(2)} nats`), tipText);
    assert.match(tipText, /in a low-confidence span/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'likelihood-spans-1280x800.png') });

    // Human text: no watermark.
    await page.getByRole('button', { name: 'Detect watermark' }).click();
    await page.getByText(/^No watermark found: z = -?\d+\.\d\d, p = /).waitFor();

    // Text the server watermarked (as the toggle asks for it) is recognised.
    const wm = await post<{ suggestions: { text: string }[] }>('/api/autocomplete', { context: 'The Congress', length: 100, n: 1, seed: 12, watermark: true });
    const marked2 = `The Congress${wm.suggestions[0]!.text}`;
    await analyze(page, marked2);
    await page.getByRole('button', { name: 'Detect watermark' }).click();
    const found = page.getByText(/^Watermark detected: z = \d+\.\d\d > 4, p = /);
    await found.waitFor();
    const z = Number((await found.innerText()).match(/z = (\d+\.\d\d)/)![1]);
    const direct = await post<{ z: number }>('/api/detect', { text: marked2 });
    assert.equal(z.toFixed(2), direct.z.toFixed(2));
    await page.screenshot({ path: path.join(ARTIFACTS, 'likelihood-watermark-1280x800.png') });
    assert.deepEqual(page.errors, []);
    await page.context().close();

    const phone = await open(390, 844);
    await analyze(phone, HUMAN);
    await phone.getByRole('button', { name: 'Detect watermark' }).click();
    await phone.getByText(/^No watermark found/).waitFor();
    // The panel with its new buttons, legend and detection line fits (the tab bar is browser.test.ts's concern).
    const [right, inner, outer] = await phone.locator('.likelihood').evaluate((el) => [el.getBoundingClientRect().right, el.scrollWidth, el.clientWidth]);
    assert.ok(right <= 390 && inner <= outer, `the Likelihood panel ends at ${right}px and is ${inner}px wide inside ${outer}px in a 390px window`);
    await phone.screenshot({ path: path.join(ARTIFACTS, 'likelihood-spans-390x844.png') });
    await phone.context().close();
  });
});
