// Progress display for long commands: a cli-progress bar on a terminal, and a plain line every
// few seconds otherwise (CI logs, pipes), so the log stays readable.

import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(total: number, label: string, fieldsFormat = ''): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}${fieldsFormat ? ' | ' + fieldsFormat : ''}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
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
      process.stderr.write(`${label} ${v}/${total} (${((100 * v) / total).toFixed(0)}%) ${secs.toFixed(0)}s elapsed, ETA ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}${extra}\n`);
    },
    stop() {},
  };
}
