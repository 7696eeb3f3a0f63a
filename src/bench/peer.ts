// Running the PyTorch peer scripts (Debian's python3-torch through /usr/bin/python3) in the same
// benchmark invocation, so every ratio compares runs on the same machine at the same time.

import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';
const benchDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

let available: boolean | null = null;

/** True when /usr/bin/python3 can import torch. */
export function torchAvailable(): boolean {
  if (available === null) {
    try {
      execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/**
 * The environment for /usr/bin/python3 in tests: OpenBLAS picks its kernels for this CPU itself.
 * A stale OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE pair makes PyTorch 3–4× slower, and a forced core
 * type the CPU lacks would crash it, so both go (design.md's second option).
 */
export function torchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

/** Runs bench/<script> with args; resolves to the JSON objects it printed, one per line. */
export function runPeer(script: string, args: string[], timeoutMs = 600_000): Promise<Record<string, unknown>[]> {
  // OpenBLAS misdetects this CPU type unless told; PyTorch runs 3–4× slower otherwise.
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_CORETYPE: 'SkylakeX' };
  delete env['OPENBLAS_L2_SIZE'];
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [path.join(benchDir, script), ...args], { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`PyTorch peer ${script} failed: ${err.message}\n${stderr}`));
        return;
      }
      const rows = stdout
        .split('\n')
        .filter((l) => l.trim().startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve(rows);
    });
  });
}
