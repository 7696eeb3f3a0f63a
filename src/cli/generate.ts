// `genlab generate`: continue a prompt, optionally showing each token's probability, or keeping the
// best of several samples (--best-of, ranked by a reward model or by mean token log-probability).

import { Command } from 'commander';
import type { CompletionScorer } from '../generate/best-of.ts';
import type { CausalLm, GenerateOptions, LanguageModel } from '../generate/generate.ts';
import { backendOption, hubModelHelp, initDevice, int, num, precisionOption, threadsOption } from './options.ts';

export function generateCommand(): Command {
  return new Command('generate')
    .description('continue a prompt with a trained model')
    .requiredOption('--model <dir>', hubModelHelp('model folder'))
    .option('--prompt <text>', 'text to continue', '')
    .option('--max-tokens <n>', "tokens to generate (default: the model's generation_config.json max_new_tokens, else 64)", int('--max-tokens'))
    .option('--temperature <t>', "0 = greedy (default: the model's generation_config.json, else 0.8)", num('--temperature', 0))
    .option('--top-k <k>', "sample among the k most likely tokens, 0 = off (default: the model's generation_config.json, else 40)", int('--top-k', 0))
    .option('--top-p <p>', "nucleus sampling mass, 1 = off (default: the model's generation_config.json, else 1)", num('--top-p', 0, 1))
    .option('--seed <n>', 'sampling seed', int('--seed', 0))
    .option('--stop <text...>', 'stop before any of these strings')
    .option('-n, --num <n>', 'number of completions', int('--num'), 1)
    .option('--logprobs <k>', 'show each token with its probability and the top k alternatives', int('--logprobs', 0))
    .option('--watermark', 'embed a statistical watermark (green-list bias; `genlab detect` finds it)')
    .option('--best-of <n>', 'sample n candidates per completion and keep the best (by --reward-model, else by mean token log-probability)', int('--best-of'))
    .option('--reward-model <dir>', hubModelHelp('reward model that ranks the --best-of candidates'))
    .option('--json', 'print the result as JSON')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption('inference'))
    .action(async (opts) => {
      await initDevice(opts);
      await generateText(opts);
    });
}

export interface GenerateFlags {
  model: string;
  prompt: string;
  /** Unset: the model's generation_config.json, else genlab's defaults (64, 0.8, 40, 1). */
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  num: number;
  logprobs?: number;
  json?: boolean;
  watermark?: boolean;
  /** Candidates per completion ranked by the reward model (or mean log-probability). */
  bestOf?: number;
  rewardModel?: string;
}

const pct = (lp: number): string => `${(100 * Math.exp(lp)).toFixed(1)}%`;

async function generateText(o: GenerateFlags): Promise<void> {
  const { generate, generateStream } = await import('../generate/generate.ts');
  const { loadLanguageModel } = await import('../io/model-folder.ts');
  const { defaultDevice } = await import('../backend/registry.ts');
  const { generationDefaults, ignoredNote } = await import('../generate/generation-defaults.ts');
  const lm = await loadLanguageModel(o.model);
  const d = generationDefaults(lm);
  const note = ignoredNote(d);
  if (note) process.stderr.write(`genlab generate: ${note}\n`);
  const opts = {
    maxTokens: o.maxTokens ?? d.maxTokens ?? 64,
    temperature: o.temperature ?? d.temperature ?? 0.8,
    topK: o.topK ?? d.topK ?? 40,
    topP: o.topP ?? d.topP ?? 1,
    stopTokenIds: d.stopTokenIds,
    n: o.num,
    logprobs: o.logprobs ?? 0,
    ...(o.watermark ? { watermark: true } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.stop ? { stop: o.stop } : {}),
  };
  try {
    if (o.bestOf !== undefined || o.rewardModel !== undefined) {
      await bestOf(lm, o, opts);
    } else if (o.json) {
      console.log(JSON.stringify(await generate(lm, o.prompt, opts), null, 2));
    } else if (o.logprobs) {
      const result = await generate(lm, o.prompt, opts);
      result.completions.forEach((c, i) => {
        if (result.completions.length > 1) console.log(`--- completion ${i + 1} (${c.finishReason})`);
        process.stdout.write(o.prompt);
        console.log(c.text);
        console.log('\ntoken                probability  top alternatives');
        for (const t of c.tokens) {
          const alts = t.top.map((a) => `${JSON.stringify(a.text)} ${pct(a.logprob)}`).join(', ');
          console.log(`${JSON.stringify(t.text).padEnd(20)} ${pct(t.logprob).padStart(11)}  ${alts}`);
        }
      });
    } else {
      // Stream the text as it is generated.
      if (o.num === 1) process.stdout.write(o.prompt);
      const texts: string[] = Array.from({ length: o.num }, () => '');
      for await (const ev of generateStream(lm, o.prompt, opts)) {
        if (o.num === 1) process.stdout.write(ev.text);
        else texts[ev.index] += ev.text;
      }
      if (o.num === 1) process.stdout.write('\n');
      else texts.forEach((t, i) => console.log(`--- completion ${i + 1}\n${o.prompt}${t}`));
    }
  } finally {
    await defaultDevice().close();
  }
}

/** --best-of N [--reward-model RM]: N candidates per completion, the best kept (highest reward, or highest mean token log-probability). */
async function bestOf(lm: LanguageModel<CausalLm>, o: GenerateFlags, opts: GenerateOptions): Promise<void> {
  const { generateBestOf, meanLogprobScorer } = await import('../generate/best-of.ts');
  const bestOf = o.bestOf ?? 4;
  if (bestOf < o.num) throw new Error(`--best-of ${bestOf} must be at least --num ${o.num}`);
  let score: CompletionScorer = meanLogprobScorer;
  if (o.rewardModel) {
    const { loadRewardModel, scoreCompletions } = await import('../align/reward-model.ts');
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
