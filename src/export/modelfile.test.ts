// The Ollama Modelfile: parsed back (FROM, TEMPLATE, PARAMETER stop), and its Go template rendered
// for a conversation must give the same prompt as the model's own Jinja chat template (without
// the BOS that llama.cpp adds itself), for real ChatML (Qwen3) and Llama 3 templates and a
// Mistral [INST] template.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Template } from '@huggingface/jinja';
import { chatFormat, modelfileText, ollamaTemplate } from './modelfile.ts';
import { REAL_TOKENIZERS } from '../tokenizer/testing/hf-reference.ts';
import { parseModelfile, renderGoTemplate } from './testing/go-template.ts';

function tokenizerConfig(name: 'qwen3' | 'llama3'): { chat_template: string; bos_token: string | null; eos_token: string } {
  return JSON.parse(readFileSync(path.join(REAL_TOKENIZERS[name], 'tokenizer_config.json'), 'utf8'));
}

// Mistral-7B-Instruct-v0.1's template: alternating user/assistant turns, no system role.
const MISTRAL =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

const CHAT = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name a prime.' },
  { role: 'assistant', content: 'Seven.' },
  { role: 'user', content: 'Another?' },
];

function both(jinja: string, bos: string | null, eos: string, messages: { role: string; content: string }[]): { jinja: string; go: string; stops: string[] } {
  const t = ollamaTemplate(jinja, { bos, eos });
  let expected = new Template(jinja).render({ messages, bos_token: bos ?? '', eos_token: eos, add_generation_prompt: true });
  if (bos && expected.startsWith(bos)) expected = expected.slice(bos.length);
  const go = renderGoTemplate(t.template, { Messages: messages.map((m) => ({ Role: m.role, Content: m.content })), System: '', Prompt: '' });
  return { jinja: expected, go, stops: t.stops };
}

describe('Ollama Modelfile', () => {
  it('ChatML (Qwen3 tokenizer_config.json): the Go template renders the Jinja prompt', () => {
    const cfg = tokenizerConfig('qwen3');
    assert.equal(chatFormat(cfg.chat_template), 'chatml');
    const r = both(cfg.chat_template, cfg.bos_token, cfg.eos_token, CHAT);
    assert.equal(r.go, r.jinja);
    assert.ok(r.go.endsWith('<|im_start|>assistant\n'));
    assert.deepEqual(r.stops, ['<|im_start|>', '<|im_end|>']);
  });

  it('Llama 3 (tokenizer_config.json of Llama 3): the same prompt without <|begin_of_text|>', () => {
    const cfg = tokenizerConfig('llama3');
    assert.equal(chatFormat(cfg.chat_template), 'llama3');
    const r = both(cfg.chat_template, cfg.bos_token, cfg.eos_token, CHAT);
    assert.equal(r.go, r.jinja);
    assert.ok(!r.go.includes('<|begin_of_text|>'));
    assert.deepEqual(r.stops, ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<|end_of_text|>']);
  });

  it('Mistral [INST]: spacing read off the template, user/assistant turns alike', () => {
    const turns = CHAT.slice(1);
    const r = both(MISTRAL, '<s>', '</s>', turns);
    assert.equal(r.go, r.jinja);
    assert.equal(r.go, '[INST] Name a prime. [/INST]Seven.</s> [INST] Another? [/INST]');
    assert.deepEqual(r.stops, ['[INST]', '[/INST]', '</s>']);
  });

  it('a model without a chat template gets the plain prompt and its end-of-text stop', () => {
    const t = ollamaTemplate(null, { bos: null, eos: '<|endoftext|>' });
    assert.equal(t.format, 'plain');
    assert.equal(renderGoTemplate(t.template, { Prompt: 'Once upon a time', Messages: [] }), 'Once upon a time');
    assert.deepEqual(t.stops, ['<|endoftext|>']);
  });

  it('parses back: FROM the file beside it, the multi-line TEMPLATE, one PARAMETER stop per stop token', () => {
    const cfg = tokenizerConfig('qwen3');
    const t = ollamaTemplate(cfg.chat_template, { bos: null, eos: '<|im_end|>' });
    const parsed = parseModelfile(modelfileText('qwen-q8_0.gguf', t));
    assert.equal(parsed.from, './qwen-q8_0.gguf');
    assert.equal(parsed.template, t.template);
    assert.ok(parsed.template!.includes('\n'), 'the ChatML template spans lines inside """');
    assert.deepEqual(parsed.parameters, [
      ['stop', '<|im_start|>'],
      ['stop', '<|im_end|>'],
    ]);
  });

  it('a template with an unknown format is not guessed at', () => {
    const t = ollamaTemplate('{% for m in messages %}<<{{ m.role }}>> {{ m.content }}{% endfor %}', { bos: null, eos: '</s>' });
    assert.equal(t.format, 'plain');
    assert.equal(t.template, '{{ .Prompt }}');
  });
});
