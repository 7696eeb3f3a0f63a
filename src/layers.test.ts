// The layering of src/: every folder imports only folders below it in LAYERS (so no two folders
// import each other, whatever the chain), nothing outside src/cli/ imports the command line, and no
// file is part of an import cycle. The graph is read from the sources of the library (tests and
// testing/ helpers are left out): static imports and re-exports, type-only ones included, and
// dynamic import('…') calls. Failures name the importing file, the imported one and the chain.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importsOf } from './testing/imports.ts';

const SRC = fileURLToPath(new URL('.', import.meta.url));

/**
 * The folders of src/, bottom to top; each may import only the ones before it. '.' is src/index.ts,
 * the package's API. The order differs from the design brief's first picture where the code showed
 * a better one: backend sits below tensor (a tensor is a view into a device's memory), generate below
 * io (a model folder loads into a LanguageModel), and record (a run's record, energy and emissions)
 * below train, which writes it, while account (the model card and its studies) reads every kind of
 * model folder and so sits above align and translate.
 */
const LAYERS = [
  'util', // progress bars, atomic file writes, charts: used everywhere, import nothing of genlab's
  'backend',
  'tensor',
  'autograd',
  'ops',
  'nn',
  'optim',
  'models',
  'tokenizer',
  'generate',
  'io',
  'export', // GGUF for llama.cpp and Ollama, and back: reads model folders (io), writes files
  'data',
  'record',
  'train',
  'align',
  'translate',
  'scaling',
  'experiments', // studies that train models, e.g. raw vs cleaned data
  'bench',
  'account',
  'report',
  'serve',
  'cli',
  '.',
];

interface Edge {
  from: string;
  to: string;
  /** `import type`, `export type`, or every named import marked `type`: erased when compiled. */
  typeOnly: boolean;
}

function libraryFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testing' || e.name === 'fixtures' || e.name === 'node_modules' ? [] : libraryFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const rel = (f: string): string => path.relative(SRC, f).split(path.sep).join('/');
const folderOf = (f: string): string => (rel(f).includes('/') ? rel(f).split('/')[0]! : '.');

function importGraph(): { files: string[]; edges: Edge[] } {
  const files = libraryFiles(SRC).sort();
  const edges: Edge[] = [];
  for (const f of files) {
    for (const { spec, typeOnly } of importsOf(readFileSync(f, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const to = path.resolve(path.dirname(f), spec);
      assert.ok(existsSync(to), `${rel(f)} imports '${spec}', which does not exist`);
      edges.push({ from: f, to, typeOnly });
    }
  }
  return { files, edges };
}

/** Cycles found by a depth-first walk, each as the files around it (first = last); at least one per circle. */
function cycles(files: readonly string[], edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)?.push(e.to);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of next.get(f) ?? []) {
      if (state.get(g) === 'open') found.push([...stack.slice(stack.indexOf(g)), g]);
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('layers of src/', () => {
  const { files, edges } = importGraph();

  it('reads the imports of the real sources', () => {
    // A file known to import statically and lazily is read right.
    assert.ok(files.length > 100, `${files.length} library files found`);
    const cliEdges = edges.filter((e) => rel(e.from) === 'cli/eval.ts').map((e) => rel(e.to));
    for (const f of ['util/progress.ts', 'cli/options.ts', 'cli/translate.ts', 'io/model-folder.ts', 'record/run-record.ts']) assert.ok(cliEdges.includes(f), `cli/eval.ts imports ${f}`);
  });

  it('nothing outside src/cli/ imports the command line', () => {
    const bad = edges.filter((e) => folderOf(e.from) !== 'cli' && folderOf(e.to) === 'cli');
    assert.deepEqual(bad.map((e) => `${rel(e.from)} imports ${rel(e.to)}`), [], 'library code must not depend on src/cli/; move what it needs to a lower folder (e.g. src/util/)');
  });

  it('every folder has a place in the layers', () => {
    const folders = [...new Set(files.map(folderOf))].sort();
    assert.deepEqual(folders.filter((f) => !LAYERS.includes(f)), [], 'add the new folder of src/ to LAYERS in src/layers.test.ts, above everything it imports');
  });

  it('each folder imports only folders below it', () => {
    const rank = (f: string): number => LAYERS.indexOf(folderOf(f));
    const bad = edges.filter((e) => rank(e.to) > rank(e.from));
    assert.deepEqual(
      bad.map((e) => `${rel(e.from)} imports ${rel(e.to)}${e.typeOnly ? ' (types)' : ''}, but ${folderOf(e.from)}/ sits below ${folderOf(e.to)}/`),
      [],
      `LAYERS, bottom to top: ${LAYERS.join(', ')}`,
    );
  });

  it('no file is part of an import cycle', () => {
    // Type-only imports are erased when compiled, so they cannot make modules load in a circle: two
    // files of one folder may name each other's types (the generated kernel table and kernels.ts
    // do), and across folders the layer order already rules circles out.
    const runtime = edges.filter((e) => !e.typeOnly);
    assert.deepEqual(cycles(files, runtime).map((c) => c.map(rel).join(' → ')), []);
  });
});
