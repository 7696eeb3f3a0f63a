// The web app in a real browser (Debian's Chromium driven by playwright-core): type, press Tab,
// see three streamed suggestions, insert one, rate it, inspect the likelihood view, record a
// preference and find it in SQLite; settings survive a reload; keyboard-only use; an alignment
// run from the Align tab with live charts, switching to its result and comparing old and new; no
// layout overflow at 1280×800 and 390×844. Screenshots go to test-artifacts/ (look at them).
// Needs /usr/bin/chromium (apt-get install -y chromium) or GENLAB_CHROMIUM=/path/to/chromium.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { closeBrowserTest, launchChromium, openApp, paintedPixels, type AppPage, type PaintedPixels } from './testing/chromium.ts';
import { ARTIFACTS, buildWebApp, makeTinyModel, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';

const SENTENCE = 'The Congress of the United States';

describe('the web app in Chromium', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let tmp: string;
  let browser: Browser;
  let db: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-browser-'));
    // Build the app from the current sources into a temp folder (about a second), so the test
    // never serves a stale web/dist.
    const web = path.join(tmp, 'web');
    const failed = await buildWebApp(web);
    if (failed) throw failed;
    tiny = await makeTinyModel();
    db = path.join(tmp, 'feedback.sqlite');
    srv = await startTestServer(tiny.lm, tiny.dir, { webRoot: web, db, runsDir: path.join(tmp, 'runs') });
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  });

  after(() => closeBrowserTest({ browser, srv, tiny, tmp }));

  const open = (width: number, height: number): Promise<AppPage> => openApp(browser, srv.url, width, height);

  const noOverflow = async (page: Page, width: number, what: string): Promise<void> => {
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= width, `${what}: the page is ${scrollWidth}px wide in a ${width}px window`);
    // Columns must not push past the layout either (e.g. a long unbroken line in the side panel).
    const [inner, outer] = await page.evaluate(() => {
      const layout = document.querySelector('.layout')!;
      return [layout.scrollWidth, layout.clientWidth];
    });
    assert.ok(inner <= outer, `${what}: the layout's content is ${inner}px wide in a ${outer}px layout`);
  };

  /** Moves the selection to the first suggestion at or after `from` that has text (the model may end a suggestion at once). */
  const selectNonEmpty = async (page: Page, texts: string[], from: number): Promise<number> => {
    let target = from;
    while (target < texts.length && !/^…(?!\(the model ended)./.test(texts[target]!)) target++;
    assert.ok(target < texts.length, `no suggestion with text: ${JSON.stringify(texts)}`);
    for (let i = 0; i < target; i++) await page.keyboard.press('ArrowDown');
    return target;
  };

  const suggestionsDone = async (page: Page, count: number): Promise<string[]> => {
    const options = page.locator('#suggestions [role=option]');
    await page.waitForFunction((n) => document.querySelectorAll('[role=option]').length === n && document.querySelectorAll('[role=option].streaming').length === 0, count);
    return options.allTextContents();
  };

  /**
   * The rating buttons' and the Suggest button's icons are drawn: inline SVG that paints part of
   * its box, not emoji, which need a colour-emoji font and show as empty boxes without one (as in
   * Debian's Chromium with no emoji font). Two empty boxes would also look alike; the thumbs, both
   * unpressed, don't.
   */
  const iconsArePainted = async (page: Page): Promise<void> => {
    const icons = {
      'thumb-up': page.getByRole('button', { name: 'Good suggestion' }).first().locator('svg.icon'),
      'thumb-down': page.getByRole('button', { name: 'Bad suggestion' }).first().locator('svg.icon'),
      sparkle: page.getByRole('button', { name: /^Suggest/ }).locator('svg.icon'),
    };
    const shots: Record<string, PaintedPixels> = {};
    for (const [name, icon] of Object.entries(icons)) {
      assert.equal(await icon.count(), 1, `the ${name} control has no SVG icon (an emoji again?)`);
      const box = await icon.boundingBox();
      assert.ok(box && box.width >= 12 && box.height >= 12, `the ${name} icon's box is ${JSON.stringify(box)}`);
      const shot = await paintedPixels(page, icon);
      const share = shot.painted / (shot.width * shot.height);
      assert.ok(share > 0.1 && share < 0.8, `the ${name} icon paints ${(100 * share).toFixed(1)}% of its ${shot.width}×${shot.height} box`);
      shots[name] = shot;
    }
    assert.notEqual(shots['thumb-up']!.mask, shots['thumb-down']!.mask, 'thumb-up and thumb-down look the same');
  };

  it('suggests on Tab, inserts with the keyboard, rates, shows likelihoods, records a preference', async () => {
    const page = await open(1280, 800);
    const editor = page.locator('#doc');
    await editor.click();
    await editor.pressSequentially(SENTENCE);
    await editor.press('Tab');
    const first = await suggestionsDone(page, 3);
    assert.equal(first.length, 3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'write-suggestions-1280x800.png') });
    await editor.press('Tab');
    const six = await suggestionsDone(page, 6);
    const target = await selectNonEmpty(page, six, 1);
    const chosen = await page.locator('[role=option][aria-selected=true]').getAttribute('id');
    assert.equal(chosen, `suggestion-${target}`);
    // The inserted text is what the server suggested for this context (seedless, so read it back from the popup).
    // The editor inserts it with line breaks normalised as a textarea shows them.
    const insertedText = six[target]!.replace(/^…/, '').replace(/↵ /g, '\n').replace(/⇥ /g, '\t').replace(/\r\n?/g, '\n');
    await editor.press('Enter');
    assert.equal(await page.locator('#suggestions [role=option]').count(), 0, 'the popup closes after inserting');
    const value = await editor.inputValue();
    assert.equal(value, SENTENCE + insertedText);
    assert.equal(await editor.evaluate((el: HTMLTextAreaElement) => el.selectionStart), value.length, 'the caret sits after the inserted text');

    await iconsArePainted(page);
    await page.getByRole('button', { name: 'Good suggestion' }).first().click();
    await page.getByText('1 rating (1 good 0 bad)').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'write-inserted-1280x800.png') });

    await page.getByRole('tab', { name: 'Likelihood' }).click();
    const tokens = page.locator('.tok');
    await tokens.first().waitFor();
    assert.equal((await tokens.allTextContents()).join(''), value, 'the coloured tokens spell the text');
    await tokens.nth(3).hover();
    const tip = page.getByRole('tooltip');
    await tip.waitFor();
    assert.match(await tip.innerText(), /Likelihood of “.+”: \d+(\.\d+)?%/);
    assert.equal(await tip.locator('li').count(), 10);
    await page.screenshot({ path: path.join(ARTIFACTS, 'likelihood-1280x800.png') });
    await noOverflow(page, 1280, 'likelihood view');

    await page.getByRole('tab', { name: 'Compare' }).click();
    await page.getByRole('button', { name: 'Generate two completions' }).click();
    const a = page.getByRole('button', { name: 'A is better' });
    await page.waitForFunction(() => document.querySelectorAll('.side .cursor').length === 0 && document.querySelectorAll('.side').length === 2);
    await a.waitFor();
    const sides = await page.locator('.side .continuation').allTextContents();
    await a.click();
    await page.getByText(/Saved: you preferred A \(preference #\d+\)/).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'compare-1280x800.png') });

    const store = new Database(db, { readonly: true });
    const rows = store.prepare("SELECT kind, prompt, chosen, rejected, completion, rating, source FROM feedback ORDER BY id").all() as Record<string, unknown>[];
    store.close();
    assert.equal(rows.length, 2);
    assert.deepEqual([rows[0]!['kind'], rows[0]!['prompt'], rows[0]!['completion'], rows[0]!['rating']], ['rating', SENTENCE, insertedText, 1]);
    const visible = (s: unknown): string => String(s).replace(/\n/g, '↵ ').replace(/\t/g, '⇥ ');
    assert.deepEqual([rows[1]!['kind'], rows[1]!['prompt'], visible(rows[1]!['chosen']), visible(rows[1]!['rejected']), rows[1]!['source']], ['preference', value, sides[0], sides[1], 'compare']);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('remembers settings across reloads and works with the keyboard alone', async () => {
    const page = await open(1280, 800);
    const temperature = page.locator('#temperature');
    await temperature.focus();
    const before = Number(await temperature.inputValue());
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const changed = Number(await temperature.inputValue());
    assert.ok(Math.abs(changed - (before + 0.1)) < 1e-9, `${before} → ${changed}`);
    await page.reload();
    await page.getByText('tiny, 128-token context').waitFor();
    assert.equal(Number(await page.locator('#temperature').inputValue()), changed);

    // Keyboard only: Tab from the top of the page reaches the mode tabs and the editor.
    await page.locator('body').click({ position: { x: 2, y: 2 } });
    const reached: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      reached.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute('role') || document.activeElement?.tagName || ''));
      if (reached.at(-1) === 'doc') break;
    }
    assert.ok(reached.includes('tab-write') && reached.at(-1) === 'doc', `focus order: ${reached.join(' → ')}`);
    await page.keyboard.type('We the people');
    await page.keyboard.press('Tab');
    await selectNonEmpty(page, await suggestionsDone(page, 3), 0);
    await page.keyboard.press('Enter');
    assert.ok((await page.locator('#doc').inputValue()).startsWith('We the people'));
    // Esc, then Tab leaves the editor instead of asking for suggestions.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    assert.notEqual(await page.evaluate(() => document.activeElement?.id), 'doc');
    assert.equal(await page.locator('#suggestions [role=option]').count(), 0);
    // The likelihood view is explorable with the arrow keys.
    await page.getByRole('tab', { name: 'Write' }).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Likelihood' }).getAttribute('aria-selected'), 'true');
    await page.locator('.tok').first().waitFor();
    await page.locator('.lk-text').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.getByRole('tooltip').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('tok')), true);
    await page.context().close();
  });

  it('fits a 390×844 phone screen in every mode', async () => {
    const page = await open(390, 844);
    await page.locator('#doc').fill('Fellow citizens of the Senate and House of Representatives,');
    await page.getByRole('button', { name: /Suggest/ }).click();
    const texts = await suggestionsDone(page, 3);
    const popup = await page.locator('.popup').boundingBox();
    assert.ok(popup && popup.x >= 0 && popup.x + popup.width <= 390, `popup at ${JSON.stringify(popup)}`);
    await noOverflow(page, 390, 'write mode');
    await page.screenshot({ path: path.join(ARTIFACTS, 'write-390x844.png') });
    const pick = texts.findIndex((t) => /^…(?!\(the model ended)./.test(t));
    await page.locator('#suggestions [role=option]').nth(Math.max(0, pick)).click();
    await page.getByRole('tab', { name: 'Likelihood' }).click();
    await page.locator('.tok').nth(5).hover();
    await page.getByRole('tooltip').waitFor();
    const tip = await page.getByRole('tooltip').boundingBox();
    assert.ok(tip && tip.x >= 0 && tip.x + tip.width <= 390, `tooltip at ${JSON.stringify(tip)}`);
    await noOverflow(page, 390, 'likelihood view');
    await page.screenshot({ path: path.join(ARTIFACTS, 'likelihood-390x844.png') });
    await page.getByRole('tab', { name: 'Compare' }).click();
    await page.getByRole('button', { name: 'Generate two completions' }).click();
    await page.getByRole('button', { name: 'B is better' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.side .cursor').length === 0);
    await noOverflow(page, 390, 'compare view');
    await page.screenshot({ path: path.join(ARTIFACTS, 'compare-390x844.png'), fullPage: true });
    await page.context().close();
  });

  it('aligns on the collected feedback from the Align tab, switches to the result and compares it with the base', async () => {
    for (const prompt of ['We the people', 'The Congress', 'Our nation']) {
      const r = await fetch(`${srv.url}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'preference', prompt, chosen: ' of the United States', rejected: ' zq vx', source: 'compare' }) });
      assert.equal(r.status, 201);
    }
    const total = ((await (await fetch(`${srv.url}/api/align`)).json()) as { pairs: { total: number } }).pairs.total;
    assert.ok(total >= 3);
    const page = await open(1280, 800);
    await page.getByRole('tab', { name: 'Align' }).click();
    await page.getByText(`${total} feedback pairs`).waitFor();
    await page.locator('#align-steps').fill('24');
    await page.locator('#align-lr').fill('0.005');
    await page.getByRole('button', { name: 'Start alignment' }).click();
    // Live progress: the charts fill while the run trains.
    await page.waitForFunction(() => {
      const p = document.querySelector('progress');
      return p !== null && Number(p.getAttribute('value')) >= 3;
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'align-running-1280x800.png') });
    await page.getByText(/Serving the aligned model as tiny\+dpo-\d+/).waitFor({ timeout: 60_000 });
    const status = await page.locator('.run-status').innerText();
    assert.match(status, /done .* step 24 of 24/i);
    assert.equal(await page.locator('.chart svg path').count(), 2, 'loss and margin curves');
    const lossLabel = await page.locator('.chart svg').first().getAttribute('aria-label');
    assert.match(lossLabel ?? '', /^DPO loss: \d\.\d{3} at step 24$/);
    const aligned = (await page.locator('.result .ok').innerText()).match(/as (\S+)\./)![1]!;
    await page.getByRole('button', { name: `Use ${aligned}` }).click();
    assert.equal(await page.locator('#model').inputValue(), aligned);
    await page.getByText(`${aligned}, 128-token context`).waitFor();
    await page.locator('#align-prompt').fill('The Congress of the United States');
    await page.getByRole('button', { name: 'Generate with both' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.result .side').length === 2 && document.querySelectorAll('.result .side .cursor').length === 0);
    const headings = await page.locator('.result .side h3').allTextContents();
    assert.deepEqual(headings, ['Before · tiny', `After · ${aligned}`]);
    await noOverflow(page, 1280, 'align view');
    await page.screenshot({ path: path.join(ARTIFACTS, 'align-done-1280x800.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
    await page.context().close();

    const phone = await open(390, 844);
    await phone.getByRole('tab', { name: 'Align' }).click();
    await phone.locator('.chart svg path').first().waitFor();
    await noOverflow(phone, 390, 'align view');
    await phone.screenshot({ path: path.join(ARTIFACTS, 'align-390x844.png'), fullPage: true });
    await phone.context().close();
  });
});

describe('the web app sources', () => {
  it('show no emoji (they need a colour-emoji font); icons come from components/icons.tsx', async () => {
    const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
    const files = [path.join(root, 'index.html'), ...(await readdir(path.join(root, 'src'), { recursive: true })).map((f) => path.join(root, 'src', f))];
    const found: string[] = [];
    for (const file of files.filter((f) => /\.(tsx?|css|html)$/.test(f))) {
      (await readFile(file, 'utf8')).split('\n').forEach((line, i) => {
        const m = /\p{Emoji_Presentation}|.\uFE0F/u.exec(line);
        if (m) found.push(`${path.relative(root, file)}:${i + 1}: ${m[0]}`);
      });
    }
    assert.ok(files.length > 10, `only ${files.length} files under ${root}`);
    assert.deepEqual(found, []);
  });
});
