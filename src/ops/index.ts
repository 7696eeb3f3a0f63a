export { attention, mergeHeads, splitHeads, type AttentionOptions } from './attention.ts';
export { add, affine, div, dropout, exp, gelu, mul, neg, relu, scale, silu, sub, swiglu, tanh } from './elementwise.ts';
export { crossEntropy, embedding, layerNorm, rmsNorm, rope, softmax, type CrossEntropyOptions } from './layers.ts';
export { linear, linearBf16, linearOutIn, matmul, packBf16, type MatmulOptions, type PackedBf16 } from './matmul.ts';
export { max, mean, sum } from './reduce.ts';
export { clone, contiguous, detach, permute, reshape, slice, transpose, writeSlice } from './views.ts';
