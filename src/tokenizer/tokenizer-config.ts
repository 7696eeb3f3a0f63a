// transformers' tokenizer_config.json: the fields genlab uses. The chat template (Jinja) may also be
// in chat_template.jinja next to it, where newer transformers versions save it; that file wins,
// as it does in transformers.

import { describe, isObject, parseJson, TokenizerFileError } from './tokenizer-json.ts';

export interface TokenizerConfig {
  /** The chat template (Jinja source), or null when the folder has none. */
  chatTemplate: string | null;
  bosToken: string | null;
  eosToken: string | null;
  /** Whether encoding with special tokens adds BOS / EOS; null when the file does not say. */
  addBosToken: boolean | null;
  addEosToken: boolean | null;
}

export const NO_TOKENIZER_CONFIG: TokenizerConfig = { chatTemplate: null, bosToken: null, eosToken: null, addBosToken: null, addEosToken: null };

/** A special token field: a string, or an AddedToken object {"content": ...} (older files), or null. */
function tokenField(json: Record<string, unknown>, key: string, file: string): string | null {
  const v = json[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['content'] === 'string') return v['content'];
  throw new TokenizerFileError(file, `${key} is ${describe(v)}; expected a token string or {"content": string}`);
}

function boolField(json: Record<string, unknown>, key: string, file: string): boolean | null {
  const v = json[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v;
  throw new TokenizerFileError(file, `${key} is ${describe(v)}; expected true or false`);
}

/** The template to use from a chat_template field: a string, or a list of {name, template} (the one named "default"). */
function templateField(v: unknown, file: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    for (const entry of v) {
      if (!isObject(entry) || typeof entry['name'] !== 'string' || typeof entry['template'] !== 'string') {
        throw new TokenizerFileError(file, `chat_template entry ${describe(entry)} is not {"name": string, "template": string}`);
      }
      if (entry['name'] === 'default') return entry['template'];
    }
    return null;
  }
  throw new TokenizerFileError(file, `chat_template is ${describe(v)}; expected a Jinja template string or a list of {"name", "template"}`);
}

/** Parses tokenizer_config.json text; `jinja` is the text of chat_template.jinja when the folder has one. */
export function parseTokenizerConfig(text: string | null, file = 'tokenizer_config.json', jinja: string | null = null): TokenizerConfig {
  if (text === null) return { ...NO_TOKENIZER_CONFIG, chatTemplate: jinja };
  const json = parseJson(text, file);
  if (!isObject(json)) throw new TokenizerFileError(file, `expected a JSON object, found ${describe(json)}`);
  return {
    chatTemplate: jinja ?? templateField(json['chat_template'], file),
    bosToken: tokenField(json, 'bos_token', file),
    eosToken: tokenField(json, 'eos_token', file),
    addBosToken: boolField(json, 'add_bos_token', file),
    addEosToken: boolField(json, 'add_eos_token', file),
  };
}
