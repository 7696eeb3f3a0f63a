// Reading the JSON files tokenizers come in (tokenizer.json, vocab.json, tokenizer_config.json):
// the error type and the checks every reader shares, so each message names the file and the field.

/** Largest supported vocabulary (ids index plain arrays; real vocabularies are < 2^18). */
export const MAX_VOCAB = 1 << 24;

/** Thrown for a malformed or unsupported tokenizer file; the message starts with the file name. */
export class TokenizerFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'TokenizerFileError';
  }
}

export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(file, `not valid JSON (${(e as Error).message}); the file may be truncated or not a tokenizer file`);
  }
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A value as it appears in the file, shortened for error messages. */
export function describe(x: unknown): string {
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 80 ? s.slice(0, 77) + '...' : s;
}

/** Reads a token-string → id object (vocab.json, or model.vocab of tokenizer.json). */
export function readVocab(raw: unknown, file: string, where: string): Map<string, number> {
  if (!isObject(raw)) throw new TokenizerFileError(file, `${where} must be an object mapping token strings to ids, found ${describe(raw)}`);
  const vocab = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [token, id] of Object.entries(raw)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_VOCAB) {
      throw new TokenizerFileError(file, `${where}: token ${describe(token)} has id ${describe(id)}; ids must be integers in 0..${MAX_VOCAB - 1}`);
    }
    const prev = seen.get(id);
    if (prev !== undefined) throw new TokenizerFileError(file, `${where}: id ${id} is used by both ${describe(prev)} and ${describe(token)}`);
    seen.set(id, token);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerFileError(file, `${where} is empty`);
  return vocab;
}

export interface MergeEntry {
  left: string;
  right: string;
  /** Where it is in the file, for error messages. */
  where: string;
}

/** Reads model.merges of tokenizer.json: "left right" strings (older files) or ["left", "right"] pairs (tokenizers >= 0.20). */
export function readMerges(raw: unknown, file: string): MergeEntry[] {
  if (!Array.isArray(raw)) throw new TokenizerFileError(file, `model.merges must be an array, found ${describe(raw)}`);
  return raw.map((m: unknown, i) => {
    const where = `model.merges[${i}]`;
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { left: parts[0]!, right: parts[1]!, where };
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return { left: m[0], right: m[1], where };
    }
    throw new TokenizerFileError(file, `${where} is ${describe(m)}; expected "left right" or ["left", "right"]`);
  });
}
