// `genlab merge`: fold a LoRA adapter into its base model.

import { Command } from 'commander';
import { backendOption, hubModelHelp, initDevice, threadsOption } from './options.ts';

export function mergeCommand(): Command {
  return new Command('merge')
    .description('fold a LoRA adapter into its base model; writes a plain model folder')
    .requiredOption('--model <dir>', hubModelHelp('base model folder'))
    .requiredOption('--adapter <dir>', 'PEFT LoRA adapter folder')
    .requiredOption('--out <dir>', 'merged model folder')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { mergeCommand: merge } = await import('../train/finetune.ts');
      await initDevice(opts);
      await merge(opts);
    });
}
