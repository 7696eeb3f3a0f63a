// Headless Chromium for the browser tests, and what each of them does with it: open the app
// collecting page errors, close everything. Chromium is Debian's /usr/bin/chromium
// (apt-get install -y chromium) or GENLAB_CHROMIUM. The flags keep it off the network this machine
// does not have, so it starts without a burst of refused connections and lookups.

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';

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

/** Closes what a browser test's `before` opened, whichever parts it got to. */
export async function closeBrowserTest(parts: { browser?: Browser; srv?: { close(): Promise<void> }; tiny?: { cleanup(): Promise<void> }; tmp?: string }): Promise<void> {
  await parts.browser?.close();
  await parts.srv?.close();
  await parts.tiny?.cleanup();
  if (parts.tmp) await rm(parts.tmp, { recursive: true, force: true });
}
