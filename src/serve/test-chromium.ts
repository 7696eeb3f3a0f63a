// Headless Chromium for the browser tests: Debian's /usr/bin/chromium (apt-get install -y chromium)
// or GENLAB_CHROMIUM. The flags keep it off the network this machine does not have, so it starts
// without a burst of refused connections and lookups.

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

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
