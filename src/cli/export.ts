// `genlab export`: write a model folder in a format another engine runs — GGUF for llama.cpp, with
// an Ollama Modelfile beside it.

import { Command, Option } from 'commander';
import { hubModelHelp, initDevice } from './options.ts';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a model (GPT-2 or Llama family, merged LoRA folders too) as a GGUF file for llama.cpp, with an Ollama Modelfile beside it')
    .requiredOption('--model <dir>', hubModelHelp('model folder'))
    .addOption(new Option('--format <format>', 'output format').choices(['gguf']).default('gguf'))
    .addOption(new Option('--type <type>', 'weight type: f32, f16 and bf16 keep the weights as floats, q8_0 stores blocks of 32 int8 with one f16 scale').choices(['f32', 'f16', 'bf16', 'q8_0']).default('f16'))
    .option('--out <file>', 'the .gguf file (default: <model folder>/<folder name>-<type>.gguf)')
    .option('--name <name>', "general.name in the file (default: the model folder's name)")
    .option('--no-modelfile', 'do not write the Ollama Modelfile')
    .action(async (opts) => {
      const { exportCommand: run } = await import('../export/commands.ts');
      await initDevice({});
      await run(opts);
    });
}
