// `genlab bench generate --peer llama.cpp`: the bench model (random weights, the same seed as
// genlab's) exported to one GGUF per llama.cpp type and decoded by the real llama.cpp
// (node-llama-cpp's prebuilt CPU build) in the same invocation, next to genlab on the same prompt.
// Pairs: genlab fp32 ↔ f32, bf16 ↔ f16 and bf16, int8 ↔ q8_0. Both engines are timed alike:
// from the prompt's forward pass to the last greedy token, new tokens ÷ time, batch 1, after a
// 32-token warm-up; loading and exporting are outside the clock. llama.cpp runs with a float32 KV
// cache (as genlab's) and without flash attention, as src/export/llama-cpp.test.ts checks it, so
// fp32 greedy ids can be compared id for id.

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Llama as LlamaCpp, Token } from 'node-llama-cpp';
import type { BackendName } from '../backend/device.ts';
import { createDevice, defaultBackend, type Precision } from '../backend/registry.ts';
import { Rng } from '../backend/rng.ts';
import { exportGguf, type GgufExportType } from '../export/gguf-export.ts';
import type { LoadedLlama, LoadedModel } from '../io/model-folder.ts';
import { ByteLevelTokenizer } from '../tokenizer/tokenizer.ts';
import { runPeer, torchAvailable } from './peer.ts';
import { benchDecode, benchModel, generateConfigs, kernelPath, type BenchConfig } from './train.ts';

/** genlab's decode precisions that have a llama.cpp counterpart ('int8' only where the device has it). */
export type PeerPrecision = 'fp32' | 'bf16' | 'int8';
export const PEER_PRECISIONS: readonly PeerPrecision[] = ['fp32', 'bf16', 'int8'];
/** The llama.cpp file types each genlab precision is compared with. */
export const LLAMA_CPP_PAIRS: Record<PeerPrecision, GgufExportType[]> = { fp32: ['f32'], bf16: ['f16', 'bf16'], int8: ['q8_0'] };

/** Tokens decoded before the timed run, on both engines (benchDecode's warm-up). */
const WARMUP_TOKENS = 32;

export interface LlamaCppBenchRow {
  bench: 'generate';
  peer: 'llama.cpp';
  config: string;
  threads: number;
  precision: PeerPrecision;
  llama_cpp_type: GgufExportType;
  /** genlab's kernels for this precision ("native avx512 bf16:avx512bf16"). */
  kernels: string;
  /** null when genlab cannot run this precision (genlab_unavailable says why). */
  tokens_per_s: number | null;
  genlab_unavailable?: string;
  peer_tokens_per_s: number;
  /** genlab ÷ llama.cpp; the target is ≥ 1. */
  ratio: number | null;
  /** Tokens timed (new tokens after the prompt) and the prompt's length. */
  tokens: number;
  prompt_tokens: number;
  /** Whether both engines chose the same greedy ids from the same prompt, and where they first differ. */
  ids_equal: boolean | null;
  first_divergence: number | null;
  /** 1-minute load average right after each engine's timed run (the machine may be shared). */
  genlab_load: number | null;
  peer_load: number;
  /** PyTorch fp32 on the same config and threads, with --peer torch,llama.cpp. */
  torch_tokens_per_s?: number;
  genlab_peak_bytes?: number;
  /** Bytes a genlab decoding step reads (weights and KV cache), and the GGUF file's size (llama.cpp streams about that much). */
  genlab_bytes_per_token?: number;
  gguf_bytes: number;
}

export interface LlamaCppBestRow {
  bench: 'generate-best';
  peer: 'llama.cpp';
  config: string;
  precision: PeerPrecision;
  llama_cpp_type: GgufExportType;
  genlab_threads: number;
  tokens_per_s: number;
  peer_threads: number;
  peer_tokens_per_s: number;
  ratio: number;
  text: string;
}

export interface LlamaCppBenchOptions {
  json: boolean;
  threads: number[];
  /** Names from generateConfigs (default: every config that is not opt-in). */
  configs?: string[];
  /** Configs to run instead of named ones (tests use tiny shapes). */
  benchConfigs?: BenchConfig[];
  /** genlab precisions to compare (default fp32, bf16, int8). */
  precisions?: PeerPrecision[];
  backend?: BackendName;
  /** Also run the PyTorch peer (fp32) on each config and thread count. */
  torch?: boolean;
  print?: (line: string) => void;
}

export interface LlamaCppInfo {
  nodeLlamaCpp: string;
  llamaCppRelease: string;
  build: string;
  /** The ggml CPU backend library llama.cpp picked for this CPU, when its log names it. */
  cpuBackend: string | null;
  /** llama.cpp's system info line (the instruction sets it uses). */
  systemInfo: string;
}

/** Parses `--precision` for the llama.cpp comparison. */
export function parsePeerPrecisions(s: string): PeerPrecision[] {
  const list = s.split(',').map((x) => x.trim());
  for (const p of list) {
    if (!(PEER_PRECISIONS as readonly string[]).includes(p)) throw new Error(`--precision takes ${PEER_PRECISIONS.join(', ')} (comma-separated) with --peer llama.cpp, got '${s}'`);
  }
  return list as PeerPrecision[];
}

/**
 * The prompt benchDecode's timed run decodes after: the second draw of seqLen ids from Rng(0) (the
 * first is the warm-up's prompt). Used when genlab has no run of its own to take it from.
 */
export function benchDecodePrompt(c: BenchConfig): number[] {
  const rng = new Rng(0);
  const draw = (): number[] => Array.from({ length: c.seqLen }, () => Math.floor(rng.uniform() * c.vocabSize));
  draw();
  return draw();
}

/** A byte-level tokenizer (256 bytes and <|endoftext|>): the GGUF needs one; the bench feeds ids, never text. */
function benchTokenizer(c: BenchConfig): ByteLevelTokenizer {
  if (c.vocabSize < 257) throw new Error(`bench config ${c.name} has vocabSize ${c.vocabSize}; the llama.cpp peer needs at least 257 (256 bytes and <|endoftext|>) to write a GGUF vocabulary`);
  const vocab = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  return new ByteLevelTokenizer({ vocab, merges: [], specialTokens: [{ id: 256, content: '<|endoftext|>' }] });
}

/** Writes the config's bench model (seed 0, fp32 values) as one GGUF per type into dir. */
async function exportBenchModel(c: BenchConfig, backend: BackendName, types: GgufExportType[], dir: string): Promise<Map<GgufExportType, { file: string; bytes: number; notes: string[] }>> {
  const dev = await createDevice({ backend, precision: 'fp32' });
  const out = new Map<GgufExportType, { file: string; bytes: number; notes: string[] }>();
  try {
    const model = benchModel(dev, c);
    // exportGguf reads the model, the tokenizer and BOS/EOS ids from config; nothing else of a folder.
    const lm = { model, tokenizer: benchTokenizer(c), config: { bosTokenId: null, eosTokenId: null }, dir, runRecord: null, hub: null, generationConfig: null } as unknown as LoadedModel | LoadedLlama;
    for (const type of types) {
      const file = path.join(dir, `${c.name}-${type}.gguf`);
      const r = await exportGguf(lm, { type, out: file, name: `genlab-bench-${c.name}`, modelfile: false });
      out.set(type, { file, bytes: r.bytes, notes: r.notes });
    }
  } finally {
    await dev.close();
  }
  return out;
}

/** The installed node-llama-cpp, or an error that says how to get it (it is a devDependency). */
async function loadNodeLlamaCpp(): Promise<typeof import('node-llama-cpp')> {
  try {
    return await import('node-llama-cpp');
  } catch (e) {
    throw new Error(`--peer llama.cpp needs the node-llama-cpp package (a devDependency of genlab): run \`npm install\` in genlab's folder, or \`npm install node-llama-cpp@3.21.1\` (${(e as Error).message})`);
  }
}

function nodeLlamaCppVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('node-llama-cpp');
    let dir = path.dirname(entry);
    while (path.basename(dir) !== 'node-llama-cpp' && path.dirname(dir) !== dir) dir = path.dirname(dir);
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** llama.cpp's last warnings, quoted when a load or decode fails. */
const llamaLogTail: string[] = [];

/** Starts llama.cpp (CPU, prebuilt binary, never a build) and says which build and CPU backend it is. */
export async function startLlamaCpp(): Promise<{ llama: LlamaCpp; info: LlamaCppInfo }> {
  const { getLlama, LlamaLogLevel } = await loadNodeLlamaCpp();
  const log: string[] = [];
  // The CPU backend's library name is logged at debug level while the binding starts.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.debug, logger: (_level, message) => log.push(message) });
  // Log lines reach JavaScript asynchronously: wait briefly for the backend's.
  const isBackendLine = (l: string): boolean => /loaded CPU backend from/.test(l);
  for (let i = 0; i < 50 && !log.some(isBackendLine); i++) await new Promise((r) => setTimeout(r, 10));
  const backendLine = log.find(isBackendLine);
  const cpuBackend = backendLine ? path.basename(backendLine.replace(/.*loaded CPU backend from\s*/, '').trim()) : null;
  // Quiet from here on (model loads print pages of tensor lists); warnings are kept for errors.
  llama.logLevel = LlamaLogLevel.warn;
  llama.logger = (level, message) => {
    llamaLogTail.push(`${level}: ${message.trim()}`);
    if (llamaLogTail.length > 20) llamaLogTail.shift();
  };
  const rel = llama.llamaCppRelease;
  return {
    llama,
    info: { nodeLlamaCpp: nodeLlamaCppVersion(), llamaCppRelease: `${rel.repo} ${rel.release}`, build: llama.buildType, cpuBackend, systemInfo: llama.systemInfo.trim() },
  };
}

/**
 * llama.cpp's greedy decode of `tokens` new tokens after `prompt` (ids of the prompt's last
 * position's argmax first), timed as benchDecode times genlab: prompt forward included, load and
 * warm-up excluded.
 */
export async function llamaCppDecode(llama: LlamaCpp, file: string, prompt: number[], tokens: number, threads: number): Promise<{ tokensPerSecond: number; ids: number[] }> {
  try {
    return await llamaCppDecodeOnce(llama, file, prompt, tokens, threads);
  } catch (e) {
    const tail = llamaLogTail.length > 0 ? `\nllama.cpp's last messages:\n${llamaLogTail.join('\n')}` : '';
    throw new Error(`llama.cpp could not decode ${file} on ${threads} thread(s): ${(e as Error).message}${tail}`);
  }
}

async function llamaCppDecodeOnce(llama: LlamaCpp, file: string, prompt: number[], tokens: number, threads: number): Promise<{ tokensPerSecond: number; ids: number[] }> {
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    const contextSize = prompt.length + Math.max(tokens, WARMUP_TOKENS) + 2;
    const ctx = await model.createContext({
      contextSize,
      batchSize: prompt.length,
      // Exactly this many threads: node-llama-cpp otherwise treats the count as a hint.
      threads: { ideal: threads, min: threads },
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    try {
      const seq = ctx.getSequence();
      const run = async (n: number): Promise<{ tokensPerSecond: number; ids: number[] }> => {
        await seq.clearHistory();
        const ids: number[] = [];
        const t0 = performance.now();
        let t1 = t0;
        // temperature 0 is greedy (argmax); the end-of-text token is just another id here.
        for await (const t of seq.evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
          ids.push(t);
          if (ids.length === n + 1) {
            t1 = performance.now();
            break;
          }
        }
        if (ids.length !== n + 1) throw new Error(`llama.cpp stopped after ${ids.length} of ${n + 1} tokens of ${path.basename(file)}`);
        return { tokensPerSecond: (n * 1000) / (t1 - t0), ids };
      };
      try {
        await run(WARMUP_TOKENS);
        return await run(tokens);
      } finally {
        // Since node-llama-cpp 3.20 a sequence's dispose is asynchronous and must finish before its context's.
        await seq.dispose();
      }
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** null when genlab's backend runs `precision`, else why not (asked of the device, not assumed). */
export async function genlabPrecisionUnavailable(backend: BackendName, precision: PeerPrecision): Promise<string | null> {
  if (precision !== 'int8') return null;
  try {
    const dev = await createDevice({ backend, threads: 1, precision: precision as Precision });
    await dev.close();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function firstDivergence(a: number[], b: number[]): number | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return null;
}

const load1 = (): number => Number(os.loadavg()[0]!.toFixed(2));

function rowText(r: LlamaCppBenchRow): string {
  const ours = r.tokens_per_s === null ? `genlab ${r.precision} not available` : `genlab ${r.precision} ${r.tokens_per_s.toFixed(1).padStart(6)} tok/s`;
  const ratio = r.ratio === null ? '' : `  ratio ${r.ratio.toFixed(2)}×`;
  const ids = r.ids_equal === null ? '' : r.ids_equal ? `  ids equal (${r.tokens + 1})` : `  ids differ from token ${r.first_divergence}`;
  const load = `  load ${r.genlab_load ?? '-'}/${r.peer_load}`;
  const torch = r.torch_tokens_per_s ? `  PyTorch fp32 ${r.torch_tokens_per_s.toFixed(1)} tok/s` : '';
  return `generate ${r.config.padEnd(12)} threads ${r.threads}  ${ours}  llama.cpp ${r.llama_cpp_type.padEnd(4)} ${r.peer_tokens_per_s.toFixed(1).padStart(6)} tok/s${ratio}${ids}${load}${torch}`;
}

/** Each engine at its own best thread count, per precision pair. */
export function bestOfEach(rows: LlamaCppBenchRow[]): LlamaCppBestRow[] {
  const out: LlamaCppBestRow[] = [];
  const keys = new Set(rows.map((r) => `${r.config}|${r.precision}|${r.llama_cpp_type}`));
  for (const key of keys) {
    const group = rows.filter((r) => `${r.config}|${r.precision}|${r.llama_cpp_type}` === key);
    const ran = group.filter((r) => r.tokens_per_s !== null);
    if (new Set(group.map((r) => r.threads)).size < 2 || ran.length === 0) continue;
    const ours = ran.reduce((a, b) => (b.tokens_per_s! > a.tokens_per_s! ? b : a));
    const theirs = group.reduce((a, b) => (b.peer_tokens_per_s > a.peer_tokens_per_s ? b : a));
    const ratio = ours.tokens_per_s! / theirs.peer_tokens_per_s;
    out.push({
      bench: 'generate-best', peer: 'llama.cpp', config: ours.config, precision: ours.precision, llama_cpp_type: ours.llama_cpp_type,
      genlab_threads: ours.threads, tokens_per_s: ours.tokens_per_s!, peer_threads: theirs.threads, peer_tokens_per_s: theirs.peer_tokens_per_s, ratio,
      text: `generate ${ours.config.padEnd(12)} best of each: genlab ${ours.precision} ${ours.tokens_per_s!.toFixed(1)} tok/s (${ours.threads} threads)  llama.cpp ${ours.llama_cpp_type} ${theirs.peer_tokens_per_s.toFixed(1)} tok/s (${theirs.threads} threads)  ratio ${ratio.toFixed(2)}×`,
    });
  }
  return out;
}

/** `genlab bench generate --peer llama.cpp`: rows per config, thread count and precision pair. */
export async function benchGenerateVsLlamaCpp(opts: LlamaCppBenchOptions): Promise<LlamaCppBenchRow[]> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const configs = opts.benchConfigs ?? (opts.configs ? generateConfigs.filter((c) => opts.configs!.includes(c.name)) : generateConfigs.filter((c) => !c.optIn));
  if (configs.length === 0) throw new Error(`no such config; choose from ${generateConfigs.map((c) => c.name).join(', ')}`);
  const precisions = opts.precisions ?? [...PEER_PRECISIONS];
  const backend = opts.backend ?? (await defaultBackend());
  const torch = opts.torch === true && torchAvailable();
  if (opts.torch && !torch) print('PyTorch peer skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)');

  const unavailable = new Map<PeerPrecision, string>();
  const kernels = new Map<PeerPrecision, string>();
  for (const p of precisions) {
    const why = await genlabPrecisionUnavailable(backend, p);
    if (why !== null) unavailable.set(p, why);
    kernels.set(p, why === null ? await kernelPath(backend, p as Precision) : 'none');
  }
  const { llama, info } = await startLlamaCpp();
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  if (opts.json) {
    print(JSON.stringify({ cpu, cores: os.availableParallelism(), backend, kernels: Object.fromEntries(kernels), genlab_unavailable: Object.fromEntries(unavailable), llama_cpp: info }));
  } else {
    print(`cpu ${cpu} × ${os.availableParallelism()}`);
    print(`genlab ${[...kernels].map(([p, k]) => `${p}: ${k}`).join('; ')}`);
    for (const [p, why] of unavailable) print(`genlab ${p} is not available on the ${backend} backend (${why}); its llama.cpp rows run alone`);
    print(`llama.cpp: node-llama-cpp ${info.nodeLlamaCpp}, ${info.build} llama.cpp (${info.llamaCppRelease}), CPU backend ${info.cpuBackend ?? 'unknown'}; float32 KV cache, no flash attention`);
    print(`llama.cpp ${info.systemInfo}`);
  }

  const rows: LlamaCppBenchRow[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'genlab-bench-llama-cpp-'));
  try {
    for (const c of configs) {
      const types = [...new Set(precisions.flatMap((p) => LLAMA_CPP_PAIRS[p]))];
      const files = await exportBenchModel(c, backend, types, dir);
      for (const [type, f] of files) for (const note of f.notes) print(`${c.name} ${type}: ${note}`);
      for (const threads of opts.threads) {
        // genlab first (a fresh device per precision), then llama.cpp on the same prompt.
        const ours = new Map<PeerPrecision, ReturnType<typeof benchDecode> & { load: number }>();
        for (const p of precisions) {
          if (unavailable.has(p)) continue;
          const dev = await createDevice({ backend, threads, precision: p as Precision });
          try {
            ours.set(p, { ...benchDecode(dev, c), load: load1() });
          } finally {
            await dev.close();
          }
        }
        const prompt = ours.values().next().value?.prompt ?? benchDecodePrompt(c);
        let torchTps: number | undefined;
        if (torch) {
          const [r] = await runPeer('peer_train.py', ['generate', JSON.stringify([{ ...c, tokens: c.steps }]), String(threads)]);
          torchTps = r?.['tokens_per_s'] as number | undefined;
        }
        const theirs = new Map<GgufExportType, { tokensPerSecond: number; ids: number[]; load: number }>();
        for (const type of types) {
          const r = await llamaCppDecode(llama, files.get(type)!.file, prompt, c.steps, threads);
          theirs.set(type, { ...r, load: load1() });
        }
        for (const p of precisions) {
          const g = ours.get(p);
          for (const type of LLAMA_CPP_PAIRS[p]) {
            const l = theirs.get(type)!;
            const div = g ? firstDivergence(g.ids, l.ids) : null;
            const row: LlamaCppBenchRow = {
              bench: 'generate', peer: 'llama.cpp', config: c.name, threads, precision: p, llama_cpp_type: type, kernels: kernels.get(p)!,
              tokens_per_s: g ? g.tokensPerSecond : null,
              ...(unavailable.has(p) ? { genlab_unavailable: unavailable.get(p)! } : {}),
              peer_tokens_per_s: l.tokensPerSecond,
              ratio: g ? g.tokensPerSecond / l.tokensPerSecond : null,
              tokens: c.steps, prompt_tokens: prompt.length,
              ids_equal: g ? div === null : null, first_divergence: div,
              genlab_load: g ? g.load : null, peer_load: l.load,
              ...(torchTps ? { torch_tokens_per_s: torchTps } : {}),
              ...(g ? { genlab_peak_bytes: g.peakBytes, genlab_bytes_per_token: g.bytesPerToken } : {}),
              gguf_bytes: files.get(type)!.bytes,
            };
            rows.push(row);
            print(opts.json ? JSON.stringify(row) : rowText(row));
          }
        }
      }
    }
    for (const b of bestOfEach(rows)) print(opts.json ? JSON.stringify(b) : b.text);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await disposeLlamaCpp(llama);
  }
  return rows;
}

/**
 * llama.dispose() waits for the resource simulations node-llama-cpp 3.21 runs in createContext
 * (GgufInsights' simulator models), and after some runs (config b's, every time) those never let
 * go: the promise stays pending, holding
 * nothing on the event loop, so Node would exit in the middle of the await (from the CLI, with
 * code 0, before the lines after it ran). Everything is printed and removed before this; it gives
 * the native side 5 s and moves on, and the process exit frees what is left.
 */
async function disposeLlamaCpp(llama: LlamaCpp): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const enough = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 5_000);
  });
  try {
    await Promise.race([llama.dispose(), enough]);
  } finally {
    clearTimeout(timer);
  }
}
