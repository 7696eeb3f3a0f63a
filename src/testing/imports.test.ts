import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importsOf } from './imports.ts';

describe('importsOf', () => {
  it('finds every form of import and tells type-only ones apart', () => {
    const parsed = importsOf(`
      import { a, type B } from './a.ts';
      import type { C } from "./c.ts";
      import { type D, type E } from './d.ts';
      import './side-effect.ts';
      export { f } from './f.ts';
      export type { G } from './g.ts';
      export * from './h.ts';
      export const x = { y: 1 };
      // import { no } from './comment.ts';
      /* export * from './block-comment.ts'; */
      const s = "import { no } from './string.ts'";
      const t = \`import('./template.ts') \${await import('./in-template.ts')}\`;
      const r = /import\\('[^']*'\\)/.test(s);
      const lazy = await import('./lazy.ts');
      const meta = import.meta.url;
      type T = typeof import('./type-position.ts');
    `);
    assert.deepEqual(parsed, [
      { spec: './a.ts', typeOnly: false },
      { spec: './c.ts', typeOnly: true },
      { spec: './d.ts', typeOnly: true },
      { spec: './side-effect.ts', typeOnly: false },
      { spec: './f.ts', typeOnly: false },
      { spec: './g.ts', typeOnly: true },
      { spec: './h.ts', typeOnly: false },
      { spec: './in-template.ts', typeOnly: false },
      { spec: './lazy.ts', typeOnly: false },
      { spec: './type-position.ts', typeOnly: true },
    ]);
  });

  it('reads imports spread over lines and ignores a comment that mentions one', () => {
    const src = [
      "import { a } from './testing/fixtures.ts';",
      "import {\n  b,\n} from 'node:test';",
      "export { c } from '../x.ts';",
      "import 'side-effect';",
      "  const m = await import('./testing/chromium.ts');",
      "// a comment mentioning from 'nowhere' is not an import",
      "const division = total / count; const quote = \"'\"; export { d } from './after-division.ts';",
    ].join('\n');
    assert.deepEqual(importsOf(src).map((i) => i.spec), ['./testing/fixtures.ts', 'node:test', '../x.ts', 'side-effect', './testing/chromium.ts', './after-division.ts']);
  });
});
