// What `genlab export` and `genlab import` do once their flags are parsed: load, convert with a
// progress bar, and say what was written and how to run it.

import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseHubSpec } from '../io/hub.ts';
import { loadLanguageModel } from '../io/model-folder.ts';
import { progressBar } from '../util/progress.ts';
import { exportGguf, GGUF_TYPES, type GgufExportType } from './gguf-export.ts';
import { importGguf } from './gguf-import.ts';

export interface ExportFlags {
  model: string;
  format: string;
  type: string;
  out?: string;
  name?: string;
  modelfile?: boolean;
}

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1);

/** Where the file goes without --out: beside the model folder's files, or here for a Hub model. */
export function defaultExportPath(model: string, type: string): string {
  const spec = parseHubSpec(model);
  if (spec) return `${spec.repoId.split('/').pop()}-${type}.gguf`;
  return path.join(model, `${path.basename(path.resolve(model))}-${type}.gguf`);
}

export async function exportCommand(o: ExportFlags): Promise<void> {
  if (o.format !== 'gguf') throw new Error(`--format ${o.format} is not supported; genlab exports --format gguf (llama.cpp and Ollama)`);
  if (!(GGUF_TYPES as readonly string[]).includes(o.type)) throw new Error(`--type ${o.type} is not supported; use one of ${GGUF_TYPES.join(', ')}`);
  const out = o.out ?? defaultExportPath(o.model, o.type);
  if (!out.endsWith('.gguf')) throw new Error(`--out ${out} should name a .gguf file (llama.cpp and Ollama expect the extension), e.g. --out ${out}.gguf`);
  const lm = await loadLanguageModel(o.model);
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  let bar: ReturnType<typeof progressBar> | null = null;
  const r = await exportGguf(lm, {
    type: o.type as GgufExportType,
    out,
    ...(o.name !== undefined ? { name: o.name } : {}),
    modelfile: o.modelfile !== false,
    onTensor: (done, total, bytes) => {
      bar ??= progressBar(total, 'export', '{mb} MB');
      bar.update(done, { mb: mb(bytes) });
    },
  });
  (bar as ReturnType<typeof progressBar> | null)?.stop();
  const types = Object.entries(r.tensorTypes).map(([t, n]) => `${n} ${t}`).join(', ');
  const lines = [`wrote ${r.file} (${mb(r.bytes)} MB, llama.cpp architecture ${r.arch}; tensors: ${types})`];
  for (const note of r.notes) lines.push(`note: ${note}`);
  lines.push(`run it with llama.cpp: llama-cli -m ${r.file}`);
  if (r.modelfile) lines.push(`wrote ${r.modelfile} (chat template: ${r.chatFormat}); with Ollama: ollama create NAME -f ${r.modelfile}`);
  process.stderr.write(lines.join('\n') + '\n');
}

export interface ImportFlags {
  file: string;
  out: string;
}

export async function importCommand(o: ImportFlags): Promise<void> {
  if (!existsSync(o.file) || !statSync(o.file).isFile()) throw new Error(`${o.file} does not exist; pass a .gguf model file (from llama.cpp's converter, the Hub, or genlab export)`);
  if (existsSync(path.join(o.out, 'config.json'))) throw new Error(`--out ${o.out} already holds a model (config.json); choose a new folder or remove it first`);
  let bar: ReturnType<typeof progressBar> | null = null;
  const r = await importGguf(o.file, o.out, {
    onTensor: (done, total) => {
      bar ??= progressBar(total, 'import', '');
      bar.update(done);
    },
  });
  (bar as ReturnType<typeof progressBar> | null)?.stop();
  // The folder must load, or it is not worth having written.
  const lm = await loadLanguageModel(r.dir);
  const types = Object.entries(r.sourceTypes).map(([t, n]) => `${n} ${t}`).join(', ');
  process.stderr.write(
    `imported ${o.file} (${r.arch}; tensors: ${types}) → ${r.dir}: ${lm.model.numParameters().toLocaleString('en-US')} parameters, vocabulary ${lm.tokenizer.vocabSize}\n` +
      `run it with: genlab generate --model ${r.dir} --prompt "..."\n`,
  );
}
