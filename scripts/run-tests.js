// Runs every src/**/*.test.ts with Node's test runner (Node 20's --test does not expand globs).
// Extra arguments are passed through, e.g. `npm test -- --test-name-pattern=attention`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = find('src').sort();
const passthrough = process.argv.slice(2);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...passthrough, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
