// The reference kernels: plain loops over typed views of the device memory, written to be read.
// They are the executable specification of src/backend/kernels.ts; the wasm kernels must agree
// with them. Every sum is accumulated in a JS number (float64) and rounded to float32 once, when
// stored, so these kernels are at least as accurate as any optimised backend.

import {
  BinaryOp,
  MAX_DIMS,
  kvGroupOf,
  visibleKeys,
  windowOf,
  ReduceOp,
  UnaryOp,
  type AttentionArgs,
  type Kernels,
  type Ptr,
} from '../kernels.ts';
import { ACTIVATIONS, type Activation } from '../kernel-spec.ts';
import { checkBinaryOp, checkReduceOp, enumError } from '../kernels.gen.ts';
import { q8RowBytes, q8Value, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from '../q8-0.ts';
import { dropoutUniform } from '../rng.ts';

/** A float64 scratch array that grows on demand, so steady-state calls allocate nothing. */
class Scratch {
  private data = new Float64Array(64);

  /** The first n entries, zeroed. */
  zeros(n: number): Float64Array {
    if (this.data.length < n) this.data = new Float64Array(Math.max(n, this.data.length * 2));
    this.data.fill(0, 0, n);
    return this.data;
  }
}

function checkDims(kernel: string, shape: readonly number[], ...strides: (readonly number[])[]): void {
  if (shape.length > MAX_DIMS) {
    throw new Error(`${kernel}: shape has ${shape.length} dimensions, at most ${MAX_DIMS} are supported; merge dimensions first`);
  }
  for (const s of strides) {
    if (s.length !== shape.length) {
      throw new Error(`${kernel}: strides [${s.join(', ')}] do not match shape [${shape.join(', ')}]; pass one stride per dimension`);
    }
  }
}

function isEmpty(shape: readonly number[]): boolean {
  for (const n of shape) if (n === 0) return true;
  return false;
}

function binaryScalar(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case BinaryOp.Add:
      return a + b;
    case BinaryOp.Sub:
      return a - b;
    case BinaryOp.Mul:
      return a * b;
    case BinaryOp.Div:
      return a / b;
    default:
      throw new Error(`binary: unknown op ${op as number}`);
  }
}

/** The float64 definition of an activation (kernel-spec.ts), or an error naming the bad id. */
function activation(kernel: string, op: UnaryOp): Activation {
  const a = Number.isInteger(op) ? ACTIVATIONS[op] : undefined;
  if (!a) throw enumError(kernel, 'UnaryOp', op, ACTIVATIONS.length);
  return a;
}

const bitsScratch = new Uint32Array(1);
const floatOfBits = new Float32Array(bitsScratch.buffer);

/** The float32 whose bits are u. */
function floatFromBits(u: number): number {
  bitsScratch[0] = u;
  return floatOfBits[0]!;
}

/** float32 bits rounded to bfloat16 (nearest, ties to even; NaN stays NaN), low half zero. */
function roundBf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return (u | 0x00400000) >>> 0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
}

export function createRefKernels(memory: WebAssembly.Memory): Kernels {
  let buffer = memory.buffer;
  let f = new Float32Array(buffer);
  let i32 = new Int32Array(buffer);

  // The memory may have grown (and detached the old buffer) since the last call.
  function syncViews(): void {
    const b = memory.buffer;
    if (b !== buffer || f.length * 4 !== b.byteLength) {
      buffer = b;
      f = new Float32Array(b);
      i32 = new Int32Array(b);
    }
  }

  const rowScratch = new Scratch();
  const accScratch = new Scratch();
  const gradKScratch = new Scratch();
  const gradVScratch = new Scratch();

  // State of the strided walks (kernels never re-enter, so one set suffices).
  let walkShape: readonly number[] = [];
  let walkA: readonly number[] = [];
  let walkB: readonly number[] = [];
  let walkOp: BinaryOp = BinaryOp.Add;
  let walkOut = 0;
  const order = new Int32Array(MAX_DIMS);
  let keptDims = 0;

  // dst[...] = src[...] in index order, so with a 0 dst stride the last write wins.
  function copyWalk(dim: number, src: number, dst: number): void {
    const len = walkShape[dim]!;
    const ss = walkA[dim]!;
    const ds = walkB[dim]!;
    if (dim === walkShape.length - 1) {
      for (let i = 0; i < len; i++) f[dst + i * ds] = f[src + i * ss]!;
    } else {
      for (let i = 0; i < len; i++) copyWalk(dim + 1, src + i * ss, dst + i * ds);
    }
  }

  // Visits the destination's own dimensions (order[0..keptDims)); at each destination element,
  // the dimensions it is broadcast over are summed in float64 first, then added once.
  function accumulateWalk(level: number, src: number, dst: number): void {
    if (level === keptDims) {
      f[dst] = f[dst]! + sumWalk(level, src);
      return;
    }
    const dim = order[level]!;
    const len = walkShape[dim]!;
    const ss = walkA[dim]!;
    const ds = walkB[dim]!;
    for (let i = 0; i < len; i++) accumulateWalk(level + 1, src + i * ss, dst + i * ds);
  }

  function sumWalk(level: number, src: number): number {
    if (level === walkShape.length) return f[src]!;
    const dim = order[level]!;
    const len = walkShape[dim]!;
    const ss = walkA[dim]!;
    let acc = 0;
    for (let i = 0; i < len; i++) acc += sumWalk(level + 1, src + i * ss);
    return acc;
  }

  // Rotates each (x[c], x[c + h]) pair by the angle of its position; `inverse` rotates back (−sin)
  // and adds into out, which is ropeBackward.
  function rotateHalf(x: number, cos: number, sin: number, out: number, rows: number, seq: number, heads: number, dim: number, offset: number, inverse: boolean): void {
    syncViews();
    const h = dim >> 1;
    for (let r = 0; r < rows; r++) {
      const t = (offset + (r % seq)) * h;
      for (let hd = 0; hd < heads; hd++) {
        const base = (r * heads + hd) * dim;
        for (let c = 0; c < h; c++) {
          const co = f[cos + t + c]!;
          const si = inverse ? -f[sin + t + c]! : f[sin + t + c]!;
          const a = f[x + base + c]!;
          const b = f[x + base + c + h]!;
          const lo = a * co - b * si;
          const hi = b * co + a * si;
          if (inverse) {
            f[out + base + c] = f[out + base + c]! + lo;
            f[out + base + c + h] = f[out + base + c + h]! + hi;
          } else {
            f[out + base + c] = lo;
            f[out + base + c + h] = hi;
          }
        }
      }
    }
  }

  // out is contiguous, so its position is a running counter.
  function binaryWalk(dim: number, a: number, b: number): void {
    const len = walkShape[dim]!;
    const sa = walkA[dim]!;
    const sb = walkB[dim]!;
    if (dim === walkShape.length - 1) {
      for (let i = 0; i < len; i++) f[walkOut++] = binaryScalar(walkOp, f[a + i * sa]!, f[b + i * sb]!);
    } else {
      for (let i = 0; i < len; i++) binaryWalk(dim + 1, a + i * sa, b + i * sb);
    }
  }

  return {
    fill(out: Ptr, n: number, value: number): void {
      syncViews();
      f.fill(value, out, out + n);
    },

    copyStrided(src, srcStrides, dst, dstStrides, shape, accumulate): void {
      checkDims('copyStrided', shape, srcStrides, dstStrides);
      if (isEmpty(shape)) return;
      syncViews();
      walkShape = shape;
      walkA = srcStrides;
      walkB = dstStrides;
      if (shape.length === 0) {
        f[dst] = accumulate ? f[dst]! + f[src]! : f[src]!;
      } else if (!accumulate) {
        copyWalk(0, src, dst);
      } else {
        keptDims = 0;
        for (let d = 0; d < shape.length; d++) if (dstStrides[d] !== 0) order[keptDims++] = d;
        let next = keptDims;
        for (let d = 0; d < shape.length; d++) if (dstStrides[d] === 0) order[next++] = d;
        accumulateWalk(0, src, dst);
      }
    },

    binary(op, a, aStrides, b, bStrides, out, shape): void {
      checkBinaryOp('binary', op);
      checkDims('binary', shape, aStrides, bStrides);
      if (isEmpty(shape)) return;
      syncViews();
      if (shape.length === 0) {
        f[out] = binaryScalar(op, f[a]!, f[b]!);
        return;
      }
      walkShape = shape;
      walkA = aStrides;
      walkB = bStrides;
      walkOp = op;
      walkOut = out;
      binaryWalk(0, a, b);
    },

    affine(x, out, n, alpha, beta): void {
      syncViews();
      for (let i = 0; i < n; i++) f[out + i] = alpha * f[x + i]! + beta;
    },

    axpy(x, y, n, alpha): void {
      syncViews();
      for (let i = 0; i < n; i++) f[y + i] = f[y + i]! + alpha * f[x + i]!;
    },

    unary(op, x, out, n): void {
      const fn = activation('unary', op).f;
      syncViews();
      for (let i = 0; i < n; i++) f[out + i] = fn(f[x + i]!);
    },

    unaryBackward(op, x, gradOut, gradX, n): void {
      const df = activation('unaryBackward', op).df;
      syncViews();
      for (let i = 0; i < n; i++) f[gradX + i] = f[gradX + i]! + df(f[x + i]!) * f[gradOut + i]!;
    },

    swigluForward(gate, up, out, n): void {
      const silu = ACTIVATIONS[UnaryOp.Silu]!.f;
      syncViews();
      for (let i = 0; i < n; i++) f[out + i] = silu(f[gate + i]!) * f[up + i]!;
    },

    swigluBackward(gate, up, gradOut, gradGate, gradUp, n): void {
      const { f: silu, df } = ACTIVATIONS[UnaryOp.Silu]!;
      syncViews();
      for (let i = 0; i < n; i++) {
        const x = f[gate + i]!;
        const g = f[gradOut + i]!;
        if (gradGate !== 0) f[gradGate + i] = f[gradGate + i]! + df(x) * f[up + i]! * g;
        if (gradUp !== 0) f[gradUp + i] = f[gradUp + i]! + silu(x) * g;
      }
    },

    reduce(op, x, out, argmax, outer, axis, inner): void {
      checkReduceOp('reduce', op);
      syncViews();
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = x + o * axis * inner + i;
          const dst = o * inner + i;
          if (op === ReduceOp.Sum) {
            let acc = 0;
            for (let k = 0; k < axis; k++) acc += f[base + k * inner]!;
            f[out + dst] = acc;
          } else if (op === ReduceOp.Max) {
            // An empty axis has no maximum: -Infinity and index -1.
            let best = axis > 0 ? f[base]! : -Infinity;
            let arg = axis > 0 ? 0 : -1;
            for (let k = 1; k < axis; k++) {
              const v = f[base + k * inner]!;
              // Strictly greater keeps the first maximum; a NaN wins and then sticks (as PyTorch).
              if (v > best || (v !== v && best === best)) {
                best = v;
                arg = k;
              }
            }
            f[out + dst] = best;
            if (argmax !== 0) i32[argmax + dst] = arg;
          } else {
            throw new Error(`reduce: unknown op ${op as number}`);
          }
        }
      }
    },

    matmul(a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate): void {
      syncViews();
      // A(i, p) = a[i·aRow + p·aCol], B(p, j) = b[p·bRow + j·bCol]
      const aRow = transA ? 1 : k;
      const aCol = transA ? m : 1;
      const bRow = transB ? 1 : n;
      const bCol = transB ? k : 1;
      for (let t = 0; t < batch; t++) {
        const aB = a + t * strideA;
        const bB = b + t * strideB;
        const cB = c + t * strideC;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let acc = 0;
            for (let p = 0; p < k; p++) acc += f[aB + i * aRow + p * aCol]! * f[bB + p * bRow + j * bCol]!;
            if (accumulate) acc += f[cB + i * n + j]!;
            if (bias !== 0) acc += f[bias + j]!;
            f[cB + i * n + j] = acc;
          }
        }
      }
    },

    packBf16(src, dst, rows, cols, transpose): void {
      syncViews();
      const u32 = new Uint32Array(f.buffer);
      const u16 = new Uint16Array(f.buffer);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) u16[2 * dst + (transpose ? c * rows + r : r * cols + c)] = roundBf16Bits(u32[src + r * cols + c]!) >>> 16;
      }
    },

    matmulBf16(a, bPacked, c, bias, m, n, k): void {
      syncViews();
      const u32 = new Uint32Array(f.buffer);
      const u16 = new Uint16Array(f.buffer);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let p = 0; p < k; p++) acc += floatFromBits(roundBf16Bits(u32[a + i * k + p]!)) * floatFromBits(u16[2 * bPacked + p * n + j]! << 16);
          if (bias !== 0) acc += f[bias + j]!;
          f[c + i * n + j] = acc;
        }
      }
    },

    matmulQ8(a, bPacked, c, bias, m, n, k): void {
      syncViews();
      const bytes = new Uint8Array(f.buffer);
      const rowBytes = q8RowBytes(k);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          const row = 4 * bPacked + j * rowBytes;
          let acc = 0;
          for (let p0 = 0; p0 < k; p0 += Q8_0_BLOCK) {
            const at = row + (p0 / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
            const end = Math.min(k, p0 + Q8_0_BLOCK);
            for (let p = p0; p < end; p++) acc += f[a + i * k + p]! * q8Value(bytes, at, p - p0);
          }
          if (bias !== 0) acc += f[bias + j]!;
          f[c + i * n + j] = acc;
        }
      }
    },

    embeddingForward(table, ids, out, rows, dim): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const src = table + i32[ids + r]! * dim;
        for (let c = 0; c < dim; c++) f[out + r * dim + c] = f[src + c]!;
      }
    },

    embeddingBackward(ids, gradOut, gradTable, rows, dim): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const dst = gradTable + i32[ids + r]! * dim;
        for (let c = 0; c < dim; c++) f[dst + c] = f[dst + c]! + f[gradOut + r * dim + c]!;
      }
    },

    layerNormForward(x, gamma, beta, out, mean, rstd, rows, dim, eps): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const row = x + r * dim;
        let sum = 0;
        for (let c = 0; c < dim; c++) sum += f[row + c]!;
        const mu = sum / dim;
        let sq = 0;
        for (let c = 0; c < dim; c++) {
          const d = f[row + c]! - mu;
          sq += d * d;
        }
        const rs = 1 / Math.sqrt(sq / dim + eps);
        for (let c = 0; c < dim; c++) f[out + r * dim + c] = (f[row + c]! - mu) * rs * f[gamma + c]! + f[beta + c]!;
        f[mean + r] = mu;
        f[rstd + r] = rs;
      }
    },

    layerNormBackward(x, gamma, mean, rstd, gradOut, gradX, gradGamma, gradBeta, rows, dim): void {
      syncViews();
      const gg = rowScratch.zeros(dim);
      const gb = accScratch.zeros(dim);
      for (let r = 0; r < rows; r++) {
        const row = x + r * dim;
        const go = gradOut + r * dim;
        const mu = f[mean + r]!;
        const rs = f[rstd + r]!;
        // dx = rstd · (dxhat − mean(dxhat) − xhat · mean(dxhat · xhat)), dxhat = gradOut · gamma
        let meanD = 0;
        let meanDX = 0;
        for (let c = 0; c < dim; c++) {
          const xhat = (f[row + c]! - mu) * rs;
          const dxhat = f[go + c]! * f[gamma + c]!;
          meanD += dxhat;
          meanDX += dxhat * xhat;
          gg[c] = gg[c]! + f[go + c]! * xhat;
          gb[c] = gb[c]! + f[go + c]!;
        }
        meanD /= dim;
        meanDX /= dim;
        for (let c = 0; c < dim; c++) {
          const xhat = (f[row + c]! - mu) * rs;
          const dxhat = f[go + c]! * f[gamma + c]!;
          f[gradX + r * dim + c] = f[gradX + r * dim + c]! + rs * (dxhat - meanD - xhat * meanDX);
        }
      }
      for (let c = 0; c < dim; c++) {
        f[gradGamma + c] = f[gradGamma + c]! + gg[c]!;
        f[gradBeta + c] = f[gradBeta + c]! + gb[c]!;
      }
    },

    rmsNormForward(x, gamma, out, rstd, rows, dim, eps): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const row = x + r * dim;
        let sq = 0;
        for (let c = 0; c < dim; c++) sq += f[row + c]! * f[row + c]!;
        const rs = 1 / Math.sqrt(sq / dim + eps);
        for (let c = 0; c < dim; c++) f[out + r * dim + c] = f[row + c]! * rs * f[gamma + c]!;
        f[rstd + r] = rs;
      }
    },

    rmsNormBackward(x, gamma, rstd, gradOut, gradX, rows, dim): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const o = r * dim;
        const rs = f[rstd + r]!;
        let meanDX = 0;
        for (let c = 0; c < dim; c++) meanDX += f[gradOut + o + c]! * f[gamma + c]! * f[x + o + c]! * rs;
        meanDX /= dim;
        for (let c = 0; c < dim; c++) {
          const xhat = f[x + o + c]! * rs;
          const dxhat = f[gradOut + o + c]! * f[gamma + c]!;
          f[gradX + o + c] = f[gradX + o + c]! + rs * (dxhat - xhat * meanDX);
        }
      }
    },

    rmsNormGammaBackward(x, rstd, gradOut, gradGamma, rows, dim): void {
      syncViews();
      for (let c = 0; c < dim; c++) {
        let sum = 0;
        for (let r = 0; r < rows; r++) sum += f[gradOut + r * dim + c]! * f[x + r * dim + c]! * f[rstd + r]!;
        f[gradGamma + c] = f[gradGamma + c]! + sum;
      }
    },

    ropeForward(x, cos, sin, out, rows, seq, heads, dim, offset): void {
      rotateHalf(x, cos, sin, out, rows, seq, heads, dim, offset, false);
    },

    ropeBackward(gradOut, cos, sin, gradX, rows, seq, heads, dim, offset): void {
      rotateHalf(gradOut, cos, sin, gradX, rows, seq, heads, dim, offset, true);
    },

    softmaxForward(x, out, rows, dim): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const row = x + r * dim;
        let max = -Infinity;
        for (let c = 0; c < dim; c++) max = Math.max(max, f[row + c]!);
        let sum = 0;
        for (let c = 0; c < dim; c++) sum += Math.exp(f[row + c]! - max);
        for (let c = 0; c < dim; c++) f[out + r * dim + c] = Math.exp(f[row + c]! - max) / sum;
      }
    },

    softmaxBackward(y, gradOut, gradX, rows, dim): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const o = r * dim;
        let dot = 0;
        for (let c = 0; c < dim; c++) dot += f[gradOut + o + c]! * f[y + o + c]!;
        for (let c = 0; c < dim; c++) {
          f[gradX + o + c] = f[gradX + o + c]! + f[y + o + c]! * (f[gradOut + o + c]! - dot);
        }
      }
    },

    attentionForward(p: AttentionArgs, out, outStrides, lse): void {
      syncViews();
      const { q, k, v, qStrides: qs, kStrides: ks, vStrides: vs, batch, heads, tq, headDim: d, scale } = p;
      const kvGroup = kvGroupOf('attentionForward', p);
      const window = windowOf('attentionForward', p);
      const os = outStrides;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < tq; i++) {
            const qRow = q + b * qs[0]! + h * qs[1]! + i * qs[2]!;
            const oRow = out + b * os[0]! + h * os[1]! + i * os[2]!;
            const lseAt = lse + (b * heads + h) * tq + i;
            const [first, last] = visibleKeys(p, window, i);
            if (last < first) {
              // No visible key: an empty softmax.
              for (let c = 0; c < d; c++) f[oRow + c] = 0;
              f[lseAt] = -Infinity;
              continue;
            }
            const scores = rowScratch.zeros(last + 1);
            let max = -Infinity;
            for (let j = first; j <= last; j++) {
              const kRow = k + b * ks[0]! + Math.floor(h / kvGroup) * ks[1]! + j * ks[2]!;
              let dot = 0;
              for (let c = 0; c < d; c++) dot += f[qRow + c]! * f[kRow + c]!;
              scores[j] = scale * dot;
              max = Math.max(max, scores[j]!);
            }
            let sum = 0;
            for (let j = first; j <= last; j++) {
              scores[j] = Math.exp(scores[j]! - max);
              sum += scores[j]!;
            }
            const acc = accScratch.zeros(d);
            for (let j = first; j <= last; j++) {
              const vRow = v + b * vs[0]! + Math.floor(h / kvGroup) * vs[1]! + j * vs[2]!;
              const w = scores[j]! / sum;
              for (let c = 0; c < d; c++) acc[c] = acc[c]! + w * f[vRow + c]!;
            }
            for (let c = 0; c < d; c++) f[oRow + c] = acc[c]!;
            f[lseAt] = max + Math.log(sum);
          }
        }
      }
    },

    attentionBackward(p: AttentionArgs, out, outStrides, lse, gradOut, gradOutStrides, gradQ, gradK, gradV): void {
      syncViews();
      const { q, k, v, qStrides: qs, kStrides: ks, vStrides: vs, batch, heads, tq, tk, headDim: d, scale } = p;
      const kvGroup = kvGroupOf('attentionBackward', p);
      const window = windowOf('attentionBackward', p);
      const os = outStrides;
      const gs = gradOutStrides;
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          const bh = b * heads + h;
          const dK = gradKScratch.zeros(tk * d);
          const dV = gradVScratch.zeros(tk * d);
          for (let i = 0; i < tq; i++) {
            const [first, last] = visibleKeys(p, window, i);
            if (last < first) continue;
            const qRow = q + b * qs[0]! + h * qs[1]! + i * qs[2]!;
            const oRow = out + b * os[0]! + h * os[1]! + i * os[2]!;
            const goRow = gradOut + b * gs[0]! + h * gs[1]! + i * gs[2]!;
            const rowLse = f[lse + bh * tq + i]!;
            // Σ_j P_ij dP_ij = gradOut_i · out_i, which spares a pass over the keys.
            let delta = 0;
            for (let c = 0; c < d; c++) delta += f[goRow + c]! * f[oRow + c]!;
            const dQ = accScratch.zeros(d);
            for (let j = first; j <= last; j++) {
              const kRow = k + b * ks[0]! + Math.floor(h / kvGroup) * ks[1]! + j * ks[2]!;
              const vRow = v + b * vs[0]! + Math.floor(h / kvGroup) * vs[1]! + j * vs[2]!;
              let dot = 0;
              let dP = 0;
              for (let c = 0; c < d; c++) {
                dot += f[qRow + c]! * f[kRow + c]!;
                dP += f[goRow + c]! * f[vRow + c]!;
              }
              const prob = Math.exp(scale * dot - rowLse);
              const dS = prob * (dP - delta) * scale;
              for (let c = 0; c < d; c++) {
                dV[j * d + c] = dV[j * d + c]! + prob * f[goRow + c]!;
                dK[j * d + c] = dK[j * d + c]! + dS * f[qRow + c]!;
                dQ[c] = dQ[c]! + dS * f[kRow + c]!;
              }
            }
            const gq = gradQ + (bh * tq + i) * d;
            for (let c = 0; c < d; c++) f[gq + c] = f[gq + c]! + dQ[c]!;
          }
          const base = bh * tk * d;
          for (let e = 0; e < tk * d; e++) {
            f[gradK + base + e] = f[gradK + base + e]! + dK[e]!;
            f[gradV + base + e] = f[gradV + base + e]! + dV[e]!;
          }
        }
      }
    },

    crossEntropyForward(logits, targets, losses, lse, rows, vocab, ignoreIndex): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const row = logits + r * vocab;
        let max = -Infinity;
        for (let c = 0; c < vocab; c++) max = Math.max(max, f[row + c]!);
        let sum = 0;
        for (let c = 0; c < vocab; c++) sum += Math.exp(f[row + c]! - max);
        const rowLse = max + Math.log(sum);
        const t = i32[targets + r]!;
        f[lse + r] = rowLse;
        f[losses + r] = t === ignoreIndex ? 0 : rowLse - f[row + t]!;
      }
    },

    crossEntropyBackward(logits, targets, lse, gradLogits, rows, vocab, ignoreIndex, scale): void {
      syncViews();
      for (let r = 0; r < rows; r++) {
        const t = i32[targets + r]!;
        if (t === ignoreIndex) continue;
        const row = logits + r * vocab;
        const g = gradLogits + r * vocab;
        const rowLse = f[lse + r]!;
        for (let c = 0; c < vocab; c++) {
          const prob = Math.exp(f[row + c]! - rowLse);
          f[g + c] = f[g + c]! + scale * (prob - (c === t ? 1 : 0));
        }
      }
    },

    dropoutForward(x, out, n, p, seed, offset): void {
      syncViews();
      for (let i = 0; i < n; i++) {
        const keep = dropoutUniform(seed, offset + i) >= p;
        f[out + i] = keep ? f[x + i]! / (1 - p) : 0;
      }
    },

    dropoutBackward(gradOut, gradX, n, p, seed, offset): void {
      syncViews();
      for (let i = 0; i < n; i++) {
        if (dropoutUniform(seed, offset + i) >= p) f[gradX + i] = f[gradX + i]! + f[gradOut + i]! / (1 - p);
      }
    },

    adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2): void {
      syncViews();
      for (let i = 0; i < n; i++) {
        const g = f[grad + i]!;
        f[m + i] = beta1 * f[m + i]! + (1 - beta1) * g;
        f[v + i] = beta2 * f[v + i]! + (1 - beta2) * g * g;
        // The update reads the stored (float32) moments, the values the next step starts from.
        const mHat = f[m + i]! / bc1;
        const vHat = f[v + i]! / bc2;
        const w = f[param + i]!;
        f[param + i] = w - lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * w);
      }
    },

    sumSquares(x, n): number {
      syncViews();
      let acc = 0;
      for (let i = 0; i < n; i++) acc += f[x + i]! * f[x + i]!;
      return acc;
    },
  };
}
