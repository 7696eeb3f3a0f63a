// The server and the web app share one set of wire types (wire.ts); `npm run typecheck` compiles
// both against it, which is what keeps them in agreement. These tests keep the sharing from
// bundling server code into the app: the app may reach into src/ only for wire.ts and only with
// `import type` (erased before bundling), and wire.ts imports nothing, so the app's compiler never
// reads server modules either.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = path.join(ROOT, 'web');
const WIRE = path.join(ROOT, 'src/serve/wire.ts');

interface ModuleRef {
  specifier: string;
  typeOnly: boolean;
}

/** Every static import/export-from, side-effect import and literal dynamic import() of a source. */
function moduleRefs(source: string): ModuleRef[] {
  const out: ModuleRef[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\s+(type\s)?[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) out.push({ specifier: m[2]!, typeOnly: m[1] !== undefined });
  for (const m of source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push({ specifier: m[1]!, typeOnly: false });
  for (const m of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ specifier: m[1]!, typeOnly: false });
  return out;
}

/** What a web app file imports from outside web/ that it must not. */
function serverImports(file: string, source: string): string[] {
  const problems: string[] = [];
  for (const ref of moduleRefs(source)) {
    if (!ref.specifier.startsWith('.')) continue;
    const target = path.resolve(path.dirname(file), ref.specifier);
    if (!path.relative(WEB, target).startsWith('..')) continue;
    const shown = `${path.relative(ROOT, file)} imports ${ref.specifier}`;
    if (target !== WIRE) problems.push(`${shown}: the app may import only src/serve/wire.ts from outside web/`);
    else if (!ref.typeOnly) problems.push(`${shown} without \`import type\`: it would be bundled`);
  }
  return problems;
}

function webSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'dist' || e.name === 'node_modules' ? [] : webSources(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

describe('wire types shared with the web app', () => {
  it('tells type-only imports from value imports, and server modules from wire.ts', () => {
    const file = path.join(WEB, 'src/components/x.tsx');
    const ok = "import type { Analysis } from '../../../src/serve/wire.ts';\nexport type { Detection } from '../../../src/serve/wire.ts';\nimport { useState } from 'react';\nimport { Api } from '../api.ts';";
    assert.deepEqual(serverImports(file, ok), []);
    const bad = [
      "import { Analysis } from '../../../src/serve/wire.ts';",
      "import type { ServeLimits } from '../../../src/serve/limits.ts';",
      "import {\n  AUTOCOMPLETE_DEFAULTS,\n} from '../../../src/serve/app-routes.ts';",
      "const m = await import('../../../src/serve/wire.ts');",
      "import '../../../src/serve/server.ts';",
    ];
    for (const src of bad) assert.equal(serverImports(file, src).length, 1, src);
  });

  it('the app imports wire.ts as types only and no other server module', () => {
    const files = webSources(path.join(WEB, 'src'));
    const api = files.find((f) => f.endsWith(path.join('src', 'api.ts')));
    assert.ok(api, 'web/src/api.ts not found');
    // The check has something to check: the client takes its types from wire.ts.
    assert.ok(moduleRefs(readFileSync(api, 'utf8')).some((r) => r.typeOnly && path.resolve(path.dirname(api), r.specifier) === WIRE), 'web/src/api.ts does not import type … from src/serve/wire.ts');
    assert.deepEqual(
      files.flatMap((f) => serverImports(f, readFileSync(f, 'utf8'))),
      [],
    );
  });

  it('wire.ts imports nothing', () => {
    assert.deepEqual(moduleRefs(readFileSync(WIRE, 'utf8')), []);
  });
});
