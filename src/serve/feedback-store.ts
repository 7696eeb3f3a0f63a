// Human feedback in SQLite: ratings of single completions and preferences between two completions
// of the same prompt. The export is the alignment step's input: JSONL lines
// {"prompt", "chosen", "rejected"}.
//
// Durability: WAL journal with synchronous=FULL, and each write is one transaction that commits
// before the HTTP answer is sent. A row acknowledged to a client is on disk, so killing the server
// (even with SIGKILL, mid-write) loses at most the write in flight, which was never acknowledged,
// and never corrupts the file. The schema is versioned with PRAGMA user_version; migrations run
// in order, each in its own transaction, when the store opens.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { feedbackPairs } from '../align/preferences.ts';
import type { FeedbackRequest } from './wire.ts';

/** A rating or a preference, as POST /api/feedback takes it. */
export type FeedbackInput = FeedbackRequest;

export interface FeedbackRow {
  id: number;
  createdAt: string;
  kind: 'rating' | 'preference';
  model: string | null;
  source: string | null;
  prompt: string;
  completion: string | null;
  rating: number | null;
  chosen: string | null;
  rejected: string | null;
  settings: Record<string, unknown> | null;
}

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** Migration i takes the schema from version i to i + 1. Append only; never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE feedback (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
     kind TEXT NOT NULL CHECK (kind IN ('rating', 'preference')),
     model TEXT,
     prompt TEXT NOT NULL,
     completion TEXT,
     rating INTEGER CHECK (rating IN (-1, 1)),
     chosen TEXT,
     rejected TEXT,
     settings TEXT,
     CHECK ((kind = 'rating' AND completion IS NOT NULL AND rating IS NOT NULL)
         OR (kind = 'preference' AND chosen IS NOT NULL AND rejected IS NOT NULL))
   )`,
  `ALTER TABLE feedback ADD COLUMN source TEXT;
   CREATE INDEX feedback_kind_prompt ON feedback (kind, prompt);`,
];

export const FEEDBACK_SCHEMA_VERSION = MIGRATIONS.length;

export class FeedbackStore {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new Error(`cannot open the feedback database ${file}: ${(err as Error).message}; pass another path with --db`);
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.insertStmt = this.db.prepare(
      `INSERT INTO feedback (kind, model, source, prompt, completion, rating, chosen, rejected, settings)
       VALUES (@kind, @model, @source, @prompt, @completion, @rating, @chosen, @rejected, @settings)`,
    );
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  get journalMode(): string {
    return this.db.pragma('journal_mode', { simple: true }) as string;
  }

  private migrate(): void {
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length) {
      throw new Error(`the feedback database ${this.file} has schema version ${current}, newer than this genlab knows (${MIGRATIONS.length}); upgrade genlab or use another --db`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  /** Stores one item and returns its id; the row is durable when this returns. */
  add(input: FeedbackInput): number {
    const row = {
      kind: input.kind,
      model: input.model ?? null,
      source: input.source ?? null,
      prompt: input.prompt,
      completion: input.kind === 'rating' ? input.completion : null,
      rating: input.kind === 'rating' ? (input.rating === 'up' ? 1 : -1) : null,
      chosen: input.kind === 'preference' ? input.chosen : null,
      rejected: input.kind === 'preference' ? input.rejected : null,
      settings: input.settings ? JSON.stringify(input.settings) : null,
    };
    return Number(this.insertStmt.run(row).lastInsertRowid);
  }

  get(id: number): FeedbackRow | null {
    const r = this.db.prepare('SELECT * FROM feedback WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toRow(r) : null;
  }

  count(): { ratings: number; up: number; down: number; preferences: number } {
    const r = this.db
      .prepare(
        `SELECT COALESCE(SUM(kind = 'rating'), 0) AS ratings, COALESCE(SUM(rating = 1), 0) AS up,
                COALESCE(SUM(rating = -1), 0) AS down, COALESCE(SUM(kind = 'preference'), 0) AS preferences FROM feedback`,
      )
      .get() as { ratings: number; up: number; down: number; preferences: number };
    return r;
  }

  /**
   * Preference pairs, oldest first. With ratings, each 👍 completion is also paired with each 👎
   * completion of the exact same prompt (a rating says which of the two the person preferred).
   */
  *pairs(opts: { ratings?: boolean; model?: string } = {}): Generator<PreferencePair> {
    // The query lives with the alignment code, so `genlab align --data feedback.sqlite` reads exactly these pairs.
    for (const p of feedbackPairs(this.db, opts)) yield { prompt: p.prompt, chosen: p.chosen, rejected: p.rejected };
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toRow(r: Record<string, unknown>): FeedbackRow {
  return {
    id: r['id'] as number,
    createdAt: r['created_at'] as string,
    kind: r['kind'] as 'rating' | 'preference',
    model: (r['model'] as string | null) ?? null,
    source: (r['source'] as string | null) ?? null,
    prompt: r['prompt'] as string,
    completion: (r['completion'] as string | null) ?? null,
    rating: (r['rating'] as number | null) ?? null,
    chosen: (r['chosen'] as string | null) ?? null,
    rejected: (r['rejected'] as string | null) ?? null,
    settings: r['settings'] ? (JSON.parse(r['settings'] as string) as Record<string, unknown>) : null,
  };
}
