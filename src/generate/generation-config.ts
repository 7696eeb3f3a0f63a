// What a model folder's generation_config.json says, in genlab's names. The type lives with
// generation, its user; io/hf-config.ts reads and writes the file.

export interface GenerationConfig {
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
  maxLength?: number;
  maxNewTokens?: number | null;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Other keys (e.g. transformers_version, _from_model_config), kept verbatim. */
  extra: Record<string, unknown>;
}
