// Energy of a run, the way CodeCarbon measures it on Linux. When Intel RAPL energy counters are
// readable (/sys/class/powercap/intel-rapl:N/energy_uj, one per CPU package; AMD exposes the same
// interface) the meter reads them: a measurement, but of the whole package, every process on it.
// Otherwise it estimates: this process's CPU time (all its threads, so the kernel workers too) ×
// the power of a busy core (cpu-power.ts), plus memory at 3 W per 8 GB of the process's peak
// resident memory for the wall time. The report always says which method produced the number and
// why the other was not used.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cpuPowerModel, readCpuIdentity, type CpuIdentity, type CpuPowerModel } from './cpu-power.ts';

/** CodeCarbon's memory rule (from Crucial's guidance for DDR3/DDR4): 3 W per 8 GB. */
export const RAM_WATTS_PER_GB = 3 / 8;

export interface RaplDomainReading {
  name: string;
  path: string;
  joules: number;
}

export interface EnergyReport {
  method: 'rapl' | 'cpu-time-estimate';
  /** One sentence on how the number was obtained, for the run record and the model card. */
  description: string;
  /** Why RAPL was not used (estimate only). */
  raplUnavailable?: string;
  wallSeconds: number;
  /** User + system CPU time of this process, all threads. */
  cpuSeconds: number;
  cpuJoules: number;
  ramJoules: number;
  joules: number;
  kWh: number;
  cpu: CpuPowerModel | null;
  rapl: { domains: RaplDomainReading[]; scope: string } | null;
  ram: { method: 'rapl-dram' | 'estimate'; peakRssBytes: number; wattsPerGB: number };
}

export interface EnergyMeterOptions {
  /** Where the powercap tree lives (tests point it at a fake one). */
  powercapRoot?: string;
  /** Override watts per busy core (default: GENLAB_WATTS_PER_CORE, else derived from the CPU). */
  wattsPerCore?: number;
  cpu?: CpuIdentity;
  /** Sample RAPL this often so counter wrap-arounds are not missed (default 10 s). */
  sampleMs?: number;
}

interface RaplDomain {
  name: string;
  dir: string;
  maxUj: number;
  lastUj: number;
  totalUj: number;
  /** Package domains count as CPU; dram subdomains as memory. */
  kind: 'package' | 'dram';
  /** Set when the counter went backwards with no max_energy_range_uj to say by how much it wrapped. */
  unknownWrap?: string;
}

function readNumber(file: string): number {
  const v = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isFinite(v)) throw new Error(`${file} does not hold a number`);
  return v;
}

/** Package domains (intel-rapl:N) and their dram subdomains; psys is skipped, it would double count. */
function openRapl(root: string): { domains: RaplDomain[] } | { reason: string } {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return { reason: `${root} does not exist (no RAPL driver, or a VM that hides it)` };
  }
  const domains: RaplDomain[] = [];
  const add = (dir: string, kind: 'package' | 'dram', name: string): string | null => {
    try {
      const uj = readNumber(path.join(dir, 'energy_uj'));
      let maxUj = Infinity;
      try {
        maxUj = readNumber(path.join(dir, 'max_energy_range_uj'));
      } catch {
        // Without a range a wrap cannot be corrected: sample() marks the domain, and the report
        // falls back to the estimate, saying why.
      }
      domains.push({ name, dir, maxUj, lastUj: uj, totalUj: 0, kind });
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'EACCES' ? `${path.join(dir, 'energy_uj')} is not readable by this user (since 2020 Linux restricts it to root)` : `${path.join(dir, 'energy_uj')}: ${(err as Error).message}`;
    }
  };
  let firstProblem: string | null = null;
  for (const e of entries.filter((e) => /^intel-rapl:\d+$/.test(e)).sort()) {
    const dir = path.join(root, e);
    let name = e;
    try {
      name = readFileSync(path.join(dir, 'name'), 'utf8').trim();
    } catch {
      // Unnamed domains are taken as packages, the only top-level kind besides psys.
    }
    if (name === 'psys') continue;
    firstProblem ??= add(dir, 'package', name);
    let subs: string[] = [];
    try {
      subs = readdirSync(dir).filter((s) => s.startsWith(`${e}:`) && /^\d+$/.test(s.slice(e.length + 1)));
    } catch {
      subs = [];
    }
    for (const s of subs.sort()) {
      try {
        if (readFileSync(path.join(dir, s, 'name'), 'utf8').trim() === 'dram') add(path.join(dir, s), 'dram', `${name}/dram`);
      } catch {
        // A subdomain without a readable name is not one we can classify.
      }
    }
  }
  if (firstProblem !== null) return { reason: firstProblem };
  if (!domains.some((d) => d.kind === 'package')) return { reason: `${root} has no readable intel-rapl package domain` };
  return { domains };
}

function sample(domains: RaplDomain[]): void {
  for (const d of domains) {
    let uj: number;
    try {
      uj = readNumber(path.join(d.dir, 'energy_uj'));
    } catch {
      continue;
    }
    if (uj >= d.lastUj) d.totalUj += uj - d.lastUj;
    else if (Number.isFinite(d.maxUj)) d.totalUj += d.maxUj - d.lastUj + uj;
    else d.unknownWrap ??= `${path.join(d.dir, 'energy_uj')} wrapped around (${d.lastUj} → ${uj} µJ) and ${d.dir} has no max_energy_range_uj, so the energy across the wrap is unknown`;
    d.lastUj = uj;
  }
}

/** Measures (or estimates) the energy used between start() and stop(). */
export class EnergyMeter {
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private readonly rapl: RaplDomain[] | null;
  private readonly raplReason: string | null;
  private readonly timer: ReturnType<typeof setInterval> | null = null;
  private readonly opts: EnergyMeterOptions;
  private stopped: EnergyReport | null = null;

  private constructor(opts: EnergyMeterOptions) {
    this.opts = opts;
    const r = openRapl(opts.powercapRoot ?? '/sys/class/powercap');
    if ('domains' in r) {
      this.rapl = r.domains;
      this.raplReason = null;
      const domains = r.domains;
      this.timer = setInterval(() => sample(domains), opts.sampleMs ?? 10_000);
      this.timer.unref();
    } else {
      this.rapl = null;
      this.raplReason = r.reason;
    }
  }

  static start(opts: EnergyMeterOptions = {}): EnergyMeter {
    return new EnergyMeter(opts);
  }

  /** Reads the RAPL counters now (the meter also does this every sampleMs). */
  sample(): void {
    if (this.rapl) sample(this.rapl);
  }

  /** Ends the measurement; later calls return the same report. */
  stop(): EnergyReport {
    if (this.stopped) return this.stopped;
    if (this.timer) clearInterval(this.timer);
    this.stopped = this.measure();
    return this.stopped;
  }

  /** The energy used so far, while the measurement goes on (a run record written mid-run). */
  snapshot(): EnergyReport {
    return this.stopped ?? this.measure();
  }

  private measure(): EnergyReport {
    const wallSeconds = (performance.now() - this.t0) / 1000;
    const usage = process.cpuUsage(this.cpu0);
    const cpuSeconds = (usage.user + usage.system) / 1e6;
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    const ramEstimateJ = RAM_WATTS_PER_GB * (peakRssBytes / 1e9) * wallSeconds;
    let report: EnergyReport;
    if (this.rapl) sample(this.rapl);
    const unknownWrap = this.rapl?.find((d) => d.unknownWrap !== undefined)?.unknownWrap;
    if (this.rapl && unknownWrap === undefined) {
      const domains = this.rapl.map((d) => ({ name: d.name, path: d.dir, joules: d.totalUj / 1e6 }));
      const cpuJoules = this.rapl.filter((d) => d.kind === 'package').reduce((a, d) => a + d.totalUj / 1e6, 0);
      const dram = this.rapl.filter((d) => d.kind === 'dram');
      const ramJoules = dram.length > 0 ? dram.reduce((a, d) => a + d.totalUj / 1e6, 0) : ramEstimateJ;
      const joules = cpuJoules + ramJoules;
      report = {
        method: 'rapl',
        description: `measured with Intel RAPL energy counters (${domains.map((d) => d.name).join(', ')}) over ${wallSeconds.toFixed(0)} s; RAPL covers the whole CPU package, so other processes running at the same time are included${dram.length > 0 ? '' : '; memory estimated at 3 W per 8 GB of peak resident memory (CodeCarbon)'}`,
        wallSeconds,
        cpuSeconds,
        cpuJoules,
        ramJoules,
        joules,
        kWh: joules / 3.6e6,
        cpu: null,
        rapl: { domains, scope: 'whole CPU package(s), all processes' },
        ram: { method: dram.length > 0 ? 'rapl-dram' : 'estimate', peakRssBytes, wattsPerGB: RAM_WATTS_PER_GB },
      };
    } else {
      report = estimateEnergy({ who: 'this process', wallSeconds, cpuSeconds, peakRssBytes, raplUnavailable: unknownWrap ?? this.raplReason ?? 'unknown' }, this.opts);
    }
    return report;
  }
}

/**
 * The CPU-time estimate (CodeCarbon's method without RAPL) for processes whose CPU time and peak
 * memory are known: this process, or others it ran (PyTorch's training workers report theirs).
 */
export function estimateEnergy(
  f: { who: string; wallSeconds: number; cpuSeconds: number; peakRssBytes: number; raplUnavailable: string },
  opts: Pick<EnergyMeterOptions, 'wattsPerCore' | 'cpu'> = {},
): EnergyReport {
  const envW = process.env.GENLAB_WATTS_PER_CORE;
  const override = opts.wattsPerCore ?? (envW !== undefined && envW.trim() !== '' ? Number(envW) : undefined);
  const cpu = cpuPowerModel(opts.cpu ?? readCpuIdentity(), override);
  const { wallSeconds, cpuSeconds, peakRssBytes } = f;
  const cpuJoules = cpuSeconds * cpu.wattsPerCore;
  const ramJoules = RAM_WATTS_PER_GB * (peakRssBytes / 1e9) * wallSeconds;
  const joules = cpuJoules + ramJoules;
  return {
    method: 'cpu-time-estimate',
    description: `estimated as CodeCarbon does without RAPL: ${cpuSeconds.toFixed(cpuSeconds < 10 ? 1 : 0)} CPU-seconds of ${f.who} × ${cpu.wattsPerCore.toFixed(2)} W per busy core (${cpu.note}) + memory at 3 W per 8 GB of peak resident memory (${(peakRssBytes / 1e9).toFixed(2)} GB) for ${wallSeconds.toFixed(0)} s`,
    raplUnavailable: f.raplUnavailable,
    wallSeconds,
    cpuSeconds,
    cpuJoules,
    ramJoules,
    joules,
    kWh: joules / 3.6e6,
    cpu,
    rapl: null,
    ram: { method: 'estimate', peakRssBytes, wattsPerGB: RAM_WATTS_PER_GB },
  };
}
