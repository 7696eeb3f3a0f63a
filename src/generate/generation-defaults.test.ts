import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generationConfigFromJson } from '../io/hf-config.ts';
import type { LanguageModel } from './generate.ts';
import { generationDefaults, ignoredNote } from './generation-defaults.ts';

/** Only the tokenizer's end-of-text token and vocabulary size matter here. */
const lm = (json: Record<string, unknown> | null): LanguageModel => ({ tokenizer: { eotId: 2, vocabSize: 100 }, generationConfig: json && generationConfigFromJson(json) }) as unknown as LanguageModel;

test('generation_config.json: the sampling settings it sets, its eos ids, what genlab does not apply', () => {
  assert.deepEqual(generationDefaults(lm(null)), { stopTokenIds: [2], ignored: [] });
  const llama3 = generationDefaults(lm({ bos_token_id: 1, eos_token_id: [2, 9, 11], do_sample: true, temperature: 0.6, top_p: 0.9, max_new_tokens: 256, transformers_version: '4.40.0' }));
  assert.deepEqual(llama3, { temperature: 0.6, topP: 0.9, maxTokens: 256, stopTokenIds: [2, 9, 11], ignored: [] });
  // do_sample: false is greedy whatever else is set; unsupported settings are named.
  const greedy = generationDefaults(lm({ eos_token_id: 7, do_sample: false, temperature: 0.7, top_k: 20, repetition_penalty: 1.1, max_length: 4096, num_beams: 4 }));
  assert.deepEqual(greedy, { temperature: 0, stopTokenIds: [2, 7], ignored: ['max_length', 'repetition_penalty', 'num_beams'] });
  assert.match(ignoredNote(greedy)!, /^generation_config\.json sets max_length, repetition_penalty, num_beams, which genlab's sampler does not apply/);
  // What genlab writes itself asks for nothing but the end-of-text token.
  assert.deepEqual(generationDefaults(lm({ bos_token_id: 2, eos_token_id: 2, _from_model_config: true })), { stopTokenIds: [2], ignored: [] });
  assert.deepEqual(generationDefaults(lm({ repetition_penalty: 1 })).ignored, []);
});
