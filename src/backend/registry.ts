// The default device: chosen once by init() (or GENLAB_BACKEND), used by creation functions when
// no device is passed. Backends are loaded on demand so the browser build never pulls in Node-only
// pieces it does not use.
//
// Without an explicit choice genlab uses the native backend where its addon was built and loads,
// and the wasm backend elsewhere; `--backend` / GENLAB_BACKEND=native|wasm|ref override that.

import { Device, type BackendName } from './device.ts';
import { createRefBackend } from './ref/ref-backend.ts';

export type Precision = 'fp32' | 'bf16' | 'int8';

export const precisions: readonly Precision[] = ['fp32', 'bf16', 'int8'];

export interface InitOptions {
  /** 'native' (default where built), 'wasm' (default elsewhere) or 'ref'; GENLAB_BACKEND overrides the default. */
  backend?: BackendName;
  /** Threads for the native or wasm kernels (default: all cores). */
  threads?: number;
  /**
   * Matmul operand precision (default 'fp32', or $GENLAB_PRECISION): 'bf16' rounds both operands
   * of every matmul to bfloat16 and accumulates in fp32 (weights, gradients, optimizer state and
   * every other kernel stay fp32). The native backend runs it on AMX or AVX512-BF16 where they
   * are faster; ref and wasm emulate it. 'int8' is weight-only int8 for inference (generate,
   * serve, eval): every product of a Linear or tied LM head weight that records no gradient
   * reads the matrix as q8_0 blocks (32 int8 values and a half scale, ggml's Q8_0), accumulating
   * in fp32 (nn/packed-weights.ts, the matmulQ8 kernel); everything else stays fp32, and a
   * product that would record gradients (training) is refused.
   */
  precision?: Precision;
  /** Native backend only: force an instruction set and/or bf16 kernel (tests, benchmarks). */
  native?: {
    isa?: 'portable' | 'avx2' | 'avx512' | 'amx';
    bf16Kernel?: 'emulated' | 'avx512bf16' | 'amx' | 'amx-emulated';
    splitAll?: boolean;
  };
}

let current: Device | null = null;
/** init() running on behalf of readyDefaultDevice(), so concurrent first calls share one device. */
let pending: Promise<Device> | null = null;
const devicePrecisions = new WeakMap<Device, Precision>();

/** The matmul precision a device was created with ('fp32' for devices made outside createDevice). */
export function devicePrecision(device: Device): Precision {
  return devicePrecisions.get(device) ?? 'fp32';
}

export const backendNames: readonly BackendName[] = ['ref', 'wasm', 'native'];

/** The backend createDevice picks without an explicit choice: native where it loads, else wasm. */
export async function defaultBackend(): Promise<BackendName> {
  const env = typeof process !== 'undefined' ? process.env['GENLAB_BACKEND'] : undefined;
  if (env) return env as BackendName;
  if (typeof process === 'undefined' || !process.versions?.node) return 'wasm';
  const { nativeStatus } = await import('./native/native-addon.ts');
  return nativeStatus().available ? 'native' : 'wasm';
}

/** Creates a device without making it the default. */
export async function createDevice(opts: InitOptions = {}): Promise<Device> {
  const name = opts.backend ?? (await defaultBackend());
  if (!backendNames.includes(name)) {
    throw new Error(`unknown backend '${name}' (from ${opts.backend ? 'options' : 'GENLAB_BACKEND'}); choose one of: ${backendNames.join(', ')}`);
  }
  const envPrecision = typeof process !== 'undefined' ? process.env['GENLAB_PRECISION'] : undefined;
  const precision = opts.precision ?? (envPrecision as Precision | undefined) ?? 'fp32';
  if (!precisions.includes(precision)) {
    throw new Error(`unknown precision '${String(precision)}' (from ${opts.precision ? 'options' : 'GENLAB_PRECISION'}); choose fp32, bf16 or int8`);
  }
  // The matmul kernels' operand precision: int8 weights have kernels of their own (matmulQ8).
  const matmulPrecision = precision === 'bf16' ? 'bf16' : 'fp32';
  if (name === 'native') {
    const { createNativeBackend } = await import('./native/native-backend.ts');
    return remember(precision, new Device(
      createNativeBackend({
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        precision: matmulPrecision,
        ...(opts.native?.isa ? { isa: opts.native.isa } : {}),
        ...(opts.native?.bf16Kernel ? { bf16Kernel: opts.native.bf16Kernel } : {}),
        ...(opts.native?.splitAll ? { splitAll: true } : {}),
      }),
    ));
  }
  let parts;
  if (name === 'ref') {
    if (opts.threads !== undefined && opts.threads !== 1) throw new Error('the ref backend runs on one thread; omit threads or pass 1');
    parts = createRefBackend();
  } else {
    const { createWasmBackend } = await import('./wasm/wasm-backend.ts');
    parts = await createWasmBackend(opts.threads === undefined ? {} : { threads: opts.threads });
  }
  if (precision === 'bf16') {
    const { emulateBf16Matmul } = await import('./native/bf16-emulation.ts');
    parts.kernels = emulateBf16Matmul(parts.kernels, parts.memory);
  }
  return remember(precision, new Device(parts));
}

function remember(precision: Precision, device: Device): Device {
  devicePrecisions.set(device, precision);
  return device;
}

/** Chooses the default device (call once at start-up; later calls replace it). */
export async function init(opts: InitOptions = {}): Promise<Device> {
  const dev = await createDevice(opts);
  current = dev;
  return dev;
}

/** Makes an existing device the default. */
export function setDefaultDevice(device: Device): void {
  current = device;
}

export function defaultDevice(): Device {
  if (!current) {
    throw new Error("genlab has no device yet: call `await init()` (native or wasm backend) or `await init({ backend: 'ref' })` first (loadModel and loadRewardModel do it themselves)");
  }
  return current;
}

/**
 * The default device, made as `init()` makes it (native where built, else wasm; or
 * GENLAB_BACKEND) when none was chosen yet. The async entry points that create a model from
 * nothing (loadModel, loadRewardModel) use it, so one call works without init(), as in
 * transformers.js; call init() first to choose the backend, threads or precision.
 */
export async function readyDefaultDevice(): Promise<Device> {
  if (current) return current;
  pending ??= init().finally(() => {
    pending = null;
  });
  return pending;
}
