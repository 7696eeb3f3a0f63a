// `genlab import`: turn a GGUF file (llama.cpp's format) into a Hugging Face model folder genlab runs.

import { Command } from 'commander';
import { initDevice } from './options.ts';

export function importCommand(): Command {
  return new Command('import')
    .description('read a GGUF model (gpt2, llama, qwen2, qwen3; f32, f16, bf16, q8_0, q4_0) into a Hugging Face model folder genlab runs')
    .argument('<file>', 'the .gguf file')
    .requiredOption('--out <dir>', 'model folder to write (config.json, model.safetensors, tokenizer.json)')
    .action(async (file: string, opts: { out: string }) => {
      const { importCommand: run } = await import('../export/commands.ts');
      await initDevice({});
      await run({ file, out: opts.out });
    });
}
