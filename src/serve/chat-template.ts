// How /v1/chat/completions turns messages into a prompt.
//
// A model whose tokenizer_config.json (or chat_template.jinja) has a chat template gets its own
// template, rendered with @huggingface/jinja (the renderer transformers.js uses) with messages,
// bos_token, eos_token and add_generation_prompt: true, as transformers' apply_chat_template does.
// The rendered text writes the special tokens itself (Llama 3 starts with <|begin_of_text|>), so
// it is encoded with special tokens recognized and nothing added. The reply ends at the model's
// stop tokens (generation-defaults.ts). As in transformers, text inside a message that spells a
// special token becomes that token.
//
// Any other model (genlab's GPT-2 models are base models trained on plain prose) gets a plain
// text conversation it can continue, one message per paragraph:
//
//   System: You are a helpful assistant.
//
//   User: What did Washington say about the army?
//
//   Assistant:
//
// Each message is `Role: content` followed by a blank line; 'developer' messages render as System.
// The prompt ends with "Assistant:" (no trailing space: byte-level BPE attaches a space to the
// word after it, so the model writes " The …" itself). The reply is the model's continuation with
// its leading whitespace removed, cut where the model starts another turn (CHAT_STOP).

import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string | readonly { type: 'text'; text: string }[] | null;
}

const ROLE_LABEL: Record<ChatMessage['role'], string> = { system: 'System', developer: 'System', user: 'User', assistant: 'Assistant' };

/** Where a reply ends with the plain template: the model beginning the next turn. */
export const CHAT_STOP: readonly string[] = ['\nUser:', '\nSystem:', '\nAssistant:'];

export function messageText(content: ChatMessage['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => p.text).join('');
}

/** The plain-prose template. */
export function renderChat(messages: readonly ChatMessage[]): string {
  let out = '';
  for (const m of messages) out += `${ROLE_LABEL[m.role]}: ${messageText(m.content).trim()}\n\n`;
  return `${out}Assistant:`;
}

/** The model's template does not parse ('template'), or refused the conversation (raise_exception) or failed on it ('messages'). */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
  constructor(
    readonly fault: 'template' | 'messages',
    message: string,
  ) {
    super(message);
  }
}

export interface ChatPrompt {
  /** 'model': the model's own chat template; 'plain': genlab's prose template. */
  template: 'model' | 'plain';
  text: string;
  ids: number[];
  /** Strings that end the reply (the plain template's next turn). */
  stop: readonly string[];
  /** Whether the reply's leading whitespace is removed (the plain template). */
  trimLeading: boolean;
}

const compiled = new Map<string, Template>();

function template(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (e) {
      throw new ChatTemplateError('template', `the model's chat template (tokenizer_config.json) does not parse: ${(e as Error).message}`);
    }
    compiled.set(source, t);
  }
  return t;
}

/** Renders `messages` with the model's chat template. */
export function renderModelTemplate(source: string, tokenizer: Tokenizer, messages: readonly ChatMessage[]): string {
  const { bosToken, eosToken } = tokenizer.config;
  try {
    return template(source).render({
      // Templates know system, user and assistant; OpenAI's 'developer' is the system role.
      messages: messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: messageText(m.content) })),
      bos_token: bosToken ?? '',
      eos_token: eosToken ?? '',
      add_generation_prompt: true,
    });
  } catch (e) {
    if (e instanceof ChatTemplateError) throw e;
    throw new ChatTemplateError('messages', `the model's chat template refused these messages: ${(e as Error).message}`);
  }
}

/** The prompt for a chat request: the model's template when it has one, else the plain template. */
export function chatPrompt(tokenizer: Tokenizer, messages: readonly ChatMessage[]): ChatPrompt {
  const source = tokenizer.config.chatTemplate;
  if (source !== null) {
    const text = renderModelTemplate(source, tokenizer, messages);
    return { template: 'model', text, ids: tokenizer.encode(text, { allowSpecial: true }), stop: [], trimLeading: false };
  }
  const text = renderChat(messages);
  return { template: 'plain', text, ids: tokenizer.encode(text, { allowSpecial: false }), stop: CHAT_STOP, trimLeading: true };
}
