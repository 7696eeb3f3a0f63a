export { attention, type AttentionOptions } from './attention.ts';
export { add, affine, div, dropout, exp, gelu, mul, neg, relu, scale, sub, tanh } from './elementwise.ts';
export { crossEntropy, embedding, layerNorm, softmax, type CrossEntropyOptions } from './layers.ts';
export { linear, linearBf16, matmul, packBf16, type MatmulOptions, type PackedBf16 } from './matmul.ts';
export { max, mean, sum } from './reduce.ts';
export { clone, contiguous, detach, permute, reshape, slice, transpose } from './views.ts';
