// The power a CPU core draws when busy, for estimating energy where RAPL counters cannot be read.
// CodeCarbon maps the CPU model name to its TDP (thermal design power) from a table of 2000+
// parts; genlab keeps a short table of common server parts, and when the name carries no SKU (cloud
// VMs often report "Intel(R) Xeon(R) Processor") it derives the generation from CPUID family/model
// and uses that generation's flagship part. A busy core is charged TDP / cores: the package's
// rated power shared evenly over its cores. Anything else gets DEFAULT_WATTS_PER_CORE.

import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuIdentity {
  modelName: string;
  vendor: string | null;
  family: number | null;
  model: number | null;
}

export interface CpuPowerModel {
  cpu: string;
  /** How wattsPerCore was found. */
  source: 'model-name' | 'cpuid-generation' | 'default' | 'override';
  wattsPerCore: number;
  /** The part whose TDP and core count give wattsPerCore (null for the default/override). */
  reference: { part: string; tdpWatts: number; cores: number; generation: string } | null;
  note: string;
}

/**
 * Fallback when the CPU is unknown: 10 W per busy core. Flagship server parts of the last ten years
 * run 5.5–8 W per core at TDP (see PARTS), desktop parts 8–12 W; 10 W errs on the high side.
 */
export const DEFAULT_WATTS_PER_CORE = 10;

interface Part {
  part: string;
  tdpWatts: number;
  cores: number;
  generation: string;
  /** Matches the part's number in a /proc/cpuinfo model name. */
  name: RegExp;
  /** CPUID vendor/family/model of the generation, when this part represents it. */
  cpuid?: { vendor: string; family: number; models: number[] };
}

// TDPs and core counts are the vendors' published specifications of each part.
const PARTS: Part[] = [
  { part: 'Intel Xeon E5-2699 v3', tdpWatts: 145, cores: 18, generation: 'Haswell-EP', name: /E5-2699 v3/i, cpuid: { vendor: 'GenuineIntel', family: 6, models: [63] } },
  { part: 'Intel Xeon E5-2699 v4', tdpWatts: 145, cores: 22, generation: 'Broadwell-EP', name: /E5-2699 v4/i, cpuid: { vendor: 'GenuineIntel', family: 6, models: [79] } },
  { part: 'Intel Xeon Platinum 8180', tdpWatts: 205, cores: 28, generation: 'Skylake-SP', name: /Platinum 8180\b/i },
  { part: 'Intel Xeon Platinum 8280', tdpWatts: 205, cores: 28, generation: 'Skylake-SP / Cascade Lake', name: /Platinum 8280\b/i, cpuid: { vendor: 'GenuineIntel', family: 6, models: [85] } },
  { part: 'Intel Xeon Platinum 8380', tdpWatts: 270, cores: 40, generation: 'Ice Lake-SP', name: /Platinum 8380\b/i, cpuid: { vendor: 'GenuineIntel', family: 6, models: [106] } },
  { part: 'Intel Xeon Platinum 8480+', tdpWatts: 350, cores: 56, generation: 'Sapphire Rapids', name: /Platinum 8480/i, cpuid: { vendor: 'GenuineIntel', family: 6, models: [143] } },
  { part: 'Intel Xeon Platinum 8592+', tdpWatts: 350, cores: 64, generation: 'Emerald Rapids', name: /Platinum 8592/i, cpuid: { vendor: 'GenuineIntel', family: 6, models: [207] } },
  { part: 'AMD EPYC 7601', tdpWatts: 180, cores: 32, generation: 'Zen (Naples)', name: /EPYC 7601\b/i, cpuid: { vendor: 'AuthenticAMD', family: 23, models: [1] } },
  { part: 'AMD EPYC 7742', tdpWatts: 225, cores: 64, generation: 'Zen 2 (Rome)', name: /EPYC 7742\b/i, cpuid: { vendor: 'AuthenticAMD', family: 23, models: [49] } },
  { part: 'AMD EPYC 7763', tdpWatts: 280, cores: 64, generation: 'Zen 3 (Milan)', name: /EPYC 7763\b/i, cpuid: { vendor: 'AuthenticAMD', family: 25, models: [1] } },
  { part: 'AMD EPYC 9654', tdpWatts: 360, cores: 96, generation: 'Zen 4 (Genoa)', name: /EPYC 9654\b/i, cpuid: { vendor: 'AuthenticAMD', family: 25, models: [17] } },
];

/** The CPU as /proc/cpuinfo describes its first processor (Linux); the model name elsewhere. */
export function readCpuIdentity(cpuinfo?: string): CpuIdentity {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return { modelName: os.cpus()[0]?.model ?? 'unknown', vendor: null, family: null, model: null };
    }
  }
  const field = (key: string): string | null => {
    const m = new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm').exec(text!);
    return m ? m[1]!.trim() : null;
  };
  const num = (key: string): number | null => {
    const v = field(key);
    return v !== null && /^\d+$/.test(v) ? Number(v) : null;
  };
  return { modelName: field('model name') ?? os.cpus()[0]?.model ?? 'unknown', vendor: field('vendor_id'), family: num('cpu family'), model: num('model') };
}

/**
 * Watts per busy core for this CPU. `overrideWattsPerCore` (e.g. from GENLAB_WATTS_PER_CORE) wins;
 * then a part number in the model name; then the CPUID generation; then the default.
 */
export function cpuPowerModel(id: CpuIdentity = readCpuIdentity(), overrideWattsPerCore?: number): CpuPowerModel {
  if (overrideWattsPerCore !== undefined) {
    if (!(overrideWattsPerCore > 0) || !Number.isFinite(overrideWattsPerCore)) {
      throw new Error(`watts per core must be a positive number, got ${overrideWattsPerCore}; set GENLAB_WATTS_PER_CORE to the CPU's TDP divided by its core count`);
    }
    return { cpu: id.modelName, source: 'override', wattsPerCore: overrideWattsPerCore, reference: null, note: `${overrideWattsPerCore} W per busy core as configured (GENLAB_WATTS_PER_CORE)` };
  }
  const ref = (p: Part) => ({ part: p.part, tdpWatts: p.tdpWatts, cores: p.cores, generation: p.generation });
  const byName = PARTS.find((p) => p.name.test(id.modelName));
  if (byName) {
    return { cpu: id.modelName, source: 'model-name', wattsPerCore: byName.tdpWatts / byName.cores, reference: ref(byName), note: `${byName.part}: ${byName.tdpWatts} W TDP over ${byName.cores} cores` };
  }
  const byGeneration = PARTS.find((p) => p.cpuid && p.cpuid.vendor === id.vendor && p.cpuid.family === id.family && id.model !== null && p.cpuid.models.includes(id.model));
  if (byGeneration) {
    return {
      cpu: id.modelName,
      source: 'cpuid-generation',
      wattsPerCore: byGeneration.tdpWatts / byGeneration.cores,
      reference: ref(byGeneration),
      note: `the model name names no part; CPUID family ${id.family} model ${id.model} is ${byGeneration.generation}, whose flagship ${byGeneration.part} is rated ${byGeneration.tdpWatts} W over ${byGeneration.cores} cores`,
    };
  }
  return { cpu: id.modelName, source: 'default', wattsPerCore: DEFAULT_WATTS_PER_CORE, reference: null, note: `CPU "${id.modelName}" is not in genlab's table; ${DEFAULT_WATTS_PER_CORE} W per busy core assumed (documented default)` };
}
