// `genlab bench kernels | train | generate | finetune | quality | tokenizer`: benchmarks that print
// ratios against a peer (PyTorch, js-tiktoken) run in the same invocation (src/bench/).

import { Command, InvalidArgumentError } from 'commander';
import type { Precision } from '../backend/registry.ts';
import { backendOption, int, intList, names, num, precisionOption } from './options.ts';

export function benchCommand(): Command {
  const bench = new Command('bench').description('benchmarks that print ratios against a peer run in the same invocation');
  bench.addCommand(
    new Command('kernels')
      .description('matmul GFLOP/s (256³…2048³ and GPT shapes), attention and layerNorm throughput; vs PyTorch')
      .option('--json', 'one JSON object per line')
      .option('--threads <list>', 'comma-separated thread counts', '1,2')
      .option('--backends <list>', 'comma-separated backends (native, wasm, ref)', 'native,wasm,ref')
      .option('--quick', 'fewer shapes')
      .action(async (opts) => {
        const backends = String(opts.backends).split(',');
        const others = backends.filter((b) => b !== 'native');
        const threads = intList('--threads')(opts.threads);
        if (others.length > 0) {
          const { benchKernels } = await import('../bench/kernels.ts');
          await benchKernels({ json: !!opts.json, threads, backends: others as ('wasm' | 'ref')[], quick: !!opts.quick });
        }
        if (backends.includes('native')) {
          const { benchNativeKernels } = await import('../bench/native-kernels.ts');
          await benchNativeKernels({ json: !!opts.json, threads, quick: !!opts.quick });
        }
      }),
  );
  bench.addCommand(
    new Command('train')
      .description('tokens/s of full training steps on configs a, b, GPT-2 124M and SmolLM2-135M (Llama shape); vs PyTorch')
      .option('--json', 'one JSON object per line')
      .option('--threads <list>', 'comma-separated thread counts', '2')
      .option('--configs <list>', 'comma-separated configs (a, b, gpt2-124M, smollm2-135m)')
      .option('--precision <list>', 'comma-separated matmul precisions (fp32, bf16)', 'fp32')
      .addOption(backendOption())
      .option('--no-peer', 'skip the PyTorch peer')
      .action(async (opts) => {
        const { benchTrain } = await import('../bench/train.ts');
        await benchTrain({
          json: !!opts.json, threads: intList('--threads')(opts.threads), ...(opts.configs ? { configs: opts.configs.split(',') } : {}), noPeer: opts.peer === false,
          ...(opts.backend ? { backend: opts.backend } : {}), precisions: precisions(opts.precision),
        });
      }),
  );
  bench.addCommand(
    new Command('generate')
      .description('greedy decode tokens/s with a KV cache, batch 1; vs PyTorch, or vs llama.cpp on the same weights (--peer llama.cpp)')
      .option('--json', 'one JSON object per line')
      .option('--threads <list>', 'comma-separated thread counts', '1')
      .option('--configs <list>', 'comma-separated configs (b, gpt2-124M, smollm2-135m; llama3.2-1b only when named: native backend, ~7 GiB)')
      .option('--precision <list>', 'comma-separated matmul precisions (fp32; bf16, int8: decoding streams bf16 or q8_0 weights; each row prints the bytes a step reads); with --peer llama.cpp the default is fp32,bf16,int8', 'fp32')
      .addOption(backendOption())
      .option('--peer <list>', 'peers run in the same invocation: torch (default), llama.cpp (GGUF f32/f16/bf16/q8_0 through node-llama-cpp), or torch,llama.cpp')
      .option('--no-peer', 'skip the peers')
      .action(async (opts, cmd: Command) => {
        const peers = opts.peer === false ? [] : peerList(String(opts.peer ?? 'torch'));
        const common = { json: !!opts.json, threads: intList('--threads')(opts.threads), ...(opts.configs ? { configs: opts.configs.split(',') } : {}), ...(opts.backend ? { backend: opts.backend } : {}) };
        if (peers.includes('llama.cpp')) {
          const { benchGenerateVsLlamaCpp, parsePeerPrecisions } = await import('../bench/llama-cpp-peer.ts');
          const explicit = cmd.getOptionValueSource('precision') !== 'default';
          await benchGenerateVsLlamaCpp({ ...common, torch: peers.includes('torch'), ...(explicit ? { precisions: parsePeerPrecisions(String(opts.precision)) } : {}) });
          return;
        }
        const { benchGenerate } = await import('../bench/train.ts');
        await benchGenerate({ ...common, noPeer: peers.length === 0, precisions: precisions(opts.precision, ['fp32', 'bf16', 'int8']) });
      }),
  );
  bench.addCommand(
    new Command('finetune')
      .description('LoRA vs full fine-tuning on the same model and data: trainable share, optimizer+gradient state, peak memory, tokens/s')
      .option('--config <name>', 'model shape (a, b)', 'b')
      .option('--r <list>', 'comma-separated LoRA ranks', '8')
      .option('--target <modules>', 'comma-separated LoRA target suffixes', 'c_attn,c_proj,c_fc')
      .option('--steps <n>', 'timed steps per variant', int('--steps'))
      .option('--threads <n>', 'wasm threads', int('--threads'), 2)
      .option('--json', 'one JSON object per line')
      .action(async (opts) => {
        const { benchFinetune } = await import('../bench/finetune.ts');
        await benchFinetune({
          config: opts.config, ranks: intList('--r')(opts.r), target: names(String(opts.target)),
          threads: opts.threads, json: !!opts.json, ...(opts.steps ? { steps: opts.steps } : {}),
        });
      }),
  );
  bench.addCommand(
    new Command('quality')
      .description('time to quality: genlab and PyTorch train the same model for the same minutes; validation losses')
      .option('--minutes <m>', 'training budget for each (15 is what README reports)', num('--minutes', 0.1), 5)
      .option('--model <preset>', 'GPT-2 preset to train (the PyTorch peer is GPT-2)', 'base')
      .option('--threads <n>', 'threads for both', int('--threads'), 2)
      .option('--json', 'print JSON')
      .addOption(backendOption())
      .addOption(precisionOption())
      .action(async (opts) => {
        const { benchQuality } = await import('../bench/quality.ts');
        await benchQuality({
          minutes: opts.minutes, preset: opts.model, threads: opts.threads, json: !!opts.json,
          ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.precision ? { precision: opts.precision } : {}),
        });
      }),
  );
  bench.addCommand(
    new Command('tokenizer')
      .description('BPE training time on ~10 MB and encode MB/s vs js-tiktoken')
      .option('--json', 'print JSON')
      .option('--mb <n>', 'megabytes of text', num('--mb', 0.1), 10)
      .action(async (opts) => {
        const { benchTokenizer } = await import('../bench/tokenizer.ts');
        await benchTokenizer({ json: !!opts.json, mb: opts.mb });
      }),
  );
  return bench;
}

/** `--peer torch,llama.cpp`: which peers `bench generate` runs. */
function peerList(s: string): ('torch' | 'llama.cpp')[] {
  const list = s.split(',').map((x) => x.trim());
  for (const p of list) if (p !== 'torch' && p !== 'llama.cpp') throw new InvalidArgumentError(`--peer takes torch and/or llama.cpp (comma-separated), got '${s}'`);
  return list as ('torch' | 'llama.cpp')[];
}

/** `--precision fp32,bf16`: the matmul precisions to measure (decoding also int8). */
function precisions(s: string, allowed: readonly Precision[] = ['fp32', 'bf16']): Precision[] {
  const list = s.split(',').map((x) => x.trim());
  for (const p of list) if (!(allowed as readonly string[]).includes(p)) throw new InvalidArgumentError(`--precision takes ${allowed.join(', ')} (comma-separated), got '${s}'`);
  return list as Precision[];
}
