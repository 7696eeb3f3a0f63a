// `genlab generate --best-of N [--reward-model RM]`: N candidates per completion, the best kept
// (highest reward, or highest mean token log-probability without a reward model).

import { generateBestOf, meanLogprobScorer, type CompletionScorer } from '../generate/best-of.ts';
import type { GenerateOptions, LanguageModel } from '../generate/generate.ts';
import { loadRewardModel, scoreCompletions } from '../align/reward-model.ts';

export async function bestOfCommand(lm: LanguageModel, o: { prompt: string; num: number; bestOf?: number; rewardModel?: string; json?: boolean }, opts: GenerateOptions): Promise<void> {
  const bestOf = o.bestOf ?? 4;
  if (bestOf < o.num) throw new Error(`--best-of ${bestOf} must be at least --num ${o.num}`);
  let score: CompletionScorer = meanLogprobScorer;
  if (o.rewardModel) {
    const rm = await loadRewardModel(o.rewardModel, { device: lm.model.device });
    score = (prompt, cs) => scoreCompletions(rm, prompt, cs.map((c) => c.text));
  }
  const r = await generateBestOf(lm, o.prompt, { ...opts, n: o.num, bestOf, score });
  if (o.json) {
    console.log(JSON.stringify({ ...r, ranking: o.rewardModel ? 'reward' : 'mean_logprob' }, null, 2));
    return;
  }
  const what = o.rewardModel ? 'reward' : 'mean logprob';
  for (const c of [...r.candidates].sort((a, b) => b.score - a.score)) {
    const kept = r.completions.includes(c.completion);
    console.log(`${kept ? '✓' : ' '} ${what} ${c.score.toFixed(3).padStart(8)}  ${JSON.stringify(c.completion.text)}`);
  }
  r.completions.forEach((c, i) => console.log(`--- best ${i + 1} of ${bestOf}\n${o.prompt}${c.text}`));
}
