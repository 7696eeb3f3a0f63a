// The default device: chosen once by init() (or GENLAB_BACKEND), used by creation functions when
// no device is passed. Backends are loaded on demand so the browser build never pulls in Node-only
// pieces it does not use.

import { Device, type BackendName } from './device.ts';
import { createRefBackend } from './ref/ref-backend.ts';

export interface InitOptions {
  /** 'wasm' (default) or 'ref'; GENLAB_BACKEND overrides the default when this is omitted. */
  backend?: BackendName;
  /** Worker threads for the wasm kernels (default: all cores). */
  threads?: number;
}

let current: Device | null = null;

export const backendNames: readonly BackendName[] = ['ref', 'wasm'];

/** Creates a device without making it the default. */
export async function createDevice(opts: InitOptions = {}): Promise<Device> {
  const env = typeof process !== 'undefined' ? process.env['GENLAB_BACKEND'] : undefined;
  const name = opts.backend ?? (env as BackendName | undefined) ?? 'wasm';
  if (!backendNames.includes(name)) {
    throw new Error(`unknown backend '${name}' (from ${opts.backend ? 'options' : 'GENLAB_BACKEND'}); choose one of: ${backendNames.join(', ')}`);
  }
  if (name === 'ref') {
    if (opts.threads !== undefined && opts.threads !== 1) throw new Error('the ref backend runs on one thread; omit threads or pass 1');
    return new Device(createRefBackend());
  }
  const { createWasmBackend } = await import('./wasm/wasm-backend.ts');
  return new Device(await createWasmBackend(opts.threads === undefined ? {} : { threads: opts.threads }));
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
    throw new Error("genlab has no device yet: call `await init()` (wasm backend) or `await init({ backend: 'ref' })` first");
  }
  return current;
}
