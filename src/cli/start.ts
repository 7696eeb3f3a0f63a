// `npm start`: the app on a fresh clone. Trains the app preset on the State of the Union speeches
// when the default model folder is missing (kept for later starts), then serves it.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { serveCommand } from '../serve/index.ts';
import { scalingSources } from '../serve/scaling-sweeps.ts';
import { trainCommand } from '../train/run.ts';

export const defaultAppModel = path.join('models', 'app');

export async function startCommand(o: { model: string; host: string; port: number; scaling?: string[] }): Promise<void> {
  // A mistyped sweep folder fails now, not after training the model.
  if (o.scaling) scalingSources(o.scaling);
  if (!existsSync(path.join(o.model, 'model.safetensors'))) {
    if (path.resolve(o.model) !== path.resolve(defaultAppModel)) {
      throw new Error(`no model in ${o.model}: train one with \`genlab train --out ${o.model}\`, or run npm start without --model to train the default`);
    }
    process.stderr.write(`No model in ${o.model} yet: training the app's default model on the State of the Union speeches (preset 'app'; kept for later starts).\n`);
    await trainCommand({ data: ['sotu'], model: 'app', out: o.model, resume: existsSync(path.join(o.model, 'checkpoint', 'state.safetensors')) });
  }
  const server = await serveCommand({ model: o.model, host: o.host, port: o.port, ...(o.scaling ? { scaling: o.scaling } : {}) });
  console.log(`\nWrite With Transformer is ready: open ${server.url}\n(Ctrl-C stops the server)`);
}
