// Runs the tokenizer benchmark before the CLI exists:
//   node --import tsx bench/tokenizer.ts [--json] [--mb N] [--vocab-size N]
import { benchTokenizer } from '../src/bench/tokenizer.ts';

const args = process.argv.slice(2);
function value(flag: string): number | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`${flag} needs a number, got ${args[i + 1] ?? 'nothing'}`);
  return v;
}
const mb = value('--mb');
const vocabSize = value('--vocab-size');
await benchTokenizer({
  json: args.includes('--json'),
  ...(mb !== undefined ? { mb } : {}),
  ...(vocabSize !== undefined ? { vocabSize } : {}),
});
