// Public API of the io layer: atomic writes, safetensors, Hugging Face config files.

export {
  AtomicFileWriter,
  AtomicFileWriterSync,
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
  writeJsonAtomicSync,
  formatJson,
} from './atomic.ts';

export {
  SAFETENSORS_DTYPES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  SafetensorsReader,
  dtypeSize,
  isSafetensorsDtype,
  openSafetensors,
  parseSafetensors,
  parseSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSync,
} from './safetensors.ts';
export type { SafetensorsDtype, TensorInfo, TensorToWrite, NumericArray, ParsedHeader } from './safetensors.ts';

export { f32ToF16Bits, f16BitsToF32, f32ToBf16Bits, bf16BitsToF32 } from './half.ts';

export {
  HF_ACTIVATIONS,
  HfConfigError,
  gpt2ConfigFromJson,
  gpt2ConfigToJson,
  makeGpt2Config,
  readGpt2Config,
  writeGpt2Config,
  generationConfigFromJson,
  generationConfigToJson,
  generationConfigFromModel,
  readGenerationConfig,
  writeGenerationConfig,
} from './hf-config.ts';
export type { Gpt2Config, GenerationConfig } from './hf-config.ts';
