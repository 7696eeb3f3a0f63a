// Preference data for alignment: pairs {prompt, chosen, rejected} read from JSONL (the app's
// /api/feedback/export) or straight from the app's SQLite feedback database, tokenized with the
// policy's tokenizer into prompt and completion ids, and packed into batches whose targets mask
// everything but the completion tokens (ignore index -100), so a row's summed log-probability is
// log π(completion | prompt).

import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { Rng } from '../backend/rng.ts';
import { promptIds, startOfTextId } from '../generate/generate.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** A pair with where it came from ("prefs.jsonl:17", "feedback.sqlite#preference 12"), for error messages. */
export interface SourcedPair extends PreferencePair {
  source: string;
}

export const IGNORE_INDEX = -100;

const SQLITE_MAGIC = 'SQLite format 3\0';

function isSqliteFile(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(16);
    const n = readSync(fd, head, 0, 16, 0);
    return n === 16 && head.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

/**
 * Preference pairs of the app's feedback table, oldest first. With ratings, each 👍 completion is
 * also paired with each 👎 completion of the exact same prompt. The feedback store's export uses
 * this too, so `genlab align --data feedback.sqlite` trains on exactly what the export returns.
 */
export function* feedbackPairs(db: Database.Database, opts: { ratings?: boolean; model?: string } = {}): Generator<PreferencePair & { id: number; kind: 'preference' | 'rating' }> {
  const byModel = opts.model !== undefined ? 'AND model = @model' : '';
  const params = opts.model !== undefined ? { model: opts.model } : {};
  const prefs = db.prepare(`SELECT id, prompt, chosen, rejected FROM feedback WHERE kind = 'preference' ${byModel} ORDER BY id`);
  for (const r of prefs.iterate(params) as Iterable<PreferencePair & { id: number }>) yield { id: r.id, kind: 'preference', prompt: r.prompt, chosen: r.chosen, rejected: r.rejected };
  if (!opts.ratings) return;
  const rated = db.prepare(
    `SELECT up.id AS id, up.prompt AS prompt, up.completion AS chosen, down.completion AS rejected
       FROM feedback up JOIN feedback down
         ON up.prompt = down.prompt AND up.kind = 'rating' AND down.kind = 'rating' AND up.rating = 1 AND down.rating = -1
            AND up.completion <> down.completion
      WHERE 1 = 1 ${opts.model !== undefined ? 'AND up.model = @model AND down.model = @model' : ''}
      ORDER BY up.id, down.id`,
  );
  for (const r of rated.iterate(params) as Iterable<PreferencePair & { id: number }>) yield { id: r.id, kind: 'rating', prompt: r.prompt, chosen: r.chosen, rejected: r.rejected };
}

/** Pairs from the app's SQLite database (opened read-only, so a running server is not disturbed). */
export function readFeedbackDatabase(file: string, opts: { ratings?: boolean; model?: string } = {}): SourcedPair[] {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open the feedback database ${file}: ${(err as Error).message}`);
  }
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'feedback'").get();
    if (!table) throw new Error(`${file} is an SQLite database without a feedback table; pass the database \`genlab serve --db\` writes (default runs/feedback.sqlite) or a JSONL export`);
    return [...feedbackPairs(db, opts)].map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected, source: `${file}#${p.kind} ${p.id}` }));
  } finally {
    db.close();
  }
}

/** Pairs from JSONL lines {"prompt", "chosen", "rejected"}; blank lines are skipped. */
export function parsePreferenceJsonl(text: string, file: string): SourcedPair[] {
  const out: SourcedPair[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not valid JSON (${(err as Error).message}); each line must be an object {"prompt", "chosen", "rejected"}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error(`${where}: expected an object {"prompt", "chosen", "rejected"}, got ${JSON.stringify(obj).slice(0, 60)}`);
    const o = obj as Record<string, unknown>;
    for (const key of ['prompt', 'chosen', 'rejected'] as const) {
      if (typeof o[key] !== 'string') throw new Error(`${where}: "${key}" must be a string, got ${o[key] === undefined ? 'nothing' : JSON.stringify(o[key]).slice(0, 40)}`);
    }
    out.push({ prompt: o['prompt'] as string, chosen: o['chosen'] as string, rejected: o['rejected'] as string, source: where });
  }
  return out;
}

/**
 * Reads preference pairs from a JSONL file or the app's SQLite database (detected by content). From
 * the database, pairs made from 👍/👎 ratings of the same prompt are included unless `ratings` is
 * false.
 */
export async function readPreferences(file: string, opts: { ratings?: boolean; model?: string } = {}): Promise<SourcedPair[]> {
  let sqlite: boolean;
  try {
    sqlite = isSqliteFile(file);
  } catch (err) {
    throw new Error(`cannot read preference data ${file}: ${(err as Error).message}; pass a JSONL file (GET /api/feedback/export) or the app's feedback.sqlite`);
  }
  const pairs = sqlite ? readFeedbackDatabase(file, { ...opts, ratings: opts.ratings ?? true }) : parsePreferenceJsonl(await readFile(file, 'utf8'), file);
  if (pairs.length === 0) {
    throw new Error(`${file} holds no preference pairs; collect some in the app (Compare mode, or 👍/👎 ratings of the same prompt) or write JSONL lines {"prompt", "chosen", "rejected"}`);
  }
  return pairs;
}

export interface TokenizedPair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
  source: string;
}

export interface TokenizeOptions {
  /** Longest prompt + completion (default: the model's context). */
  maxLength: number;
  /** Prompts are cut from the left to at most this many tokens (default maxLength / 2). */
  maxPromptLength?: number;
}

/**
 * Prompt and completion ids. Prompt and completions are encoded separately, so the completion
 * tokens are exactly what the model would have generated. Trailing spaces of the prompt move to
 * the completions (as the app joins suggestions: BPE attaches a space to the following word).
 * Prompts are encoded as generation encodes them (promptIds: a Llama tokenizer's BOS first; an
 * empty prompt starts from the end-of-text token). Long prompts keep their end (and the BOS); long
 * completions their beginning. Empty or identical completions are refused: they are the data errors that make
 * DPO log NaN rewards (0/0 log-probabilities) or sit at loss log 2.
 */
export function tokenizePairs(pairs: readonly SourcedPair[], tokenizer: Tokenizer, o: TokenizeOptions): TokenizedPair[] {
  const maxPrompt = o.maxPromptLength ?? Math.floor(o.maxLength / 2);
  if (!Number.isInteger(o.maxLength) || o.maxLength < 2) throw new Error(`maxLength must be an integer >= 2, got ${o.maxLength}`);
  if (!Number.isInteger(maxPrompt) || maxPrompt < 1 || maxPrompt >= o.maxLength) throw new Error(`maxPromptLength must be an integer from 1 to ${o.maxLength - 1}, got ${maxPrompt}`);
  const encode = (s: string): number[] => tokenizer.encode(s, { allowSpecial: false });
  return pairs.map((p) => {
    const space = /[ ]+$/.exec(p.prompt)?.[0] ?? '';
    const promptText = p.prompt.slice(0, p.prompt.length - space.length);
    if (promptText === '' && startOfTextId(tokenizer) === null) throw new Error(`${p.source}: the prompt is empty and the tokenizer has no end-of-text token to start from; give the pair a prompt`);
    let prompt = promptIds(tokenizer, promptText);
    if (prompt.length > maxPrompt) {
      const keep = prompt.length > 1 && prompt[0] === startOfTextId(tokenizer) ? 1 : 0;
      prompt = [...prompt.slice(0, keep), ...prompt.slice(prompt.length - maxPrompt + keep)];
    }
    const room = o.maxLength - prompt.length;
    const chosen = encode(space + p.chosen).slice(0, room);
    const rejected = encode(space + p.rejected).slice(0, room);
    for (const [name, ids] of [['chosen', chosen], ['rejected', rejected]] as const) {
      if (ids.length === 0) throw new Error(`${p.source}: the ${name} completion is empty; a pair needs text in both completions (remove the pair)`);
    }
    if (chosen.length === rejected.length && chosen.every((id, i) => id === rejected[i])) {
      throw new Error(`${p.source}: chosen and rejected are the same tokens${room < 64 ? ` after cutting them to ${room} tokens (raise --max-length)` : ''}; a preference needs two different completions (remove the pair)`);
    }
    return { prompt, chosen, rejected, source: p.source };
  });
}

/** Shuffles pairs (seeded) and holds out a fraction for evaluation (none when there are fewer than 10 pairs). */
export function splitPairs<T>(pairs: readonly T[], valFraction: number, seed: number): { train: T[]; val: T[] } {
  const order = shuffled(pairs.length, new Rng(seed));
  const nVal = pairs.length >= 10 ? Math.max(1, Math.round(valFraction * pairs.length)) : 0;
  return { val: order.slice(0, nVal).map((i) => pairs[i]!), train: order.slice(nVal).map((i) => pairs[i]!) };
}

export function shuffled(n: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * Rows of a pair batch: chosen sequences first, then rejected (row r and r + B are a pair). Input
 * ids are the sequence without its last token, targets the sequence shifted by one with prompt
 * positions and padding set to IGNORE_INDEX.
 */
export interface PairBatch {
  /** Pairs in the batch (B); rows are 2B. */
  pairs: number;
  /** Columns (longest sequence − 1). */
  width: number;
  ids: Int32Array;
  targets: Int32Array;
  /** Completion tokens per row. */
  counts: number[];
}

/** Packs sequences (prompt + completion) into rows; `pad` fills the inputs past each row's end. */
export function packSequences(seqs: readonly { prompt: readonly number[]; completion: readonly number[] }[], pad: number): Omit<PairBatch, 'pairs'> {
  const width = seqs.reduce((w, s) => Math.max(w, s.prompt.length + s.completion.length - 1), 1);
  const rows = seqs.length;
  const ids = new Int32Array(rows * width).fill(pad);
  const targets = new Int32Array(rows * width).fill(IGNORE_INDEX);
  const counts: number[] = [];
  seqs.forEach((s, r) => {
    const all = [...s.prompt, ...s.completion];
    for (let t = 0; t < all.length - 1; t++) {
      ids[r * width + t] = all[t]!;
      // Position t predicts token t + 1, which is scored only when it belongs to the completion.
      if (t + 1 >= s.prompt.length) targets[r * width + t] = all[t + 1]!;
    }
    counts.push(s.completion.length);
  });
  return { width, ids, targets, counts };
}

export function pairBatch(pairs: readonly TokenizedPair[], pad: number): PairBatch {
  const seqs = [...pairs.map((p) => ({ prompt: p.prompt, completion: p.chosen })), ...pairs.map((p) => ({ prompt: p.prompt, completion: p.rejected }))];
  return { pairs: pairs.length, ...packSequences(seqs, pad) };
}
