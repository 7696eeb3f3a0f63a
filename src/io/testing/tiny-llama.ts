// A Llama-family model folder small enough for tests: a random-weight fixture from
// src/models/fixtures/ (vocab_size 48) with a character-level tokenizer.json of 48 ids written
// next to it, SentencePiece-style specials (<unk>, <s> as BOS, </s> as EOS) and add_bos_token.

import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../../models/fixtures/', import.meta.url));

/** The 45 characters after the three specials: ids 3..47. */
export const TINY_LLAMA_CHARS = ' abcdefghijklmnopqrstuvwxyz.,!?\'"-:;()012[]/\n';

export interface TinyLlamaOptions {
  /** Fixture folder name under src/models/fixtures (default llama-smollm2). */
  fixture?: string;
  /** tokenizer_config.json's chat_template, if any. */
  chatTemplate?: string;
}

/** Writes the folder at `dir` (created) and returns it. */
export async function writeTinyLlamaFolder(dir: string, opts: TinyLlamaOptions = {}): Promise<string> {
  const src = path.join(FIXTURES, opts.fixture ?? 'llama-smollm2');
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(src)) if (f !== 'expected.safetensors') await copyFile(path.join(src, f), path.join(dir, f));
  const specials = ['<unk>', '<s>', '</s>'];
  const vocab: Record<string, number> = {};
  [...specials, ...TINY_LLAMA_CHARS].forEach((t, i) => (vocab[t] = i));
  if (Object.keys(vocab).length !== 48) throw new Error('tiny Llama vocabulary must have 48 ids');
  const tokenizer = {
    version: '1.0',
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: false, vocab, merges: [] },
  };
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const config: Record<string, unknown> = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false };
  if (opts.chatTemplate !== undefined) config.chat_template = opts.chatTemplate;
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}
