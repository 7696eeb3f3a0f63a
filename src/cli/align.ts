// `genlab align`: DPO on preference pairs (the work is in src/align/align-command.ts).

import { Command } from 'commander';
import { backendOption, hubModelHelp, initDevice, int, names, num, threadsOption } from './options.ts';

export function alignCommand(): Command {
  return new Command('align')
    .description('align a model to preference pairs with DPO (LoRA adapter by default, --lora-r 0 for the whole model)')
    .requiredOption('--model <dir>', hubModelHelp('model folder (the policy; with LoRA also the reference)'))
    .requiredOption('--data <file>', "preference pairs: JSONL {prompt, chosen, rejected} (GET /api/feedback/export) or the app's feedback.sqlite")
    .requiredOption('--out <dir>', 'adapter folder (LoRA) or model folder (--lora-r 0)')
    .option('--beta <b>', 'DPO β: strength of the pull towards the reference', num('--beta', 0), 0.1)
    .option('--lora-r <r>', 'LoRA rank; 0 = align the whole model', int('--lora-r', 0), 8)
    .option('--lora-alpha <a>', 'LoRA scale numerator', num('--lora-alpha', 0), 16)
    .option('--lora-dropout <p>', 'dropout on the adapter input', num('--lora-dropout', 0, 0.99), 0)
    .option('--target <modules>', 'comma-separated module name suffixes (default: every linear layer of the architecture: c_attn,c_proj,c_fc for GPT-2; q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj for the Llama family)')
    .option('--steps <n>', 'optimizer steps (default: --epochs over the pairs)', int('--steps'))
    .option('--epochs <n>', 'passes over the pairs when --steps is not given', num('--epochs', 0), 2)
    .option('--batch <n>', 'pairs per step', int('--batch'), 8)
    .option('--lr <lr>', 'peak learning rate (too high over-optimises: see docs/alignment.md)', num('--lr', 0), 5e-4)
    .option('--max-length <n>', 'longest prompt + completion in tokens (default: the context)', int('--max-length', 2))
    .option('--sft-weight <w>', "weight of the chosen completions' NLL (keeps their likelihood from collapsing)", num('--sft-weight', 0), 0)
    .option('--label-smoothing <e>', 'conservative DPO: share of labels assumed flipped', num('--label-smoothing', 0, 0.49), 0)
    .option('--no-ratings', 'with the SQLite database: ignore pairs made from 👍/👎 ratings')
    .option('--val-fraction <f>', 'share of pairs held out (when there are at least 10)', num('--val-fraction', 0, 0.5), 0.1)
    .option('--eval-every <n>', 'evaluate on the held-out pairs every n steps', int('--eval-every', 0))
    .option('--seed <n>', 'random seed', int('--seed', 0), 1337)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { alignCommand: align } = await import('../align/align-command.ts');
      await initDevice(opts);
      await align({
        model: opts.model, data: opts.data, out: opts.out, ratings: opts.ratings !== false, loraR: opts.loraR, loraAlpha: opts.loraAlpha, loraDropout: opts.loraDropout,
        ...(opts.target !== undefined ? { target: names(String(opts.target)) } : {}), beta: opts.beta, ...(opts.steps ? { steps: opts.steps } : {}), epochs: opts.epochs,
        batch: opts.batch, lr: opts.lr, ...(opts.maxLength ? { maxLength: opts.maxLength } : {}), sftWeight: opts.sftWeight, labelSmoothing: opts.labelSmoothing,
        valFraction: opts.valFraction, ...(opts.evalEvery ? { evalEvery: opts.evalEvery } : {}), seed: opts.seed,
      });
    });
}
