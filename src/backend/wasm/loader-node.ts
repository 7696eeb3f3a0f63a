// Loads the compiled kernel module on Node (Node-only: fs and v8; a browser build fetches the
// same files instead). Picks the relaxed-SIMD build when the runtime supports it.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

export type KernelVariant = 'relaxed' | 'simd';

// (module (func (result v128) v128.const 0 v128.const 0 v128.const 0 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code: one body of 59 bytes, no locals
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd (0xfd 0x105)
  0x0b,
]);

let relaxedSupport: boolean | null = null;

/** Whether this runtime runs relaxed SIMD; on Node 20 this turns on V8's (complete) experimental flag. */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport !== null) return relaxedSupport;
  relaxedSupport = WebAssembly.validate(RELAXED_PROBE);
  if (!relaxedSupport) {
    try {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // flag unknown to this V8: no relaxed SIMD
    }
    relaxedSupport = WebAssembly.validate(RELAXED_PROBE);
  }
  return relaxedSupport;
}

function buildUrl(variant: KernelVariant): URL {
  // src/backend/wasm/ and dist/backend/wasm/ are both three levels below the package root.
  return new URL(`../../../build/kernels-${variant}.wasm`, import.meta.url);
}

const modules = new Map<KernelVariant, Promise<WebAssembly.Module>>();

/** The compiled kernel module (compiled once per process and variant). */
export async function loadKernelModule(relaxed?: boolean): Promise<{ module: WebAssembly.Module; variant: KernelVariant }> {
  const supported = relaxedSimdSupported();
  if (relaxed === true && !supported) {
    throw new Error('createWasmBackend: relaxed SIMD was requested but this runtime does not support it; omit `relaxed` or pass false');
  }
  const variant: KernelVariant = (relaxed ?? supported) ? 'relaxed' : 'simd';
  let pending = modules.get(variant);
  if (!pending) {
    pending = (async () => {
      const url = buildUrl(variant);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = new Uint8Array(await readFile(url));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(
          code === 'ENOENT'
            ? `the wasm kernels are not built: ${fileURLToPath(url)} is missing; run \`npm run build:kernels\``
            : `cannot read ${fileURLToPath(url)}: ${(err as Error).message}`,
        );
      }
      return WebAssembly.compile(bytes);
    })();
    modules.set(variant, pending);
    pending.catch(() => modules.delete(variant));
  }
  return { module: await pending, variant };
}
