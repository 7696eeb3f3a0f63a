// Progress display for long commands: a cli-progress bar on a terminal, and a plain line every
// few seconds otherwise (CI logs, pipes), so the log stays readable.

import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Field values for the first frame (a field without one shows '–'). */
  initial?: Record<string, string | number>;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Every `{field}` in fieldsFormat set to '–', so a frame drawn before the first update shows no raw placeholder. */
export function placeholderFields(fieldsFormat: string): Record<string, string> {
  return Object.fromEntries([...fieldsFormat.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], '–']));
}

export function progressBar(total: number, label: string, fieldsFormat = '', opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}${fieldsFormat ? ' | ' + fieldsFormat : ''}`,
        stream,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    // cli-progress draws the first frame inside start(), before any update() brings the fields.
    bar.start(total, 0, { ...placeholderFields(fieldsFormat), ...opts.initial });
    return {
      update: (v, f) => bar.update(v, f ?? {}),
      stop: () => bar.stop(),
    };
  }
  const t0 = Date.now();
  let last = 0;
  return {
    update(v, f) {
      const now = Date.now();
      if (now - last < 5000 && v < total) return;
      last = now;
      const secs = (now - t0) / 1000;
      const eta = v > 0 ? (secs * (total - v)) / v : NaN;
      const extra = f ? ' ' + Object.entries(f).map(([k, x]) => `${k}=${x}`).join(' ') : '';
      stream.write(`${label} ${v}/${total} (${((100 * v) / total).toFixed(0)}%) ${secs.toFixed(0)}s elapsed, ETA ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}${extra}\n`);
    },
    stop() {},
  };
}
