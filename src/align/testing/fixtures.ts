// A tiny GPT pre-trained for a few seconds on State of the Union text (BPE vocabulary 300, 2
// layers, 64 wide), so that alignment tests work on a model with real structure: its samples are
// word-like, and a property such as "mentions ' the'" has a rate DPO can move. (A random model's
// tokens share no features, so no preference generalises beyond the sampled pairs.)

import { backward } from '../../autograd/tape.ts';
import type { Device } from '../../backend/device.ts';
import { Rng } from '../../backend/rng.ts';
import type { LanguageModel } from '../../generate/generate.ts';
import { defaultGptConfig, Gpt } from '../../models/gpt.ts';
import { AdamW } from '../../optim/adamw.ts';
import { sotuTexts } from '../../serve/testing/fixtures.ts';
import { empty } from '../../tensor/tensor.ts';
import { trainBpe } from '../../tokenizer/train.ts';

export const PROMPTS = [
  'The Congress', 'Our nation', 'We the people', 'In this year', 'The people of', 'Fellow citizens', 'I have the honor', 'It is my duty',
  'The United States', 'Peace and', 'Our country', 'The war', 'The government', 'Let us', 'This year', 'The Senate',
];

export async function pretrainedTinyLm(device: Device, steps = 150): Promise<LanguageModel> {
  const texts = sotuTexts(5);
  const tokenizer = await trainBpe(texts, { vocabSize: 300 });
  const ids = texts.flatMap((x) => [...tokenizer.encode(x, { allowSpecial: false }), tokenizer.eotId!]);
  const model = new Gpt(defaultGptConfig({ vocabSize: tokenizer.vocabSize, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 }), { device, seed: 1 });
  const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
  const rng = new Rng(1);
  const B = 16;
  const T = 32;
  const x = device.heapScope(() => empty(device, [B, T], 'int32'));
  const y = device.heapScope(() => empty(device, [B, T], 'int32'));
  const bx = new Int32Array(B * T);
  const by = new Int32Array(B * T);
  model.train();
  for (let s = 0; s < steps; s++) {
    for (let b = 0; b < B; b++) {
      const o = Math.floor(rng.uniform() * (ids.length - T - 1));
      for (let i = 0; i < T; i++) {
        bx[b * T + i] = ids[o + i]!;
        by[b * T + i] = ids[o + i + 1]!;
      }
    }
    x.set(bx);
    y.set(by);
    opt.zeroGrad();
    device.scope(() => {
      const { loss } = model.forward(x, y);
      backward(loss!);
      return 0;
    });
    opt.lr = 1e-2 * (1 - s / steps) + 1e-3;
    opt.update();
  }
  model.eval();
  // Detach the weights from the optimizer's flat block: later trainers build their own.
  const fresh = new Gpt(model.config, { device, seed: 1 });
  fresh.loadStateDict(new Map(model.namedParameters().map(([n, t]) => [n, t.toArray() as Float32Array])));
  fresh.eval();
  return { model: fresh, tokenizer };
}
