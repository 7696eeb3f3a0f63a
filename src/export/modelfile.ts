// An Ollama Modelfile for an exported GGUF: FROM the file beside it, a TEMPLATE in Ollama's Go
// template syntax, and PARAMETER stop lines. Ollama does not run Jinja, so the model's chat
// template is mapped to a Go template where its format is known:
//   ChatML (Qwen, SmolLM2-Instruct):  <|im_start|>role\ncontent<|im_end|>\n … <|im_start|>assistant\n
//   Llama 3:                          <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> …
//   Mistral [INST]:                   [INST] user [/INST] assistant</s> …, with the spacing read off
//                                     the model's own template by rendering it around marker strings
// BOS is left out of the templates: llama.cpp adds it when the GGUF says add_bos_token. A model
// without a chat template (a base model) gets Ollama's plain "{{ .Prompt }}".

import { Template } from '@huggingface/jinja';

export type ChatFormat = 'chatml' | 'llama3' | 'mistral' | 'plain';

/** Which known format a Jinja chat template writes. */
export function chatFormat(template: string | null): ChatFormat {
  if (template === null) return 'plain';
  if (template.includes('<|im_start|>')) return 'chatml';
  if (template.includes('<|start_header_id|>')) return 'llama3';
  if (template.includes('[INST]')) return 'mistral';
  return 'plain';
}

const CHATML = '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n';
// Llama 3's template trims each message; Go templates have no trim, so contents go in as they are.
const LLAMA3 = '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n';

const STOPS: Record<ChatFormat, string[]> = {
  chatml: ['<|im_start|>', '<|im_end|>'],
  llama3: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
  mistral: ['[INST]', '[/INST]'],
  plain: [],
};

/**
 * The [INST] template's pieces around user and assistant contents, found by rendering the
 * model's Jinja template with marker contents; null when it does not render that way.
 */
function mistralPieces(source: string, bos: string, eos: string): { userPre: string; userPost: string; asstPre: string; asstPost: string } | null {
  const U = '\u0001user\u0001';
  const A = '\u0001assistant\u0001';
  const V = '\u0001again\u0001';
  let one: string;
  let three: string;
  try {
    const t = new Template(source);
    const ctx = { bos_token: bos, eos_token: eos, add_generation_prompt: false };
    one = t.render({ ...ctx, messages: [{ role: 'user', content: U }] });
    three = t.render({ ...ctx, messages: [{ role: 'user', content: U }, { role: 'assistant', content: A }, { role: 'user', content: V }] });
  } catch {
    return null;
  }
  if (one.startsWith(bos)) one = one.slice(bos.length);
  if (three.startsWith(bos)) three = three.slice(bos.length);
  const u = one.indexOf(U);
  if (u < 0) return null;
  const userPre = one.slice(0, u);
  const userPost = one.slice(u + U.length);
  const a = three.indexOf(A);
  const v = three.indexOf(V);
  const firstEnd = three.indexOf(U) + U.length + userPost.length;
  if (a < firstEnd || v < a || three.slice(0, firstEnd) !== one) return null;
  const asstPre = three.slice(firstEnd, a);
  const afterA = three.slice(a + A.length, v);
  if (!afterA.endsWith(userPre)) return null;
  const asstPost = afterA.slice(0, afterA.length - userPre.length);
  if (three.slice(v + V.length) !== userPost) return null;
  if ([userPre, userPost, asstPre, asstPost].some((s) => s.includes('{{') || s.includes('}}'))) return null;
  return { userPre, userPost, asstPre, asstPost };
}

export interface OllamaTemplate {
  format: ChatFormat;
  /** Go template text. */
  template: string;
  stops: string[];
}

/** The Ollama template and stop strings for a model's Jinja chat template (null: none). */
export function ollamaTemplate(chatTemplate: string | null, specials: { bos: string | null; eos: string | null }): OllamaTemplate {
  let format = chatFormat(chatTemplate);
  let template = '{{ .Prompt }}';
  if (format === 'chatml') template = CHATML;
  if (format === 'llama3') template = LLAMA3;
  if (format === 'mistral') {
    const p = mistralPieces(chatTemplate!, specials.bos ?? '', specials.eos ?? '');
    if (p) {
      template = `{{- range .Messages }}{{ if eq .Role "user" }}${p.userPre}{{ .Content }}${p.userPost}{{ else if eq .Role "assistant" }}${p.asstPre}{{ .Content }}${p.asstPost}{{ end }}{{ end }}`;
    } else {
      format = 'plain';
    }
  }
  const stops = [...STOPS[format]];
  if (specials.eos !== null && !stops.includes(specials.eos)) stops.push(specials.eos);
  return { format, template, stops };
}

/** Modelfile text: FROM a path relative to the Modelfile's folder. */
export function modelfileText(ggufFileName: string, t: OllamaTemplate): string {
  if (t.template.includes('"""')) throw new Error('the chat template contains """, which a Modelfile cannot quote');
  const lines = [`FROM ./${ggufFileName}`, `TEMPLATE """${t.template}"""`];
  // A stop string is written in double quotes; one with a quote or a line break cannot be.
  for (const s of t.stops) if (!/["\n\r\\]/.test(s) && s !== '') lines.push(`PARAMETER stop "${s}"`);
  return lines.join('\n') + '\n';
}
