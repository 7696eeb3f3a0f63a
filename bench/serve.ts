// Load test of `genlab serve` (also `npm run bench:serve`):
//   node --import tsx bench/serve.ts [--model DIR] [--connections K] [--duration T] [--max-tokens N]
//                                    [--endpoint completions|chat|autocomplete] [--stream] [--backend ref|wasm] [--json]
import type { BackendName } from '../src/backend/device.ts';
import { benchServe, type BenchEndpoint } from './serve-load.ts';

const args = process.argv.slice(2);
function text(flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
  return v;
}
function value(flag: string): number | undefined {
  const v = text(flag);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${flag} needs a number, got ${v}`);
  return n;
}
const model = text('--model');
const connections = value('--connections');
const duration = value('--duration');
const maxTokens = value('--max-tokens');
const endpoint = text('--endpoint') as BenchEndpoint | undefined;
if (endpoint !== undefined && !['completions', 'chat', 'autocomplete'].includes(endpoint)) throw new Error(`--endpoint must be completions, chat or autocomplete, got ${endpoint}`);
const backend = text('--backend') as BackendName | undefined;
const result = await benchServe({
  json: args.includes('--json'),
  stream: args.includes('--stream'),
  ...(model !== undefined ? { model } : {}),
  ...(connections !== undefined ? { connections } : {}),
  ...(duration !== undefined ? { duration } : {}),
  ...(maxTokens !== undefined ? { maxTokens } : {}),
  ...(endpoint !== undefined ? { endpoint } : {}),
  ...(backend !== undefined ? { backend } : {}),
});
process.exitCode = result.errors + result.non_2xx + result.timeouts === 0 ? 0 : 1;
