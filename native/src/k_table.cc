// The kernel table of one ISA build, in KernelId order.

#include "simd.h"

namespace gl {
namespace GL_NS {

const KernelTable* table() {
  static const KernelTable t = {{
      kFill,
      kCopyStrided,
      kBinary,
      kAffine,
      kAxpy,
      kUnary,
      kUnaryBackward,
      kReduce,
      kMatmul,
      kEmbeddingForward,
      kEmbeddingBackward,
      kLayerNormForward,
      kLayerNormBackward,
      kSoftmaxForward,
      kSoftmaxBackward,
      kAttentionForward,
      kAttentionBackward,
      kCrossEntropyForward,
      kCrossEntropyBackward,
      kDropoutForward,
      kDropoutBackward,
      kAdamw,
      kSumSquares,
      kPackBf16,
      kMatmulBf16,
  }};
  static_assert(K_COUNT == 25, "update the table when adding a kernel");
  return &t;
}

}  // namespace GL_NS
}  // namespace gl
