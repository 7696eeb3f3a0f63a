// The chat template. genlab's models are base models trained on plain prose, so a conversation is
// rendered as plain text they can continue, one message per paragraph:
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

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string | readonly { type: 'text'; text: string }[] | null;
}

const ROLE_LABEL: Record<ChatMessage['role'], string> = { system: 'System', developer: 'System', user: 'User', assistant: 'Assistant' };

/** Where a reply ends: the model beginning the next turn. */
export const CHAT_STOP: readonly string[] = ['\nUser:', '\nSystem:', '\nAssistant:'];

export function messageText(content: ChatMessage['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => p.text).join('');
}

export function renderChat(messages: readonly ChatMessage[]): string {
  let out = '';
  for (const m of messages) out += `${ROLE_LABEL[m.role]}: ${messageText(m.content).trim()}\n\n`;
  return `${out}Assistant:`;
}
