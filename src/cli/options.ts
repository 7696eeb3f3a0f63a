// The options and argument parsers the commands share, defined once: every command parses a number
// the same way and names the flag in its error, and every command that runs a model offers the
// same backends with the same default and help text.

import { InvalidArgumentError, Option } from 'commander';
import type { BackendName, Device } from '../backend/device.ts';
import type { Precision } from '../backend/registry.ts';

/** Parser of an integer flag: `int('--steps')` accepts 1, 2, …; `int('--seed', 0)` also 0. */
export function int(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** Parser of a number flag within [min, max]. */
export function num(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

/** Parser of a positive number written any way JavaScript reads one: 1e12, 2.5e13, 1000000. */
export function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number (e.g. 1e12), got '${v}'`);
    return n;
  };
}

/** Parser of comma-separated integers >= min, e.g. `--lengths 10,25,50`. */
export function intList(name: string, min = 1) {
  return (v: string): number[] =>
    v.split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be comma-separated integers >= ${min}, got '${v}'`);
      return n;
    });
}

/** Comma-separated names with the blanks dropped: 'c_attn, c_proj,' → ['c_attn', 'c_proj']. */
export function names(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

export interface DeviceFlags {
  backend?: BackendName;
  threads?: number;
  precision?: Precision;
}

export const backendOption = (): Option =>
  new Option('--backend <name>', 'compute backend (default: native where it was built, else wasm; or $GENLAB_BACKEND)').choices(['native', 'wasm', 'ref'] satisfies BackendName[]);

export const threadsOption = (): Option => new Option('--threads <n>', 'threads for the native or wasm kernels (default: all cores)').argParser(int('--threads'));

/**
 * `--precision`. Training takes fp32 or bf16; commands that only run a model (generate, serve,
 * eval) also take int8, weight-only q8_0 blocks that decode faster (backend/registry.ts).
 */
export const precisionOption = (use: 'training' | 'inference' = 'training'): Option =>
  use === 'training'
    ? new Option('--precision <p>', 'matmul precision: bf16 operands with fp32 accumulation, fp32 master weights and optimizer state (default fp32, or $GENLAB_PRECISION; int8 is for generate, serve and eval)').choices(['fp32', 'bf16'])
    : new Option('--precision <p>', 'matmul precision: fp32; bf16 (bf16 operands, fp32 accumulation); int8 (weights in q8_0 blocks of 32 int8 values and a scale, fp32 accumulation: about a quarter of the fp32 bytes to read per token; inference only) (default fp32, or $GENLAB_PRECISION)').choices(['fp32', 'bf16', 'int8']);

/** Makes the device the flags ask for the default one (flags not given keep init's defaults). */
export async function initDevice(opts: DeviceFlags): Promise<Device> {
  // Loaded when a command runs, not when `genlab --help` lists them.
  const { init } = await import('../backend/registry.ts');
  return init({ ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.precision ? { precision: opts.precision } : {}) });
}

/** Runs fn on the device the flags ask for and closes it afterwards (its worker threads too). */
export async function withDevice<T>(opts: DeviceFlags, fn: () => Promise<T>): Promise<T> {
  const dev = await initDevice(opts);
  try {
    return await fn();
  } finally {
    await dev.close();
  }
}

/** Help of a model flag that also takes a model from the Hugging Face Hub (fetched into its cache, read only). */
export const hubModelHelp = (what: string): string => `${what}, or hf:ORG/NAME[@REV] from the Hugging Face Hub`;

export const hostOption = (): Option => new Option('--host <host>', 'address to bind (127.0.0.1 = this machine only; another address needs --api-key)').default('127.0.0.1');
export const apiKeyOption = (): Option => new Option('--api-key <key>', 'require Authorization: Bearer <key> on /v1 and /api');
export const portOption = (): Option => new Option('--port <n>', 'port (0 picks a free one)').argParser(int('--port', 0)).default(8080);
