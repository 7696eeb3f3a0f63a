// genlab's byte-level BPE tokenizer: public API.

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
  END_OF_TEXT,
  MAX_VOCAB,
  StreamDecoder,
  Tokenizer,
  type EncodeOptions,
  type SpecialToken,
  type TokenizerParts,
} from './tokenizer.ts';
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
