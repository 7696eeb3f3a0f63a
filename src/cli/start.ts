// `genlab start` (`npm start`): the app on a fresh clone. Trains the app preset on the State of the
// Union speeches when the default model folder is missing (kept for later starts), then serves it.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { apiKeyOption, backendOption, hostOption, hubModelHelp, initDevice, portOption, threadsOption } from './options.ts';

const defaultAppModel = path.join('models', 'app');

export function startCommand(): Command {
  return new Command('start')
    .description("the app: trains the default model into models/app if it is missing, then serves it (npm start)")
    .option('--model <dir>', hubModelHelp('serve this model folder instead'), defaultAppModel)
    .addOption(hostOption())
    .addOption(portOption())
    .addOption(apiKeyOption())
    .option('--scaling <dirs...>', 'also show these scaling sweep folders in the Scaling tab (optional); repeatable')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      await initDevice(opts);
      await start(opts);
    });
}

async function start(o: { model: string; host: string; port: number; apiKey?: string; scaling?: string[] }): Promise<void> {
  const { serveCommand } = await import('../serve/index.ts');
  const { scalingSources } = await import('../serve/scaling-sweeps.ts');
  // A mistyped sweep folder fails now, not after training the model.
  if (o.scaling) scalingSources(o.scaling);
  // hf:ORG/NAME is served as serve does (fetched into the Hub cache); only a folder can be trained into.
  if (!o.model.startsWith('hf:') && !existsSync(path.join(o.model, 'model.safetensors'))) {
    if (path.resolve(o.model) !== path.resolve(defaultAppModel)) {
      throw new Error(`no model in ${o.model}: train one with \`genlab train --out ${o.model}\`, or run npm start without --model to train the default`);
    }
    process.stderr.write(`No model in ${o.model} yet: training the app's default model on the State of the Union speeches (preset 'app'; kept for later starts).\n`);
    const { trainCommand } = await import('../train/run.ts');
    await trainCommand({ data: ['sotu'], model: 'app', out: o.model, resume: existsSync(path.join(o.model, 'checkpoint', 'state.safetensors')) });
  }
  const server = await serveCommand({ model: o.model, host: o.host, port: o.port, ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}), ...(o.scaling ? { scaling: o.scaling } : {}) });
  console.log(`\nWrite With Transformer is ready: open ${server.url}\n(Ctrl-C stops the server)`);
}
