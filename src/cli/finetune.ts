// `genlab finetune`: adapt a trained model to new text with LoRA, or fully with --lora-r 0.

import { Command } from 'commander';
import { backendOption, hubModelHelp, initDevice, int, names, num, threadsOption } from './options.ts';

export function finetuneCommand(): Command {
  return new Command('finetune')
    .description('adapt a trained model to new text with LoRA (writes a PEFT adapter folder) or fully (--lora-r 0)')
    .requiredOption('--model <dir>', hubModelHelp('base model folder'))
    .requiredOption('--data <sources...>', "text files, folders, .jsonl, or 'sotu' / 'moby-dick'")
    .requiredOption('--out <dir>', 'adapter folder (LoRA) or model folder (full)')
    .option('--lora-r <r>', 'LoRA rank; 0 = full fine-tuning', int('--lora-r', 0), 8)
    .option('--lora-alpha <a>', 'LoRA scale numerator (update × alpha/r)', num('--lora-alpha', 0), 16)
    .option('--lora-dropout <p>', 'dropout on the adapter input', num('--lora-dropout', 0, 0.99), 0.05)
    .option('--target <modules>', 'comma-separated module name suffixes (default: every linear layer of the architecture: c_attn,c_proj,c_fc for GPT-2; q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj for the Llama family)')
    .option('--rslora', 'scale by alpha/√r (rank-stabilised LoRA)')
    .option('--steps <n>', 'optimizer steps', int('--steps'), 300)
    .option('--batch <n>', 'sequences per batch', int('--batch'), 8)
    .option('--seq-len <n>', 'tokens per sequence (default min(128, context))', int('--seq-len'))
    .option('--lr <lr>', 'peak learning rate', num('--lr', 0), 1e-3)
    .option('--eval-also <sources...>', 'also report validation loss on these (forgetting)')
    .option('--val-fraction <f>', 'share of the text held out for validation: whole documents, or the tail of a single one', num('--val-fraction', 0.001, 0.5), 0.05)
    .option('--seed <n>', 'random seed', int('--seed', 0), 1337)
    .option('--cache <dir>', 'token shard cache', '.cache/genlab')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { finetuneCommand: finetune } = await import('../train/finetune.ts');
      await initDevice(opts);
      await finetune({
        model: opts.model, data: opts.data, out: opts.out, loraR: opts.loraR, loraAlpha: opts.loraAlpha, loraDropout: opts.loraDropout,
        ...(opts.target !== undefined ? { target: names(String(opts.target)) } : {}), rsLora: !!opts.rslora, steps: opts.steps, batch: opts.batch,
        ...(opts.seqLen ? { seqLen: opts.seqLen } : {}), lr: opts.lr, valFraction: opts.valFraction, seed: opts.seed, cache: opts.cache, ...(opts.evalAlso ? { evalAlso: opts.evalAlso } : {}),
      });
    });
}
