// Ratings of inserted suggestions (thumbs-up/down) and the feedback collected so far.

import type { FeedbackStats } from '../api.ts';
import type { Inserted } from './editor.tsx';
import { visible } from './editor.tsx';
import { ThumbDownIcon, ThumbUpIcon } from './icons.tsx';

export function FeedbackPanel(props: { history: Inserted[]; rate: (key: string, rating: 'up' | 'down') => void; stats: FeedbackStats | null; onExport: () => void }) {
  const { history, rate, stats, onExport } = props;
  return (
    <section className="card feedback" aria-labelledby="feedback-title">
      <h2 id="feedback-title">Feedback</h2>
      {history.length === 0 ? (
        <p className="hint">
          Suggestions you insert appear here; rate them <ThumbUpIcon label="good" /> or <ThumbDownIcon label="bad" />.
        </p>
      ) : (
        <ul className="history" aria-label="Inserted suggestions">
          {history.map((h) => (
            <li key={h.key}>
              <span className="history-text" title={h.text}>
                {visible(h.text)}
              </span>
              <span className="rate" role="group" aria-label="Rate this suggestion">
                <button type="button" aria-pressed={h.rating === 'up'} aria-label="Good suggestion" onClick={() => rate(h.key, 'up')}>
                  <ThumbUpIcon />
                </button>
                <button type="button" aria-pressed={h.rating === 'down'} aria-label="Bad suggestion" onClick={() => rate(h.key, 'down')}>
                  <ThumbDownIcon />
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {stats && (
        <p className="stats">
          <span>
            {stats.ratings} rating{stats.ratings === 1 ? '' : 's'} ({stats.up} <ThumbUpIcon label="good" /> {stats.down} <ThumbDownIcon label="bad" />)
          </span>
          <span>
            {stats.preferences} preference{stats.preferences === 1 ? '' : 's'}
          </span>
          <button type="button" className="link" onClick={onExport}>
            Export JSONL
          </button>
        </p>
      )}
    </section>
  );
}
