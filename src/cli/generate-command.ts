// `genlab generate`: continue a prompt, optionally showing each token's probability.

import { defaultDevice } from '../backend/registry.ts';
import { generate, generateStream } from '../generate/generate.ts';
import { loadModel } from '../io/model-folder.ts';

export interface GenerateCommandOptions {
  model: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed?: number;
  stop?: string[];
  num: number;
  logprobs?: number;
  json?: boolean;
  watermark?: boolean;
  /** Candidates per completion ranked by the reward model (or mean log-probability); see best-of.ts. */
  bestOf?: number;
  rewardModel?: string;
}

const pct = (lp: number): string => `${(100 * Math.exp(lp)).toFixed(1)}%`;

export async function generateCommand(o: GenerateCommandOptions): Promise<void> {
  const lm = await loadModel(o.model);
  const opts = {
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    n: o.num,
    logprobs: o.logprobs ?? 0,
    ...(o.watermark ? { watermark: true } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.stop ? { stop: o.stop } : {}),
  };
  try {
    if (o.bestOf !== undefined || o.rewardModel !== undefined) {
      const { bestOfCommand } = await import('./best-of-command.ts');
      await bestOfCommand(lm, o, opts);
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
