// Training compute of milestone language models, to put a genlab run on the same axis. Values are
// Epoch AI's estimates ("Notable AI Models", epoch.ai/data) where Epoch publishes one, otherwise
// 6·N·D from the parameter count N and training tokens D the model's paper reports (the same
// approximation Epoch uses for dense transformers). Each entry says which.

export interface Milestone {
  name: string;
  organisation: string;
  /** Publication or release date (YYYY-MM). */
  date: string;
  flop: number;
  source: string;
}

const EPOCH = 'Epoch AI, Notable AI Models (epoch.ai/data/notable-ai-models)';

export const MILESTONES: readonly Milestone[] = [
  { name: 'Transformer', organisation: 'Google Brain', date: '2017-06', flop: 7.4e18, source: EPOCH },
  { name: 'GPT-2 (1.5B)', organisation: 'OpenAI', date: '2019-02', flop: 1.9e21, source: EPOCH },
  { name: 'GPT-3 (175B)', organisation: 'OpenAI', date: '2020-05', flop: 3.14e23, source: `${EPOCH}; Brown et al. 2020 report 3.14e23` },
  { name: 'Chinchilla (70B)', organisation: 'DeepMind', date: '2022-03', flop: 5.76e23, source: 'Hoffmann et al. 2022 (same budget as Gopher)' },
  { name: 'PaLM (540B)', organisation: 'Google', date: '2022-04', flop: 2.53e24, source: `${EPOCH}; Chowdhery et al. 2022` },
  { name: 'BLOOM (176B)', organisation: 'BigScience', date: '2022-07', flop: 6 * 176.2e9 * 366e9, source: '6·N·D with N = 176.2e9 parameters, D = 366e9 tokens (Le Scao et al. 2022)' },
  { name: 'LLaMA (65B)', organisation: 'Meta', date: '2023-02', flop: 6 * 65.2e9 * 1.4e12, source: '6·N·D with N = 65.2e9 parameters, D = 1.4e12 tokens (Touvron et al. 2023)' },
  { name: 'GPT-4', organisation: 'OpenAI', date: '2023-03', flop: 2.1e25, source: `${EPOCH} (estimate; OpenAI disclosed no compute)` },
  { name: 'Gemini 1.0 Ultra', organisation: 'Google DeepMind', date: '2023-12', flop: 5.0e25, source: `${EPOCH} (estimate)` },
  { name: 'Llama 3.1 (405B)', organisation: 'Meta', date: '2024-07', flop: 3.8e25, source: `${EPOCH}; 6·N·D with 15.6e12 tokens gives the same` },
];

/** The EU AI Act presumes systemic risk above this much training compute (Art. 51(2)). */
export const EU_SYSTEMIC_RISK_FLOP = 1e25;
