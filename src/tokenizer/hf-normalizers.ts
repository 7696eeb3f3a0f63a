// tokenizer.json normalizers: text → text before pre-tokenization, applied to each stretch of text
// between added tokens. Llama 2 / Mistral (legacy conversion) prepend '▁' and replace ' ' by '▁';
// Qwen applies NFC.

import { at, bool, component, list, pattern, replaceAll, str, unsupported, type Where } from './hf-components.ts';

export type Normalizer = (text: string) => string;

const SUPPORTED = ['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'Prepend', 'Replace', 'Strip', 'Sequence'];

/** Leading/trailing White_Space (Rust's char::is_whitespace, what HF's Strip uses). */
const LEADING_SPACE = /^\p{White_Space}+/u;
const TRAILING_SPACE = /\p{White_Space}+$/u;

export function readNormalizer(raw: unknown, w: Where): Normalizer | null {
  if (raw === null || raw === undefined) return null;
  const { json, type } = component(raw, w);
  switch (type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (s) => s.normalize(type);
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'Prepend': {
      const prefix = str(json, 'prepend', w);
      // HF prepends to non-empty text only.
      return (s) => (s === '' ? s : prefix + s);
    }
    case 'Replace': {
      const re = pattern(json['pattern'], at(w, 'pattern'));
      const content = str(json, 'content', w);
      return (s) => replaceAll(s, re, content);
    }
    case 'Strip': {
      const left = bool(json, 'strip_left', w, false);
      const right = bool(json, 'strip_right', w, false);
      return (s) => {
        let t = left ? s.replace(LEADING_SPACE, '') : s;
        if (right) t = t.replace(TRAILING_SPACE, '');
        return t;
      };
    }
    case 'Sequence': {
      const steps = list(json, 'normalizers', w).map((n, i) => readNormalizer(n, at(at(w, 'normalizers'), i)));
      return (s) => steps.reduce((t, f) => (f ? f(t) : t), s);
    }
    default:
      unsupported(w, type, SUPPORTED);
  }
}
