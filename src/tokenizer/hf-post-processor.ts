// tokenizer.json post_processor: the ids put around one encoded text when special tokens are
// requested (Llama: BOS before it). Pairs of texts are not used by genlab, so only the "single"
// template is read.

import { at, component, fail, list, unsupported, type Where } from './hf-components.ts';
import { describe, isObject } from './tokenizer-json.ts';

export interface Wrap {
  prefix: number[];
  suffix: number[];
}

const SUPPORTED = ['TemplateProcessing', 'ByteLevel', 'RobertaProcessing', 'BertProcessing', 'Sequence'];

export function readPostProcessor(raw: unknown, w: Where): Wrap {
  if (raw === null || raw === undefined) return { prefix: [], suffix: [] };
  const { json, type } = component(raw, w);
  switch (type) {
    case 'ByteLevel': // only adjusts offsets
      return { prefix: [], suffix: [] };
    case 'TemplateProcessing':
      return template(json, w);
    case 'RobertaProcessing':
    case 'BertProcessing':
      return { prefix: [tokenPair(json['cls'], at(w, 'cls'))], suffix: [tokenPair(json['sep'], at(w, 'sep'))] };
    case 'Sequence':
      // Each processor wraps what the previous ones produced.
      return list(json, 'processors', w).reduce<Wrap>(
        (inner, p, i) => {
          const outer = readPostProcessor(p, at(at(w, 'processors'), i));
          return { prefix: [...outer.prefix, ...inner.prefix], suffix: [...inner.suffix, ...outer.suffix] };
        },
        { prefix: [], suffix: [] },
      );
    default:
      unsupported(w, type, SUPPORTED);
  }
}

/** ["</s>", 2] */
function tokenPair(raw: unknown, w: Where): number {
  if (!Array.isArray(raw) || raw.length !== 2 || typeof raw[0] !== 'string' || !Number.isInteger(raw[1])) fail(w, `is ${describe(raw)}; expected [token, id]`);
  return raw[1] as number;
}

function template(json: Record<string, unknown>, w: Where): Wrap {
  const specials = json['special_tokens'];
  if (!isObject(specials)) fail(at(w, 'special_tokens'), `is ${describe(specials)}; expected an object`);
  const out: Wrap = { prefix: [], suffix: [] };
  let seenSequence = false;
  list(json, 'single', w).forEach((item, i) => {
    const iw = at(at(w, 'single'), i);
    if (isObject(item) && isObject(item['Sequence'])) {
      if (item['Sequence']['id'] !== 'A') fail(iw, `is ${describe(item)}; a single-text template holds only sequence "A"`);
      seenSequence = true;
      return;
    }
    const name = isObject(item) && isObject(item['SpecialToken']) ? item['SpecialToken']['id'] : undefined;
    if (typeof name !== 'string') fail(iw, `is ${describe(item)}; expected {"SpecialToken": {"id": name}} or {"Sequence": {"id": "A"}}`);
    const entry = specials[name];
    const ids = isObject(entry) ? entry['ids'] : undefined;
    if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x) && x >= 0)) fail(at(at(w, 'special_tokens'), name), `is ${describe(entry)}; expected {"ids": [id, ...], ...}`);
    (seenSequence ? out.suffix : out.prefix).push(...(ids as number[]));
  });
  if (!seenSequence) fail(at(w, 'single'), 'has no {"Sequence": {"id": "A"}}: the text would be dropped');
  return out;
}
