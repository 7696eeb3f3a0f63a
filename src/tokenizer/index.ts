// Tokenizers: genlab's byte-level BPE (trained here) and Hugging Face tokenizer.json files.

export {
  BYTE_TO_CHAR,
  GPT2_BYTE_ORDER,
  bytesToTokenString,
  renderBytes,
  toWellFormed,
  tokenStringToBytes,
} from './byte-level.ts';
export { GPT2_PATTERN, pretokenize } from './pretokenize.ts';
export { TokenBuffer } from './token-buffer.ts';
export {
  ByteLevelTokenizer,
  END_OF_TEXT,
  MAX_VOCAB,
  type EncodeOptions,
  type SpecialToken,
  type StreamDecoder,
  type Tokenizer,
  type TokenizerParts,
} from './tokenizer.ts';
export { HfTokenizer, parseHfTokenizer, type SourceFile } from './hf-tokenizer.ts';
export { parseTokenizerConfig, type TokenizerConfig } from './tokenizer-config.ts';
export { translateOnigRegex, UnsupportedRegexError } from './hf-regex.ts';
export {
  countWords,
  trainBpe,
  trainBpeFromCounts,
  type TrainBpeOptions,
  type TrainProgress,
} from './train.ts';
export {
  MERGES_HEADER,
  TokenizerFileError,
  isGpt2StyleJson,
  mergesTxtString,
  parseTokenizerJson,
  parseVocabMerges,
  tokenizerConfigString,
  tokenizerJsonString,
  vocabJsonString,
} from './formats.ts';
export {
  loadTokenizer,
  saveTokenizer,
  type LoadTokenizerOptions,
  type SaveTokenizerOptions,
  type TokenizerFormat,
} from './files.ts';
export { trainProgressBar, type TrainProgressBar } from './progress.ts';
export {
  collectTextFiles,
  tokenizerTrainCommand,
  type TokenizerTrainCommandOptions,
  type TokenizerTrainResult,
} from './train-command.ts';
