// Settings and the document, remembered in localStorage across reloads.

import { useEffect, useState } from 'react';

export interface Settings {
  model: string;
  length: number;
  temperature: number;
  topK: number;
  topP: number;
  apiKey: string;
  /** Watermark generated suggestions, so text written with them can be recognised as machine-generated. */
  watermark: boolean;
}

export const DEFAULT_SETTINGS: Settings = { model: '', length: 20, temperature: 0.8, topK: 40, topP: 0.9, apiKey: '', watermark: false };

const PREFIX = 'genlab.';

function read<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    if (raw === null) return fallback;
    const value = JSON.parse(raw) as unknown;
    // Settings saved by an older version may lack fields: keep the defaults for those.
    if (fallback && typeof fallback === 'object' && value && typeof value === 'object') return { ...fallback, ...value } as T;
    return typeof value === typeof fallback ? (value as T) : fallback;
  } catch {
    return fallback;
  }
}

/** useState whose value survives reloads. */
export function usePersistentState<T>(key: string, fallback: T): [T, (v: T | ((old: T) => T)) => void] {
  const [value, setValue] = useState<T>(() => read(key, fallback));
  useEffect(() => {
    try {
      localStorage.setItem(PREFIX + key, JSON.stringify(value));
    } catch {
      // Storage full or disabled (private mode): the app still works, it just forgets.
    }
  }, [key, value]);
  return [value, setValue];
}

/** Settings sent with feedback, so a preference records what produced the completions. */
export function settingsRecord(s: Settings): Record<string, number | string> {
  return { length: s.length, temperature: s.temperature, top_k: s.topK, top_p: s.topP, ...(s.watermark ? { watermark: 'on' } : {}) };
}
