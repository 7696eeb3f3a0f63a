// Encoder–decoder vs decoder-only translation at the same scale and budget: both models are 256
// wide with 6 layers (7.6M and 5.9M parameters: the encoder–decoder adds cross-attention and an
// untied output projection), see the same pairs in the same number of optimizer steps with the
// same shared BPE vocabulary, optimizer and schedule; both report the validation loss per target
// token and are scored with greedy decoding on the held-out test pairs. Usage (a folder from
// `genlab data translation-pairs`):
//
//   node --import tsx bench/translate-architectures.ts runs/translate/data/en-de 1000 [out.json]

import path from 'node:path';
import { noGrad } from '../src/autograd/tape.ts';
import { init } from '../src/backend/registry.ts';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { defaultGptConfig } from '../src/models/gpt.ts';
import { END_OF_TEXT } from '../src/tokenizer/tokenizer.ts';
import { trainBpe } from '../src/tokenizer/train.ts';
import { decoderOnlyBatches, decoderOnlyTranslate, trainDecoderOnly } from '../src/translate/decoder-only.ts';
import { loadTranslator } from '../src/translate/folder.ts';
import { corpusBleu, corpusChrf } from '../src/translate/metrics.ts';
import { readPairsTsv } from '../src/translate/pairs.ts';
import { encodePairs, TRANSLATE_PRESETS, trainTranslator } from '../src/translate/train.ts';
import { translateIds } from '../src/translate/translate.ts';
import { empty } from '../src/tensor/tensor.ts';

const [dir, stepsArg, outFile] = process.argv.slice(2);
if (!dir || !stepsArg) throw new Error('usage: bench/translate-architectures.ts PAIRS_DIR STEPS [OUT.json]');
const steps = Number(stepsArg);
await init();
const preset = TRANSLATE_PRESETS['translate-small'];
const log = (s: string): void => void process.stderr.write(s + '\n');
const test = await readPairsTsv(path.join(dir, 'test.tsv'));
const refs = [test.map((p) => p.target)];

// Encoder–decoder: the regular training command (it keeps the checkpoint with the best validation loss).
const encDir = path.join('runs', 'translate', 'compare', `${path.basename(dir)}-encdec-${steps}`);
const enc = await trainTranslator({ pairs: path.join(dir, 'train.tsv'), out: encDir, model: 'translate-small', steps, evalEvery: steps, onLog: log });
const tm = await loadTranslator(encDir);
const t1 = performance.now();
const encHyps = test.map((p) => {
  const src = tm.tokenizer.encode(p.source, { allowSpecial: false });
  src.push(tm.model.config.eosTokenId);
  return tm.tokenizer.decode(translateIds(tm, src, { beamSize: 1 })[0]!.tokens).trim();
});
const encDecode = (performance.now() - t1) / 1000;

// Decoder-only: a GPT of the same depth and width (6 layers × 256; the encoder–decoder has 3 + 3).
const train = await readPairsTsv(path.join(dir, 'train.tsv'));
const tok = await trainBpe(
  (function* () {
    for (const p of train) {
      yield p.source;
      yield p.target;
    }
  })(),
  { vocabSize: preset.vocabSize, specialTokens: [END_OF_TEXT] },
);
const eos = tok.eotId!;
const nPositions = 2 * preset.model.nPositions;
const { encoded } = encodePairs(train, tok, eos, preset.model.nPositions);
const config = defaultGptConfig({ vocabSize: tok.vocabSize, nPositions, nEmbd: 256, nLayer: 6, nHead: 4, embdPdrop: 0.1, residPdrop: 0.1, attnPdrop: 0 });
const dec = await trainDecoderOnly(encoded, { config, steps, batchTokens: 2 * preset.batchTokens, lr: preset.lr, warmup: 200, weightDecay: 0.01, seed: 1337, eos, onLog: log });
// Validation loss as the encoder–decoder's training measures it: mean cross-entropy per target
// token (and the closing eos) with teacher forcing and no dropout, on valid.tsv beside train.tsv.
const valid = encodePairs(await readPairsTsv(path.join(dir, 'valid.tsv')), tok, eos, preset.model.nPositions).encoded;
let validSum = 0;
let validTokens = 0;
for (const b of decoderOnlyBatches(valid, 2 * preset.batchTokens, eos, null)) {
  const dev = dec.model.device;
  validSum += b.tokens * dev.scope(() => noGrad(() => dec.model.forward(empty(dev, [b.b, b.t], 'int32').set(b.ids), empty(dev, [b.b, b.t], 'int32').set(b.targets)).loss!.item()));
  validTokens += b.tokens;
}
const t2 = performance.now();
const decHyps = test.map((p) => {
  const src = tok.encode(p.source, { allowSpecial: false });
  src.push(eos);
  return decoderOnlyTranslate(dec.model, tok, src, eos, 2 * src.length + 10);
});
const decDecode = (performance.now() - t2) / 1000;

const result = {
  pairs: dir,
  steps,
  testPairs: test.length,
  encoderDecoder: { parameters: enc.parameters, trainSeconds: enc.seconds, validLoss: enc.bestValidLoss, bleu: corpusBleu(encHyps, refs).score, chrf: corpusChrf(encHyps, refs), decodeSeconds: encDecode, example: encHyps[0] },
  decoderOnly: { parameters: dec.model.numParameters(), trainSeconds: dec.seconds, validLoss: validSum / Math.max(1, validTokens), bleu: corpusBleu(decHyps, refs).score, chrf: corpusChrf(decHyps, refs), decodeSeconds: decDecode, example: decHyps[0] },
};
console.log(JSON.stringify(result, null, 2));
if (outFile) await writeJsonAtomic(outFile, result);
