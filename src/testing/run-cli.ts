// Runs the genlab CLI from source in a child process, for tests of what a user types.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The environment when this module loaded, before tests point variables (HF_*) elsewhere. */
const ENV = { ...process.env };

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `genlab ARGS` with `env` added to the environment, in `cwd` (default: the repository). */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'src/cli/entry.ts'), ...args], { cwd, env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
