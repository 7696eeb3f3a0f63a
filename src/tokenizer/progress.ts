// Terminal progress bars for tokenizer training (word counting, then merging), on stderr.

import cliProgress from 'cli-progress';
import type { TrainProgress } from './train.ts';

export interface TrainProgressBar {
  onProgress: (p: TrainProgress) => void;
  stop: () => void;
}

/**
 * `countTotal` is the amount of input in the unit `countValue` maps progress to (bytes of the files,
 * characters of the texts); the bar shows it in MB.
 */
export function trainProgressBar(countTotal: number, countValue: (p: TrainProgress) => number = (p) => p.chars): TrainProgressBar {
  let bar: cliProgress.SingleBar | null = null;
  let phase: TrainProgress['phase'] | null = null;
  const start = (total: number, label: string): cliProgress.SingleBar => {
    const b = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(15)} [{bar}] {percentage}% | {done} | {duration_formatted} (eta {eta_formatted})`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    b.start(Math.max(1, total), 0, { done: '' });
    return b;
  };
  const onProgress = (p: TrainProgress): void => {
    if (p.phase === 'count') {
      if (phase !== 'count') bar = start(countTotal, 'counting words');
      phase = 'count';
      const v = countValue(p);
      bar!.update(Math.min(v, countTotal), { done: `${(v / 1e6).toFixed(1)} MB, ${p.uniqueWords} distinct words` });
    } else {
      if (phase !== 'merge') {
        bar?.stop();
        bar = start(p.targetMerges, 'merging pairs');
      }
      phase = 'merge';
      bar!.update(p.merges, { done: `${p.merges}/${p.targetMerges} merges` });
      if (p.phase === 'done') {
        bar!.setTotal(Math.max(1, p.merges)); // training may stop short of the target (minFrequency)
        bar!.update(p.merges);
        bar!.stop();
        bar = null;
      }
    }
  };
  return {
    onProgress,
    stop: () => {
      bar?.stop();
      bar = null;
    },
  };
}
