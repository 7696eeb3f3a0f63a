// What a model folder's generation_config.json asks for when a request does not say: the sampling
// settings genlab's sampler has (temperature, top_k, top_p; do_sample: false means greedy),
// max_new_tokens, and the tokens that end a completion (eos_token_id, one id or a list). Only
// values the file sets are used. Settings the sampler lacks (repetition_penalty, beam search, ...)
// are not applied, and are listed so the CLI and the server can say so.

import type { GenerationConfig } from './generation-config.ts';
import type { CausalLm, LanguageModel } from './generate.ts';

export interface GenerationDefaults {
  temperature?: number;
  topK?: number;
  topP?: number;
  maxTokens?: number;
  /** The tokenizer's end-of-text token and every eos_token_id of generation_config.json. */
  stopTokenIds: number[];
  /** generation_config.json keys that genlab does not apply. */
  ignored: string[];
}

/** Keys that describe the file or the token ids rather than how to generate. */
const NOT_SETTINGS = new Set(['transformers_version', '_from_model_config']);

export function generationDefaults(lm: LanguageModel<CausalLm>): GenerationDefaults {
  const g: GenerationConfig | null | undefined = lm.generationConfig;
  const stop = new Set<number>();
  if (lm.tokenizer.eotId !== null) stop.add(lm.tokenizer.eotId);
  const out: GenerationDefaults = { stopTokenIds: [], ignored: [] };
  if (g) {
    const eos = g.eosTokenId;
    for (const id of eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos]) if (id < lm.tokenizer.vocabSize) stop.add(id);
    if (g.doSample === false) out.temperature = 0;
    else {
      if (g.temperature !== undefined) out.temperature = g.temperature;
      if (g.topK !== undefined) out.topK = g.topK;
      if (g.topP !== undefined) out.topP = g.topP;
    }
    if (g.maxNewTokens !== undefined && g.maxNewTokens !== null) out.maxTokens = g.maxNewTokens;
    if (g.maxLength !== undefined) out.ignored.push('max_length');
    if (g.repetitionPenalty !== undefined && g.repetitionPenalty !== 1) out.ignored.push('repetition_penalty');
    for (const key of Object.keys(g.extra)) if (!NOT_SETTINGS.has(key)) out.ignored.push(key);
  }
  out.stopTokenIds = [...stop];
  return out;
}

/** "generation_config.json sets a, b; genlab does not apply them", or null when nothing is ignored. */
export function ignoredNote(d: GenerationDefaults): string | null {
  if (d.ignored.length === 0) return null;
  return `generation_config.json sets ${d.ignored.join(', ')}, which genlab's sampler does not apply (it uses temperature, top_k, top_p, do_sample, max_new_tokens and eos_token_id)`;
}
