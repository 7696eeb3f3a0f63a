// `genlab serve`: the OpenAI-compatible API, the app API and the Write With Transformer web app.

import { Command, InvalidArgumentError } from 'commander';
import { apiKeyOption, backendOption, hostOption, hubModelHelp, int, portOption, precisionOption, threadsOption } from './options.ts';

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve models: OpenAI-compatible API, app API and the Write With Transformer web app')
    .requiredOption('--model <dirs...>', hubModelHelp('model folder(s); each is served under its folder name (a Hub model under NAME)'))
    .addOption(hostOption())
    .addOption(portOption())
    .addOption(apiKeyOption())
    .option('--adapter <name=dir...>', 'LoRA adapter folder(s) served as model "name" on the first --model (no second copy of the base)')
    .option('--reward-model <dir>', hubModelHelp('reward model for best_of ranking and POST /api/reward'))
    .option('--runs-dir <dir>', 'where alignment runs started from the app write their adapters', 'runs/align')
    .option('--scaling <dirs...>', 'scaling sweep folder(s) (from `genlab scaling sweep --out DIR`) shown in the app\'s Scaling tab; repeatable')
    .option('--db <file>', 'feedback database (SQLite)', 'runs/feedback.sqlite')
    .option('--max-tokens <n>', 'cap on max_tokens per request', int('--max-tokens'))
    .option('--max-n <n>', 'cap on completions per request', int('--max-n'))
    .option('--max-queue <n>', 'requests waiting per model before 429', int('--max-queue', 0))
    .option('--timeout-ms <ms>', 'time limit per request', int('--timeout-ms'))
    .option('--log', 'log every request')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption('inference'))
    .action(async (opts) => {
      const { serveCommand: serve } = await import('../serve/index.ts');
      const limits = {
        ...(opts.maxTokens ? { maxTokens: opts.maxTokens } : {}),
        ...(opts.maxN ? { maxN: opts.maxN } : {}),
        ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
        ...(opts.timeoutMs ? { requestTimeoutMs: opts.timeoutMs } : {}),
      };
      const server = await serve({
        model: opts.model, host: opts.host, port: opts.port, db: opts.db, limits, logger: !!opts.log, runsDir: opts.runsDir,
        ...(opts.scaling ? { scaling: opts.scaling as string[] } : {}),
        ...(opts.adapter ? { adapters: (opts.adapter as string[]).map(parseAdapterSpec) } : {}), ...(opts.rewardModel ? { rewardModel: opts.rewardModel } : {}),
        ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.threads ? { threads: opts.threads } : {}),
        ...(opts.precision ? { precision: opts.precision } : {}),
      });
      const ids = server.server.models.list().map((m) => m.id);
      console.log(`genlab is serving ${ids.join(', ')} at ${server.url}  (Ctrl-C stops)`);
    });
}

/** `--adapter name=DIR` (or just DIR: named after the folder). */
function parseAdapterSpec(spec: string): { name: string; dir: string } {
  const eq = spec.indexOf('=');
  if (eq === 0) throw new InvalidArgumentError(`--adapter '${spec}' has no name before '='; write name=DIR`);
  if (eq < 0) {
    const name = spec.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? '';
    if (!name) throw new InvalidArgumentError(`--adapter '${spec}' is not a folder; write name=DIR`);
    return { name, dir: spec };
  }
  const name = spec.slice(0, eq);
  const dir = spec.slice(eq + 1);
  if (!dir) throw new InvalidArgumentError(`--adapter '${spec}' has no folder after '='; write name=DIR`);
  return { name, dir };
}
