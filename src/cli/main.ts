// The `genlab` command line: parses arguments and calls the library. Each command's work lives
// in its module; this file only wires flags to functions.

import { Command, InvalidArgumentError, Option } from 'commander';
import { init } from '../backend/registry.ts';
import { defaultPreset } from '../train/presets.ts';
import { registerAccountCommands } from './account-commands.ts';
import { registerDataCommands } from './data-commands.ts';
import { registerScalingCommands } from './scaling-commands.ts';
import { evalTranslateAction, registerTranslateCommands, trainTranslateAction } from './translate-commands.ts';

function int(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

function num(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

const backendOption = (): Option =>
  new Option('--backend <name>', 'compute backend (default: native where it was built, else wasm; or $GENLAB_BACKEND)').choices(['native', 'wasm', 'ref']);
const threadsOption = (): Option => new Option('--threads <n>', 'threads for the native or wasm kernels (default: all cores)').argParser(int('--threads'));
const precisionOption = (): Option =>
  new Option('--precision <p>', 'matmul precision: bf16 operands with fp32 accumulation, fp32 master weights and optimizer state (default fp32, or $GENLAB_PRECISION)').choices(['fp32', 'bf16']);

async function device(opts: { backend?: 'native' | 'wasm' | 'ref'; threads?: number; precision?: 'fp32' | 'bf16' }): Promise<void> {
  await init({ ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.precision ? { precision: opts.precision } : {}) });
}

export function buildCli(): Command {
  const program = new Command('genlab')
    .description('Train, fine-tune, align and serve GPT language models in TypeScript')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: false })
    // Options after a subcommand belong to it (`genlab reward train --model` vs `genlab reward --model`).
    .enablePositionalOptions();

  program
    .command('info')
    .description('print the backend, CPU features and thread count genlab would use')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { infoCommand } = await import('./info.ts');
      await device(opts);
      await infoCommand();
    });

  program
    .command('train')
    .description('pre-train a GPT on a corpus (default: the State of the Union speeches) into a model folder')
    .option('--data <sources...>', "text files, folders, .jsonl files, or built-ins 'sotu' / 'moby-dick'", ['sotu'])
    .option('--model <preset|config.json>', 'a preset (tiny, small, app, base) or an HF GPT-2 config.json', 'base')
    .option('--out <dir>', 'model folder to write', 'models/base')
    .option('--steps <n>', 'optimizer steps (default: the preset)', int('--steps'))
    .option('--batch <n>', 'sequences per micro-batch (default: the preset)', int('--batch'))
    .option('--seq-len <n>', 'tokens per sequence (default: the preset, at most the context)', int('--seq-len'))
    .option('--grad-accum <n>', 'micro-batches per optimizer step', int('--grad-accum'), 1)
    .option('--lr <lr>', 'peak learning rate (default: the preset)', num('--lr', 0))
    .option('--warmup <n>', 'learning-rate warmup steps', int('--warmup', 0))
    .option('--weight-decay <wd>', 'AdamW weight decay on matrices', num('--weight-decay', 0), 0.1)
    .option('--dropout <p>', 'dropout on embeddings and residual branches', num('--dropout', 0, 0.99), 0)
    .option('--vocab-size <n>', 'BPE vocabulary size (default: the preset)', int('--vocab-size', 260))
    .option('--eval-every <n>', 'validate every n steps', int('--eval-every', 0), 100)
    .option('--checkpoint-every <n>', 'checkpoint every n steps', int('--checkpoint-every', 0), 200)
    .option('--val-fraction <f>', 'share of documents held out for validation', num('--val-fraction', 0, 0.5), 0.05)
    .option('--seed <n>', 'random seed (init, data order, dropout)', int('--seed', 0), 1337)
    .option('--resume', 'continue from the checkpoint in --out (bit-exact)')
    .option('--cache <dir>', 'where tokenizers and token shards are cached', '.cache/genlab')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption())
    .action(async (opts, cmd: Command) => {
      if (opts.task === 'translate') return trainTranslateAction(cmd);
      const { trainCommand } = await import('../train/run.ts');
      await device(opts);
      await trainCommand(opts);
    });

  program
    .command('finetune')
    .description('adapt a trained model to new text with LoRA (writes a PEFT adapter folder) or fully (--lora-r 0)')
    .requiredOption('--model <dir>', 'base model folder')
    .requiredOption('--data <sources...>', "text files, folders, .jsonl, or 'sotu' / 'moby-dick'")
    .requiredOption('--out <dir>', 'adapter folder (LoRA) or model folder (full)')
    .option('--lora-r <r>', 'LoRA rank; 0 = full fine-tuning', int('--lora-r', 0), 8)
    .option('--lora-alpha <a>', 'LoRA scale numerator (update × alpha/r)', num('--lora-alpha', 0), 16)
    .option('--lora-dropout <p>', 'dropout on the adapter input', num('--lora-dropout', 0, 0.99), 0.05)
    .option('--target <modules>', 'comma-separated module name suffixes', 'c_attn,c_proj,c_fc')
    .option('--rslora', 'scale by alpha/√r (rank-stabilised LoRA)')
    .option('--steps <n>', 'optimizer steps', int('--steps'), 300)
    .option('--batch <n>', 'sequences per batch', int('--batch'), 8)
    .option('--seq-len <n>', 'tokens per sequence (default min(128, context))', int('--seq-len'))
    .option('--lr <lr>', 'peak learning rate', num('--lr', 0), 1e-3)
    .option('--eval-also <sources...>', 'also report validation loss on these (forgetting)')
    .option('--seed <n>', 'random seed', int('--seed', 0), 1337)
    .option('--cache <dir>', 'token shard cache', '.cache/genlab')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { finetuneCommand } = await import('../train/finetune.ts');
      await device(opts);
      await finetuneCommand({
        model: opts.model, data: opts.data, out: opts.out, loraR: opts.loraR, loraAlpha: opts.loraAlpha, loraDropout: opts.loraDropout,
        target: String(opts.target).split(',').map((s: string) => s.trim()).filter(Boolean), rsLora: !!opts.rslora, steps: opts.steps, batch: opts.batch,
        ...(opts.seqLen ? { seqLen: opts.seqLen } : {}), lr: opts.lr, seed: opts.seed, cache: opts.cache, ...(opts.evalAlso ? { evalAlso: opts.evalAlso } : {}),
      });
    });

  program
    .command('merge')
    .description('fold a LoRA adapter into its base model; writes a plain model folder')
    .requiredOption('--model <dir>', 'base model folder')
    .requiredOption('--adapter <dir>', 'PEFT LoRA adapter folder')
    .requiredOption('--out <dir>', 'merged model folder')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { mergeCommand } = await import('../train/finetune.ts');
      await device(opts);
      await mergeCommand(opts);
    });

  program
    .command('align')
    .description('align a model to preference pairs with DPO (LoRA adapter by default, --lora-r 0 for the whole model)')
    .requiredOption('--model <dir>', 'model folder (the policy; with LoRA also the reference)')
    .requiredOption('--data <file>', "preference pairs: JSONL {prompt, chosen, rejected} (GET /api/feedback/export) or the app's feedback.sqlite")
    .requiredOption('--out <dir>', 'adapter folder (LoRA) or model folder (--lora-r 0)')
    .option('--beta <b>', 'DPO β: strength of the pull towards the reference', num('--beta', 0), 0.1)
    .option('--lora-r <r>', 'LoRA rank; 0 = align the whole model', int('--lora-r', 0), 8)
    .option('--lora-alpha <a>', 'LoRA scale numerator', num('--lora-alpha', 0), 16)
    .option('--lora-dropout <p>', 'dropout on the adapter input', num('--lora-dropout', 0, 0.99), 0)
    .option('--target <modules>', 'comma-separated module name suffixes', 'c_attn,c_proj,c_fc')
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
      const { alignCommand } = await import('../align/align-command.ts');
      await device(opts);
      await alignCommand({
        model: opts.model, data: opts.data, out: opts.out, ratings: opts.ratings !== false, loraR: opts.loraR, loraAlpha: opts.loraAlpha, loraDropout: opts.loraDropout,
        target: String(opts.target).split(',').map((s: string) => s.trim()).filter(Boolean), beta: opts.beta, ...(opts.steps ? { steps: opts.steps } : {}), epochs: opts.epochs,
        batch: opts.batch, lr: opts.lr, ...(opts.maxLength ? { maxLength: opts.maxLength } : {}), sftWeight: opts.sftWeight, labelSmoothing: opts.labelSmoothing,
        valFraction: opts.valFraction, ...(opts.evalEvery ? { evalEvery: opts.evalEvery } : {}), seed: opts.seed,
      });
    });

  const reward = program
    .command('reward')
    .description('score completions with a reward model (genlab reward train makes one)')
    .enablePositionalOptions()
    .option('--model <dir>', 'reward model folder')
    .option('--prompt <text>', 'the prompt', '')
    .option('--completion <texts...>', 'completion(s) to score')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      if (!opts.model || !opts.completion) throw new Error('give --model RM and --completion TEXT (and usually --prompt); to train a reward model use `genlab reward train`');
      const { rewardScoreCommand } = await import('../align/reward-command.ts');
      await device(opts);
      await rewardScoreCommand({ model: opts.model, prompt: opts.prompt, completion: opts.completion, json: !!opts.json });
    });
  reward
    .command('train')
    .description('train a reward model (base model backbone + scalar head, Bradley–Terry loss) on preference pairs')
    .requiredOption('--model <dir>', 'base model folder (the backbone starts from it)')
    .requiredOption('--data <file>', "preference pairs: JSONL or the app's feedback.sqlite")
    .requiredOption('--out <dir>', 'reward model folder to write (GPT2ForSequenceClassification layout)')
    .option('--steps <n>', 'optimizer steps (default: --epochs over the pairs)', int('--steps'))
    .option('--epochs <n>', 'passes over the pairs when --steps is not given', num('--epochs', 0), 2)
    .option('--batch <n>', 'pairs per step', int('--batch'), 8)
    .option('--lr <lr>', 'peak learning rate', num('--lr', 0), 3e-4)
    .option('--center <c>', 'weight of the (r_chosen + r_rejected)² penalty that centres rewards on 0', num('--center', 0), 0.01)
    .option('--max-length <n>', 'longest prompt + completion in tokens', int('--max-length', 2))
    .option('--no-ratings', 'with the SQLite database: ignore pairs made from 👍/👎 ratings')
    .option('--val-fraction <f>', 'share of pairs held out', num('--val-fraction', 0, 0.5), 0.1)
    .option('--seed <n>', 'random seed', int('--seed', 0), 1337)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { rewardTrainCommand } = await import('../align/reward-command.ts');
      await device(opts);
      await rewardTrainCommand({
        model: opts.model, data: opts.data, out: opts.out, ratings: opts.ratings !== false, ...(opts.steps ? { steps: opts.steps } : {}), epochs: opts.epochs,
        batch: opts.batch, lr: opts.lr, center: opts.center, ...(opts.maxLength ? { maxLength: opts.maxLength } : {}), valFraction: opts.valFraction, seed: opts.seed,
      });
    });

  program
    .command('generate')
    .description('continue a prompt with a trained model')
    .requiredOption('--model <dir>', 'model folder')
    .option('--prompt <text>', 'text to continue', '')
    .option('--max-tokens <n>', 'tokens to generate', int('--max-tokens'), 64)
    .option('--temperature <t>', '0 = greedy', num('--temperature', 0), 0.8)
    .option('--top-k <k>', 'sample among the k most likely tokens (0 = off)', int('--top-k', 0), 40)
    .option('--top-p <p>', 'nucleus sampling mass (1 = off)', num('--top-p', 0, 1), 1)
    .option('--seed <n>', 'sampling seed', int('--seed', 0))
    .option('--stop <text...>', 'stop before any of these strings')
    .option('-n, --num <n>', 'number of completions', int('--num'), 1)
    .option('--logprobs <k>', 'show each token with its probability and the top k alternatives', int('--logprobs', 0))
    .option('--watermark', 'embed a statistical watermark (green-list bias; `genlab detect` finds it)')
    .option('--best-of <n>', 'sample n candidates per completion and keep the best (by --reward-model, else by mean token log-probability)', int('--best-of'))
    .option('--reward-model <dir>', 'reward model that ranks the --best-of candidates')
    .option('--json', 'print the result as JSON')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption())
    .action(async (opts) => {
      const { generateCommand } = await import('./generate-command.ts');
      await device(opts);
      await generateCommand(opts);
    });

  program
    .command('eval')
    .description('loss, perplexity and bits per byte of a model on a text corpus')
    .requiredOption('--model <dir>', 'model folder')
    .requiredOption('--data <sources...>', "text files, folders, .jsonl, or 'sotu' / 'moby-dick'")
    .option('--max-tokens <n>', 'evaluate at most this many tokens', int('--max-tokens'))
    .option('--calibration', 'expected calibration error of next-token probabilities and a reliability diagram')
    .option('--held-out', "with --calibration: only the run's held-out documents")
    .option('--bins <n>', 'with --calibration: confidence bins', int('--bins', 2))
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts, cmd: Command) => {
      if (opts.task === 'translate') return evalTranslateAction(cmd);
      const { evalCommand } = await import('./eval-command.ts');
      await device(opts);
      await evalCommand(opts);
    });

  program
    .command('serve')
    .description('serve models: OpenAI-compatible API, app API and the Write With Transformer web app')
    .requiredOption('--model <dirs...>', 'model folder(s); each is served under its folder name')
    .option('--host <host>', 'address to bind (127.0.0.1 = this machine only)', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', int('--port', 0), 8080)
    .option('--api-key <key>', 'require Authorization: Bearer <key> on /v1 and /api')
    .option('--adapter <name=dir...>', 'LoRA adapter folder(s) served as model "name" on the first --model (no second copy of the base)')
    .option('--reward-model <dir>', 'reward model for best_of ranking and POST /api/reward')
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
    .action(async (opts) => {
      const { serveCommand } = await import('../serve/index.ts');
      const limits = {
        ...(opts.maxTokens ? { maxTokens: opts.maxTokens } : {}),
        ...(opts.maxN ? { maxN: opts.maxN } : {}),
        ...(opts.maxQueue !== undefined ? { maxQueue: opts.maxQueue } : {}),
        ...(opts.timeoutMs ? { requestTimeoutMs: opts.timeoutMs } : {}),
      };
      const server = await serveCommand({
        model: opts.model, host: opts.host, port: opts.port, db: opts.db, limits, logger: !!opts.log, runsDir: opts.runsDir,
        ...(opts.scaling ? { scaling: opts.scaling as string[] } : {}),
        ...(opts.adapter ? { adapters: (opts.adapter as string[]).map(parseAdapterSpec) } : {}), ...(opts.rewardModel ? { rewardModel: opts.rewardModel } : {}),
        ...(opts.apiKey ? { apiKey: opts.apiKey } : {}), ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.threads ? { threads: opts.threads } : {}),
      });
      const ids = server.server.models.list().map((m) => m.id);
      console.log(`genlab is serving ${ids.join(', ')} at ${server.url}  (Ctrl-C stops)`);
    });

  program
    .command('start')
    .description("the app: trains the default model into models/app if it is missing, then serves it (npm start)")
    .option('--model <dir>', 'serve this model folder instead', 'models/app')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port', int('--port', 0), 8080)
    .option('--scaling <dirs...>', 'also show these scaling sweep folders in the Scaling tab (optional); repeatable')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { startCommand } = await import('./start.ts');
      await device(opts);
      await startCommand(opts);
    });

  const tokenizer = program.command('tokenizer').description('byte-level BPE tokenizers');
  tokenizer
    .command('train')
    .description('train a BPE vocabulary on text files or folders; writes tokenizer.json and vocab.json + merges.txt')
    .argument('<files...>', 'text files or folders of .txt files')
    .requiredOption('--vocab-size <n>', 'vocabulary size including <|endoftext|>', int('--vocab-size', 257))
    .requiredOption('--out <dir>', 'output folder')
    .action(async (files: string[], opts) => {
      const { tokenizerTrainCommand } = await import('../tokenizer/train-command.ts');
      await tokenizerTrainCommand(files, { vocabSize: opts.vocabSize, out: opts.out });
    });

  const bench = program.command('bench').description('benchmarks that print ratios against a peer run in the same invocation');
  bench
    .command('kernels')
    .description('matmul GFLOP/s (256³…2048³ and GPT shapes), attention and layerNorm throughput; vs PyTorch')
    .option('--json', 'one JSON object per line')
    .option('--threads <list>', 'comma-separated thread counts', '1,2')
    .option('--backends <list>', 'comma-separated backends (native, wasm, ref)', 'native,wasm,ref')
    .option('--quick', 'fewer shapes')
    .action(async (opts) => {
      const backends = String(opts.backends).split(',');
      const others = backends.filter((b) => b !== 'native');
      if (others.length > 0) {
        const { benchKernels } = await import('../bench/kernels.ts');
        await benchKernels({ json: !!opts.json, threads: parseList(opts.threads), backends: others as ('wasm' | 'ref')[], quick: !!opts.quick });
      }
      if (backends.includes('native')) {
        const { benchNativeKernels } = await import('../bench/native-kernels.ts');
        await benchNativeKernels({ json: !!opts.json, threads: parseList(opts.threads), quick: !!opts.quick });
      }
    });
  bench
    .command('train')
    .description('tokens/s of full training steps on configs a, b and GPT-2 124M; vs PyTorch')
    .option('--json', 'one JSON object per line')
    .option('--threads <list>', 'comma-separated thread counts', '2')
    .option('--configs <list>', 'comma-separated configs (a, b, gpt2-124M)')
    .option('--precision <list>', 'comma-separated matmul precisions (fp32, bf16)', 'fp32')
    .addOption(backendOption())
    .option('--no-peer', 'skip the PyTorch peer')
    .action(async (opts) => {
      const { benchTrain } = await import('../bench/train.ts');
      await benchTrain({
        json: !!opts.json, threads: parseList(opts.threads), ...(opts.configs ? { configs: opts.configs.split(',') } : {}), noPeer: opts.peer === false,
        ...(opts.backend ? { backend: opts.backend } : {}), precisions: parsePrecisions(opts.precision),
      });
    });
  bench
    .command('generate')
    .description('greedy decode tokens/s with a KV cache, batch 1; vs PyTorch')
    .option('--json', 'one JSON object per line')
    .option('--threads <list>', 'comma-separated thread counts', '1')
    .option('--configs <list>', 'comma-separated configs (b, gpt2-124M)')
    .option('--precision <list>', 'comma-separated matmul precisions (fp32, bf16: decoding streams bf16 weights)', 'fp32')
    .addOption(backendOption())
    .option('--no-peer', 'skip the PyTorch peer')
    .action(async (opts) => {
      const { benchGenerate } = await import('../bench/train.ts');
      await benchGenerate({
        json: !!opts.json, threads: parseList(opts.threads), ...(opts.configs ? { configs: opts.configs.split(',') } : {}), noPeer: opts.peer === false,
        ...(opts.backend ? { backend: opts.backend } : {}), precisions: parsePrecisions(opts.precision),
      });
    });
  bench
    .command('finetune')
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
        config: opts.config, ranks: parseList(opts.r), target: String(opts.target).split(',').map((s: string) => s.trim()).filter(Boolean),
        threads: opts.threads, json: !!opts.json, ...(opts.steps ? { steps: opts.steps } : {}),
      });
    });
  bench
    .command('quality')
    .description('time to quality: genlab and PyTorch train the same model for the same minutes; validation losses')
    .option('--minutes <m>', 'training budget for each (15 is what README reports)', num('--minutes', 0.1), 5)
    .option('--model <preset>', 'preset to train', defaultPreset)
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
    });
  bench
    .command('tokenizer')
    .description('BPE training time on ~10 MB and encode MB/s vs js-tiktoken')
    .option('--json', 'print JSON')
    .option('--mb <n>', 'megabytes of text', num('--mb', 0.1), 10)
    .action(async (opts) => {
      const { benchTokenizer } = await import('../bench/tokenizer.ts');
      await benchTokenizer({ json: !!opts.json, mb: opts.mb });
    });

  registerAccountCommands(program);
  registerDataCommands(program);
  registerScalingCommands(program);
  // After train, eval and data exist: adds --task translate to train/eval, and translate, bleu, data translation-pairs.
  registerTranslateCommands(program);
  return program;
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

function parsePrecisions(s: string): ('fp32' | 'bf16')[] {
  const list = s.split(',').map((x) => x.trim());
  for (const p of list) if (p !== 'fp32' && p !== 'bf16') throw new InvalidArgumentError(`--precision takes fp32 and/or bf16 (comma-separated), got '${s}'`);
  return list as ('fp32' | 'bf16')[];
}

function parseList(s: string): number[] {
  return s.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a comma-separated list of positive integers, got '${s}'`);
    return n;
  });
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`genlab: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
