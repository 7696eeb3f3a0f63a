#!/usr/bin/env node
// Entry point of the `genlab` command: runs the compiled CLI from dist/ (built by `npm install`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('genlab: the TypeScript sources are not compiled yet; run `npm install` (or `npm run build`) in the genlab folder\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
