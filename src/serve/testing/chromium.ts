// Headless Chromium for the browser tests, and what each of them does with it: open the app
// collecting page errors, close everything. Chromium is Debian's /usr/bin/chromium
// (apt-get install -y chromium) or GENLAB_CHROMIUM. The flags keep it off the network this machine
// does not have, so it starts without a burst of refused connections and lookups.

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = process.env['GENLAB_CHROMIUM'] ?? '/usr/bin/chromium';

/** Launches headless Chromium; throws with the install command when it is missing. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` or set GENLAB_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page that records its uncaught errors and console errors, for tests to assert none. */
export type AppPage = Page & { errors: string[] };

/** Opens the app at `url` in a fresh `width`×`height` context, once it shows the tiny test model. */
export async function openApp(browser: Browser, url: string, width: number, height: number): Promise<AppPage> {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  const page = (await context.newPage()) as AppPage;
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  await page.goto(url);
  await page.getByText('tiny, 128-token context').waitFor();
  return page;
}

/** What an element's screenshot shows: its size in pixels and which pixels are painted. */
export interface PaintedPixels {
  width: number;
  height: number;
  /** Pixels that differ clearly from the background (the screenshot's most common colour). */
  painted: number;
  /** One character per pixel, '1' painted and '0' background, row by row (to compare shapes). */
  mask: string;
}

/**
 * Screenshots `target` and counts its painted pixels. The page's own Chromium decodes the PNG
 * (the app's CSP allows data: images), so no image library is needed.
 */
export async function paintedPixels(page: Page, target: Locator): Promise<PaintedPixels> {
  const png = (await target.screenshot()).toString('base64');
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, img.width, img.height).data;
    const counts = new Map<number, number>();
    for (let i = 0; i < d.length; i += 4) {
      const rgb = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
      counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
    }
    const bg = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    let painted = 0;
    let mask = '';
    for (let i = 0; i < d.length; i += 4) {
      const diff = Math.abs(d[i]! - (bg >> 16)) + Math.abs(d[i + 1]! - ((bg >> 8) & 255)) + Math.abs(d[i + 2]! - (bg & 255));
      const on = diff > 60;
      if (on) painted++;
      mask += on ? '1' : '0';
    }
    return { width: img.width, height: img.height, painted, mask };
  }, png);
}

/** Closes what a browser test's `before` opened, whichever parts it got to. */
export async function closeBrowserTest(parts: { browser?: Browser; srv?: { close(): Promise<void> }; tiny?: { cleanup(): Promise<void> }; tmp?: string }): Promise<void> {
  await parts.browser?.close();
  await parts.srv?.close();
  await parts.tiny?.cleanup();
  if (parts.tmp) await rm(parts.tmp, { recursive: true, force: true });
}
