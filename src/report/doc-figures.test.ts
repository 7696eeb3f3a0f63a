// The measured figures quoted in README.md and docs/*.md are those in docs/figures.json, and those
// still describe the presets and code as they are: a changed preset (or card rubric) without
// regenerated figures fails here with the command that regenerates them.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { presets } from '../train/presets.ts';
import { canonicalJson, checkFigures, fileHashes, FIGURES_FILE, FIGURES_SCHEMA, markedBlocks, presetHash, readFigures, type Figure, type FiguresFile } from './doc-figures.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('measured figures in README.md and docs/', () => {
  it('every registered figure is quoted where it says, and was measured on the presets and code as they are now', () => {
    const file = readFigures(ROOT);
    assert.ok(file.figures.length > 0, `${FIGURES_FILE} lists no figures`);
    const problems = checkFigures(ROOT, file, DOCS);
    assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
  });

  it('records for each figure the command that printed it, the machine, the date and what it depends on', () => {
    for (const f of readFigures(ROOT).figures) {
      assert.ok(f.command.length > 0 && f.command.every((c) => c.trim() !== ''), `${f.id}: no command`);
      assert.ok(f.machine.cpu && f.machine.cores > 0 && f.machine.backend, `${f.id}: no machine`);
      assert.ok(!Number.isNaN(Date.parse(f.date)), `${f.id}: date '${f.date}'`);
      assert.ok(f.dependsOn.preset || f.dependsOn.files, `${f.id}: depends on nothing`);
      assert.ok(f.appearsIn.length > 0 && f.appearsIn.every((a) => a.text.trim() !== ''), `${f.id}: quoted nowhere`);
    }
  });

  it('changing the app preset without regenerating fails, naming the figures and the command', () => {
    const app = presets.app as { steps: number };
    const steps = app.steps;
    app.steps = steps + 200;
    try {
      const problems = checkFigures(ROOT, readFigures(ROOT), DOCS);
      const flops = problems.find((p) => p.startsWith('app.trainingFlops:'));
      assert.ok(flops, problems.join('\n'));
      assert.match(flops, /preset 'app'.*has changed/);
      assert.match(flops, /node --import tsx scripts\/measure-figures\.ts --only train/);
      assert.match(flops, /genlab train --model app --out models\/app/);
    } finally {
      app.steps = steps;
    }
  });
});

describe('the figure checker', () => {
  const figure = (o: Partial<Figure> = {}): Figure => ({
    id: 'x.loss',
    group: 'x',
    value: 4.0136,
    unit: 'nats/token',
    appearsIn: [{ file: 'docs/a.md', text: 'loss 4.01' }],
    command: ['genlab train --model tiny --out models/tiny'],
    machine: { cpu: 'test CPU', cores: 2, backend: 'ref', node: process.version },
    date: '2026-01-01T00:00:00.000Z',
    dependsOn: { preset: { name: 'tiny', sha256: presetHash('tiny') } },
    ...o,
  });
  const withDocs = (docs: Record<string, string>, fn: (root: string) => void): void => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'genlab-figures-'));
    try {
      for (const [name, text] of Object.entries(docs)) {
        mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
        writeFileSync(path.join(root, name), text);
      }
      fn(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };
  const file = (...figures: Figure[]): FiguresFile => ({ schema: FIGURES_SCHEMA, note: '', figures });

  it('accepts a marked block that says the value', () => {
    withDocs({ 'docs/a.md': 'Intro.\n\n<!-- figures: x.loss -->\nThe model reached a validation\nloss 4.01 after 1000 steps.\n\nMore.\n' }, (root) => {
      assert.deepEqual(checkFigures(root, file(figure()), ['docs/a.md']), []);
      // Wrapped across lines in the Markdown, the same words still count.
      assert.deepEqual(checkFigures(root, file(figure({ appearsIn: [{ file: 'docs/a.md', text: 'a validation loss 4.01 after' }] })), ['docs/a.md']), []);
    });
  });

  it('reports a stale value, a missing marker, an unregistered marker and a changed source file', () => {
    withDocs({ 'docs/a.md': '<!-- figures: x.loss -->\nloss 4.20 after 1000 steps.\n\nloss 4.01 (unmarked)\n' }, (root) => {
      const [p] = checkFigures(root, file(figure()), ['docs/a.md']);
      assert.match(p!, /^x\.loss: docs\/a\.md:1 marks the figure but its block does not say "loss 4\.01".*--only x.*genlab train --model tiny/);
    });
    withDocs({ 'docs/a.md': 'loss 4.01\n' }, (root) => {
      assert.match(checkFigures(root, file(figure()), ['docs/a.md']).join('\n'), /x\.loss: docs\/a\.md has no <!-- figures: \.\.\. x\.loss --> marker/);
    });
    withDocs({ 'docs/a.md': '<!-- figures: x.loss y.other -->\nloss 4.01\n' }, (root) => {
      assert.match(checkFigures(root, file(figure()), ['docs/a.md']).join('\n'), /docs\/a\.md:1: figure 'y\.other' is not registered/);
    });
    withDocs({ 'docs/a.md': '<!-- figures: x.loss -->\nloss 4.01\n', 'src/rubric.ts': 'export const points = 4;\n' }, (root) => {
      const f = figure({ dependsOn: { files: fileHashes(root, ['src/rubric.ts']) } });
      assert.deepEqual(checkFigures(root, file(f), ['docs/a.md']), []);
      writeFileSync(path.join(root, 'src/rubric.ts'), 'export const points = 3;\n');
      assert.match(checkFigures(root, file(f), ['docs/a.md']).join('\n'), /x\.loss: src\/rubric\.ts changed since the figure was measured/);
      rmSync(path.join(root, 'src/rubric.ts'));
      assert.match(checkFigures(root, file(f), ['docs/a.md']).join('\n'), /x\.loss: src\/rubric\.ts \(gone\) changed since the figure was measured/);
    });
  });

  it('reports a figure measured on another version of its preset', () => {
    withDocs({ 'docs/a.md': '<!-- figures: x.loss -->\nloss 4.01\n' }, (root) => {
      const stale = figure({ dependsOn: { preset: { name: 'tiny', sha256: '0'.repeat(64) } } });
      assert.match(checkFigures(root, file(stale), ['docs/a.md']).join('\n'), /x\.loss: measured on preset 'tiny' as it was \(sha256 000000000000\), which has changed since/);
      const gone = figure({ dependsOn: { preset: { name: 'huge', sha256: '0'.repeat(64) } } });
      assert.match(checkFigures(root, file(gone), ['docs/a.md']).join('\n'), /x\.loss: preset 'huge' no longer exists/);
    });
  });

  it('hashes a preset by its configuration, keys in any order, not its description', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } }), '{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}');
    const tiny = presets.tiny as { description: string; lr: number };
    const before = presetHash('tiny');
    const { description, lr } = tiny;
    try {
      tiny.description = 'reworded';
      assert.equal(presetHash('tiny'), before);
      tiny.lr = lr * 2;
      assert.notEqual(presetHash('tiny'), before);
    } finally {
      tiny.description = description;
      tiny.lr = lr;
    }
  });

  it('a marked block runs from the marker to the next blank line', () => {
    const blocks = markedBlocks('a\n<!-- figures: p q -->\n| t |\n|---|\n| 1 |\n\n| 2 |\n');
    assert.deepEqual(blocks, [{ ids: ['p', 'q'], line: 2, text: '| t |\n|---|\n| 1 |' }]);
  });
});
