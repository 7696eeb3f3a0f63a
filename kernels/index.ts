// Entry of the genlab kernel module. Built twice by scripts/build-kernels.js: with relaxed SIMD
// (ASC_FEATURE_RELAXED_SIMD true: fused multiply-add) and without (mul + add), from this source.

export { init, heapBase } from './common';
export { fill, affine, axpy, unary, unaryBackward, binary, copyStrided, dropoutForward, dropoutBackward, adamw, sumSquares, sumPartials } from './elementwise';
export {
  reduce, embeddingForward, embeddingBackward, layerNormForward, layerNormBackward, layerNormReduce,
  layerNormMaxPartialDim, softmaxForward, softmaxBackward, crossEntropyForward, crossEntropyBackward,
} from './rows';
export { matmul, matmulScratchBytes } from './matmul';
export { packBf16, matmulBf16 } from './bf16';
export { attentionForward, attentionBackward, attentionScratchBytes } from './attention';
