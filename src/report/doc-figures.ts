// Measured figures quoted in README.md and docs/*.md, kept in one generated file (docs/figures.json,
// written by scripts/measure-figures.ts) with the command that printed each, the machine, the date
// and a hash of what it depends on (a preset's config, source files). The check below is what the
// test suite runs: a figure whose preset changed since it was measured, or whose text is no longer
// in the docs where it says it is, is reported with the command that regenerates it.
//
// Convention in the Markdown: a line `<!-- figures: id1 id2 -->` directly above a paragraph or a
// table marks that block (up to the next blank line) as carrying those figures; each figure's text
// for that file must occur in every block that names it, and every id named must be registered.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { presets, type PresetName } from '../train/presets.ts';

export const FIGURES_FILE = 'docs/figures.json';
export const FIGURES_SCHEMA = 'genlab-doc-figures/1';
/** How to regenerate one group of figures (the group name is appended). */
export const REGENERATE = 'node --import tsx scripts/measure-figures.ts --only';

export interface Dependency {
  /** The preset the measured model was trained with, and the sha256 of its canonical config. */
  preset?: { name: string; sha256: string };
  /** Source files whose logic produced the value (e.g. the card's scoring rubric), with their sha256. */
  files?: Record<string, string>;
}

export interface Figure {
  /** Stable id, e.g. 'app.trainingFlops'. */
  id: string;
  /** Group of figures measured together (`--only GROUP` regenerates it). */
  group: string;
  /** The measured value (a number, or the numbers behind a table). */
  value: unknown;
  unit: string;
  /** Where the figure is quoted and exactly as it is printed there. */
  appearsIn: { file: string; text: string }[];
  /** The genlab command(s) that printed the value, as a reader would type them. */
  command: string[];
  machine: Machine;
  /** ISO time the group was measured. */
  date: string;
  dependsOn: Dependency;
}

export interface Machine {
  cpu: string;
  cores: number;
  /** Backend, kernels and threads, as `genlab info` reports them. */
  backend: string;
  node: string;
}

export interface FiguresFile {
  schema: typeof FIGURES_SCHEMA;
  note: string;
  figures: Figure[];
}

/** JSON with object keys sorted at every depth, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The hash of a preset's training configuration (its one-line description is not part of it). */
export function presetHash(name: PresetName): string {
  const { description: _description, ...config } = presets[name];
  return sha256(canonicalJson(config));
}

/** sha256 of files relative to `root`, keyed by their relative path ('missing' for a file that is gone). */
export function fileHashes(root: string, files: readonly string[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f, existsSync(path.join(root, f)) ? sha256(readFileSync(path.join(root, f))) : 'missing']));
}

/** What a figure depends on, as it is now. */
export function currentDependency(root: string, d: Dependency): Dependency {
  const now: Dependency = {};
  if (d.preset) {
    if (!(d.preset.name in presets)) throw new Error(`preset '${d.preset.name}' no longer exists`);
    now.preset = { name: d.preset.name, sha256: presetHash(d.preset.name as PresetName) };
  }
  if (d.files) now.files = fileHashes(root, Object.keys(d.files));
  return now;
}

/** Blocks of a Markdown text marked with `<!-- figures: ... -->`: the ids and the block's text. */
export function markedBlocks(markdown: string): { ids: string[]; line: number; text: string }[] {
  const lines = markdown.split('\n');
  const out: { ids: string[]; line: number; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^<!-- figures: ([^>]*?) -->\s*$/.exec(lines[i]!);
    if (!m) continue;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== '') end++;
    out.push({ ids: m[1]!.trim().split(/\s+/), line: i + 1, text: lines.slice(i + 1, end).join('\n') });
  }
  return out;
}

/** Line wrapping is the docs' business: texts are compared with runs of white space as one space. */
const says = (block: string, text: string): boolean => block.replace(/\s+/g, ' ').includes(text.replace(/\s+/g, ' '));

/** Every problem with the registered figures against the docs in `root`; empty when all hold. */
export function checkFigures(root: string, file: FiguresFile, docs: readonly string[]): string[] {
  const problems: string[] = [];
  const regen = (f: Figure): string => `regenerate with \`${REGENERATE} ${f.group}\` (it runs: ${f.command.join('; ')}) and update the docs`;
  const byId = new Map(file.figures.map((f) => [f.id, f]));
  if (byId.size !== file.figures.length) problems.push(`${FIGURES_FILE} lists a figure id twice`);
  const blocks = new Map(docs.map((d) => [d, markedBlocks(readFileSync(path.join(root, d), 'utf8'))]));

  for (const f of file.figures) {
    let now: Dependency;
    try {
      now = currentDependency(root, f.dependsOn);
    } catch (err) {
      problems.push(`${f.id}: ${(err as Error).message}; ${regen(f)}`);
      continue;
    }
    if (f.dependsOn.preset && f.dependsOn.preset.sha256 !== now.preset!.sha256) {
      problems.push(`${f.id}: measured on preset '${f.dependsOn.preset.name}' as it was (sha256 ${f.dependsOn.preset.sha256.slice(0, 12)}), which has changed since (now ${now.preset!.sha256.slice(0, 12)}); ${regen(f)}`);
    }
    const changed = Object.entries(f.dependsOn.files ?? {})
      .filter(([name, hash]) => now.files![name] !== hash)
      .map(([name]) => (now.files![name] === 'missing' ? `${name} (gone)` : name));
    if (changed.length > 0) problems.push(`${f.id}: ${changed.join(', ')} changed since the figure was measured; ${regen(f)}`);
    for (const doc of new Set(f.appearsIn.map((a) => a.file))) {
      const marked = blocks.get(doc);
      if (!marked) {
        problems.push(`${f.id}: ${doc} is not among the checked docs`);
        continue;
      }
      const texts = f.appearsIn.filter((a) => a.file === doc).map((a) => a.text);
      const mine = marked.filter((b) => b.ids.includes(f.id));
      let allFound = true;
      for (const text of texts) {
        if (mine.length === 0) problems.push(`${f.id}: ${doc} has no <!-- figures: ... ${f.id} --> marker above the text "${text}"`);
        else if (!mine.some((b) => says(b.text, text))) {
          allFound = false;
          const where = mine.length === 1 ? `${doc}:${mine[0]!.line} marks the figure but its block does not say` : `${doc}:${mine.map((b) => b.line).join(',')} mark the figure but none of their blocks says`;
          problems.push(`${f.id}: ${where} "${text}" (the measured value); ${regen(f)}`);
        }
      }
      // A marked block must carry one of the figure's texts: a marker left on a reworded paragraph is stale too.
      if (allFound) {
        for (const b of mine) if (!texts.some((t) => says(b.text, t))) problems.push(`${f.id}: ${doc}:${b.line} marks the figure but its block says none of its measured values; ${regen(f)}`);
      }
    }
  }
  for (const [doc, marked] of blocks) {
    for (const b of marked) {
      for (const id of b.ids) {
        const f = byId.get(id);
        if (!f) problems.push(`${doc}:${b.line}: figure '${id}' is not registered in ${FIGURES_FILE}; measure it with scripts/measure-figures.ts`);
        else if (!f.appearsIn.some((a) => a.file === doc)) problems.push(`${doc}:${b.line}: figure '${id}' is marked here but ${FIGURES_FILE} does not list ${doc} for it`);
      }
    }
  }
  return problems;
}

/** Reads docs/figures.json under `root`. */
export function readFigures(root: string): FiguresFile {
  const file = JSON.parse(readFileSync(path.join(root, FIGURES_FILE), 'utf8')) as FiguresFile;
  if (file.schema !== FIGURES_SCHEMA) throw new Error(`${FIGURES_FILE}: schema '${String(file.schema)}', expected '${FIGURES_SCHEMA}'`);
  return file;
}
