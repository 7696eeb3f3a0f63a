// The float formats of safetensors and GGUF files. The conversions live in util/half.ts, below the
// backend, because the q8_0 blocks of int8 decoding (backend/q8-0.ts) carry half-precision scales.

export * from '../util/half.ts';
