// What `npm run build:ts` compiles into dist/ is what users install: test support (suites, oracles,
// fixtures, browser drivers) lives in `testing/` folders that tsconfig.build.json excludes. The
// compiler's own file list is the evidence — it follows every import, so a built file importing a
// testing/ module pulls that module into the list even though the folder is excluded.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { importsOf } from './testing/imports.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function isTestOnly(file: string): boolean {
  return file.split(/[\\/]/).includes('testing') || file.endsWith('.test.ts');
}

describe('build contents (tsconfig.build.json)', () => {
  it('compiles no test file, no testing/ module and nothing that imports node:test', async () => {
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const { stdout } = await promisify(execFile)(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--listFilesOnly'], { cwd: ROOT });
    const built = stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.includes(`${path.sep}node_modules${path.sep}`));
    // The list really is the build's sources (guards against an empty or wrong list passing).
    assert.ok(built.some((f) => f.endsWith(path.join('src', 'index.ts'))), `src/index.ts missing from the build list:\n${stdout.slice(0, 500)}`);
    assert.ok(built.length > 50, `only ${built.length} files in the build`);
    const problems: string[] = [];
    for (const file of built) {
      const rel = path.relative(ROOT, file);
      if (isTestOnly(rel)) problems.push(`${rel} is test-only but compiled into dist/ (a built file imports it, or tsconfig.build.json includes it)`);
      for (const { spec } of importsOf(readFileSync(file, 'utf8'))) {
        if (spec === 'node:test' || spec.startsWith('node:test/')) problems.push(`${rel} imports ${spec}: move it into a testing/ folder`);
        else if (spec.startsWith('.') && isTestOnly(spec)) problems.push(`${rel} imports ${spec}: dist/ code must not depend on test support`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
