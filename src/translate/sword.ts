// A reader for SWORD Bible modules stored as zText (what Debian's sword-text-* packages install),
// written from the format, without libsword or diatheke:
//
//   mods.d/NAME.conf      [Name] then Key=Value lines: DataPath, ModDrv=zText, CompressType=ZIP, ...
//   DATAPATH/ot.bzs|nt.bzs  block index, 12 bytes per block: u32 offset, u32 compressed size,
//                          u32 uncompressed size (little-endian) into ot.bzz|nt.bzz
//   DATAPATH/ot.bzv|nt.bzv  entry index, 10 bytes per entry: u32 block, u32 offset in the
//                          uncompressed block, u16 size
//   DATAPATH/ot.bzz|nt.bzz  the blocks, each zlib-compressed (CompressType=ZIP)
//
// Entries follow the module's versification: [0] module heading, [1] testament heading, then per
// book a book heading and per chapter a chapter heading followed by its verses. The OSIS markup
// marks the headings (`<div type="book" sID=…>`, `<chapter sID=…>`), so references are read from
// the text rather than from a built-in versification table; two modules with the same
// versification have entries at the same indexes, which is what aligns their verses.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';

export interface SwordModuleConf {
  /** The [Name] of the .conf file. */
  name: string;
  /** Key → value (repeated keys keep their last value). */
  values: Record<string, string>;
  /** The .conf file it came from. */
  file: string;
}

export interface SwordEntry {
  /** Position in the testament's index (what aligns two modules of the same versification). */
  index: number;
  /** 'ot' or 'nt'. */
  testament: 'ot' | 'nt';
  /** Raw OSIS text of the entry (may be ''). */
  raw: string;
}

export interface Verse {
  /** e.g. "Gen.1.1" (OSIS book id, chapter, verse). */
  ref: string;
  /** Plain text: markup, notes and non-canonical titles removed. */
  text: string;
  /** Testament and index: the alignment key between modules of one versification. */
  key: string;
}

export const DEFAULT_SWORD_ROOT = '/usr/share/sword';

/** Parses a SWORD .conf file (INI-like; a trailing backslash continues a value on the next line). */
export function parseSwordConf(text: string, file = '<conf>'): SwordModuleConf {
  let name = '';
  const values: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const section = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (section) {
      if (!name) name = section[1]!;
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + '\n' + lines[++i]!;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  if (!name) throw new Error(`${file}: no [ModuleName] section; is this a SWORD module .conf file?`);
  return { name, values, file };
}

/** Finds the .conf of module `name` (case-insensitive) under root/mods.d. */
export function findSwordModule(name: string, root = DEFAULT_SWORD_ROOT): SwordModuleConf {
  const dir = path.join(root, 'mods.d');
  if (!existsSync(dir)) throw new Error(`no SWORD library at ${root} (missing mods.d/); install a module, e.g. \`apt-get install -y sword-text-kjv\``);
  const found: SwordModuleConf[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.conf'))) {
    const file = path.join(dir, f);
    found.push(parseSwordConf(readFileSync(file, 'utf8'), file));
  }
  const conf = found.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!conf) throw new Error(`SWORD module '${name}' is not installed in ${root}; installed: ${found.map((c) => c.name).join(', ') || 'none'}`);
  return conf;
}

/** Reads every entry of one testament of a zText module (an empty list when the testament is absent). */
export function readZTextTestament(conf: SwordModuleConf, testament: 'ot' | 'nt', root = DEFAULT_SWORD_ROOT): SwordEntry[] {
  const v = conf.values;
  const where = `SWORD module ${conf.name} (${conf.file})`;
  if ((v['ModDrv'] ?? '').toLowerCase() !== 'ztext') throw new Error(`${where} uses ModDrv=${v['ModDrv'] ?? '(none)'}; only zText modules are supported`);
  const compress = (v['CompressType'] ?? 'ZIP').toUpperCase();
  if (compress !== 'ZIP') throw new Error(`${where} uses CompressType=${compress}; only ZIP (zlib) is supported`);
  const encoding = (v['Encoding'] ?? 'Latin-1').toUpperCase();
  const decoder = new TextDecoder(encoding === 'UTF-8' ? 'utf-8' : 'latin1');
  const dataPath = path.join(root, (v['DataPath'] ?? '').replace(/^\.\//, ''));
  const bzs = path.join(dataPath, `${testament}.bzs`);
  if (!existsSync(bzs)) return [];
  return parseZText(readFileSync(bzs), readFileSync(path.join(dataPath, `${testament}.bzv`)), readFileSync(path.join(dataPath, `${testament}.bzz`)), testament, decoder, `${where} ${testament}`);
}

/** Decodes the three zText files of a testament into entries. */
export function parseZText(bzs: Uint8Array, bzv: Uint8Array, bzz: Uint8Array, testament: 'ot' | 'nt', decoder = new TextDecoder('utf-8'), label = 'zText'): SwordEntry[] {
  if (bzs.length % 12 !== 0) throw new Error(`${label}: the block index (.bzs) has ${bzs.length} bytes, not a multiple of 12; the module is damaged`);
  if (bzv.length % 10 !== 0) throw new Error(`${label}: the entry index (.bzv) has ${bzv.length} bytes, not a multiple of 10; the module is damaged`);
  const bs = new DataView(bzs.buffer, bzs.byteOffset, bzs.byteLength);
  const bv = new DataView(bzv.buffer, bzv.byteOffset, bzv.byteLength);
  const blocks = new Map<number, Uint8Array>();
  const block = (b: number): Uint8Array => {
    let data = blocks.get(b);
    if (data) return data;
    if (b * 12 + 12 > bzs.length) throw new Error(`${label}: an entry points at block ${b}, but the index has ${bzs.length / 12} blocks`);
    const offset = bs.getUint32(b * 12, true);
    const size = bs.getUint32(b * 12 + 4, true);
    const expected = bs.getUint32(b * 12 + 8, true);
    if (offset + size > bzz.length) throw new Error(`${label}: block ${b} (${offset}+${size}) runs past the end of the data file (${bzz.length} bytes)`);
    data = new Uint8Array(inflateSync(bzz.subarray(offset, offset + size)));
    if (data.length !== expected) throw new Error(`${label}: block ${b} inflates to ${data.length} bytes, the index says ${expected}`);
    blocks.set(b, data);
    return data;
  };
  const out: SwordEntry[] = [];
  for (let i = 0; i < bzv.length / 10; i++) {
    const b = bv.getUint32(i * 10, true);
    const offset = bv.getUint32(i * 10 + 4, true);
    const size = bv.getUint16(i * 10 + 8, true);
    let raw = '';
    if (size > 0) {
      const data = block(b);
      if (offset + size > data.length) throw new Error(`${label}: entry ${i} (${offset}+${size}) runs past the end of block ${b} (${data.length} bytes)`);
      raw = decoder.decode(data.subarray(offset, offset + size));
    }
    out.push({ index: i, testament, raw });
  }
  return out;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** OSIS → plain text: notes and non-canonical titles dropped, other markup removed, entities decoded. */
export function osisToText(raw: string): string {
  let s = raw.replace(/<note\b[^>]*\/>/g, '').replace(/<note\b[^>]*>[\s\S]*?<\/note>/g, ' ');
  // Section headings are editorial; canonical titles (the Psalms' superscriptions) are scripture.
  s = s.replace(/<title\b([^>]*)>([\s\S]*?)<\/title>/g, (_m, attrs: string, body: string) => (/canonical="true"/.test(attrs) ? ` ${body} ` : ' '));
  s = s.replace(/<[^>]*>/g, '');
  s = s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
  s = s.replace(/¶/g, ' ');
  s = s.replace(/\s+/g, ' ').trim();
  // Some editions set a chapter's first word in capitals ("EN el principio", "¡OH Jehová").
  return s.replace(/^([^\p{L}]*)(\p{Lu}{2,})(?=[\s,;:.!?]|$)/u, (m, lead: string, word: string) => {
    const rest = s.slice(m.length).trimStart();
    const next = /^\p{L}+/u.exec(rest)?.[0] ?? '';
    if (next && next === next.toUpperCase()) return m;
    return lead + word[0] + word.slice(1).toLowerCase();
  });
}

/**
 * The verses of a testament with their references: headings (module, testament, book, chapter)
 * are recognised by their OSIS start markers and skipped; verse numbers count from each chapter
 * heading. Empty verses are kept with text '' so indexes stay aligned.
 */
export function versesOf(entries: readonly SwordEntry[]): Verse[] {
  const out: Verse[] = [];
  let book = '';
  let chapter = 0;
  let verse = 0;
  for (const e of entries) {
    const bookStart = /<div\b(?=[^>]*\btype="book")(?=[^>]*\bsID=)[^>]*\bosisID="([^"]+)"/.exec(e.raw);
    const chapterStart = /<chapter\b(?=[^>]*\bsID=)[^>]*\bosisID="([^".]+)\.(\d+)"/.exec(e.raw);
    if (e.index < 2 || bookStart || chapterStart) {
      if (bookStart) {
        book = bookStart[1]!;
        chapter = 0;
      }
      if (chapterStart) {
        book = chapterStart[1]!;
        chapter = Number(chapterStart[2]);
      }
      verse = 0;
      continue;
    }
    verse++;
    out.push({ ref: `${book || '?'}.${chapter}.${verse}`, text: osisToText(e.raw), key: `${e.testament}:${e.index}` });
  }
  return out;
}

/** All verses of a module (Old then New Testament). */
export function readModuleVerses(name: string, root = DEFAULT_SWORD_ROOT): { conf: SwordModuleConf; verses: Verse[] } {
  const conf = findSwordModule(name, root);
  const verses = [...versesOf(readZTextTestament(conf, 'ot', root)), ...versesOf(readZTextTestament(conf, 'nt', root))];
  if (verses.length === 0) throw new Error(`SWORD module ${name} (${conf.file}) has no ot/nt data files under ${conf.values['DataPath'] ?? '?'}`);
  return { conf, verses };
}

/**
 * Verse pairs of two modules: entries at the same index of the same testament, when both have
 * text. The modules must declare the same versification, or the indexes would not line up.
 */
export function alignVerses(a: { conf: SwordModuleConf; verses: Verse[] }, b: { conf: SwordModuleConf; verses: Verse[] }): Array<{ ref: string; a: string; b: string }> {
  const va = a.conf.values['Versification'] ?? 'KJV';
  const vb = b.conf.values['Versification'] ?? 'KJV';
  if (va !== vb) throw new Error(`SWORD modules ${a.conf.name} (${va}) and ${b.conf.name} (${vb}) use different versifications; verse pairs need the same one`);
  const byKey = new Map(b.verses.map((v) => [v.key, v]));
  const out: Array<{ ref: string; a: string; b: string }> = [];
  for (const v of a.verses) {
    const w = byKey.get(v.key);
    if (!w || !v.text || !w.text) continue;
    out.push({ ref: v.ref, a: v.text, b: w.text });
  }
  return out;
}
