import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translatorForwardFlops, translatorTrainingFlops } from './flops.ts';
import { defaultTranslatorConfig } from '../models/translator.ts';

describe('translator FLOP counter', () => {
  it('equals a hand count for a 1+1-layer toy model', () => {
    const c = defaultTranslatorConfig({ vocabSize: 10, nPositions: 8, nEmbd: 4, nEncoderLayer: 1, nDecoderLayer: 1, nHead: 2, eosTokenId: 0 });
    // Source of 2 tokens, decoder input of 3. Per token: qkv 2·4·12 = 96, out 2·4·4 = 32, MLP
    // 2·(4·16 + 16·4) = 256. Encoder: 2 × 384 + full attention 2·2·4·(2·2 pairs) = 64 → 832.
    // Decoder: 3 × (128 self + 32 q + 32 out + 256 MLP) = 1344, source keys/values 2 × 2·4·8 = 128,
    // causal self-attention 16·(1+2+3) = 96, cross-attention 16·(3·2) = 96 → 1664. Head 3·2·4·10 = 240.
    assert.equal(translatorForwardFlops(c, 1, 2, 3), 832 + 1664 + 240);
    assert.equal(translatorForwardFlops(c, 5, 2, 3), 5 * 2736);
    assert.equal(translatorTrainingFlops(c, 2, 2, 3), 3 * 2 * 2736);
  });
});
