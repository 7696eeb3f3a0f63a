import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { cpuPowerModel, DEFAULT_WATTS_PER_CORE, readCpuIdentity } from './cpu-power.ts';
import { carbonIntensityFromEnv, emissionsFor, WORLD_AVERAGE_INTENSITY } from './emissions.ts';
import { EnergyMeter, RAM_WATTS_PER_GB } from './energy.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-energy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function zone(dir: string, name: string, uj: number, max?: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'name'), `${name}\n`);
  writeFileSync(path.join(dir, 'energy_uj'), `${uj}\n`);
  if (max !== undefined) writeFileSync(path.join(dir, 'max_energy_range_uj'), `${max}\n`);
}

/** Spends `ms` of CPU time (not wall time: the machine may be shared). */
function burn(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  while (true) {
    for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
    const u = process.cpuUsage(start);
    if (u.user + u.system >= ms * 1000) break;
  }
  assert.ok(x > 0);
}

describe('energy meter', () => {
  it('reads RAPL package and dram counters, corrects a wrap-around, skips psys', () => {
    const root = path.join(tmp, 'powercap');
    const pkg = path.join(root, 'intel-rapl:0');
    zone(pkg, 'package-0', 1_000_000, 2_000_000);
    zone(path.join(pkg, 'intel-rapl:0:0'), 'core', 5, 2_000_000);
    zone(path.join(pkg, 'intel-rapl:0:1'), 'dram', 100, 1_000_000);
    zone(path.join(root, 'intel-rapl:1'), 'psys', 0, 2_000_000);
    const meter = EnergyMeter.start({ powercapRoot: root, sampleMs: 3_600_000 });
    writeFileSync(path.join(pkg, 'energy_uj'), '1900000');
    writeFileSync(path.join(pkg, 'intel-rapl:0:1', 'energy_uj'), '300100');
    meter.sample();
    writeFileSync(path.join(pkg, 'energy_uj'), '400000'); // wrapped: +100000 to the range, +400000 after
    writeFileSync(path.join(root, 'intel-rapl:1', 'energy_uj'), '999999');
    const r = meter.stop();
    assert.equal(r.method, 'rapl');
    assert.ok(Math.abs(r.cpuJoules - 1.4) < 1e-9, `package ${r.cpuJoules} J`); // 0.9 + 0.1 + 0.4
    assert.ok(Math.abs(r.ramJoules - 0.3) < 1e-9, `dram ${r.ramJoules} J`);
    assert.equal(r.ram.method, 'rapl-dram');
    assert.deepEqual(r.rapl!.domains.map((d) => d.name), ['package-0', 'package-0/dram']);
    assert.ok(Math.abs(r.kWh - 1.7 / 3.6e6) < 1e-15);
    assert.match(r.description, /RAPL/);
    assert.equal(meter.stop(), r, 'stop is idempotent');
  });

  it('a counter that wraps without max_energy_range_uj gives the estimate, not Infinity, and says why', () => {
    const root = path.join(tmp, 'powercap-no-range');
    const pkg = path.join(root, 'intel-rapl:0');
    zone(pkg, 'package-0', 5_000_000);
    const meter = EnergyMeter.start({ powercapRoot: root, sampleMs: 3_600_000, wattsPerCore: 10 });
    writeFileSync(path.join(pkg, 'energy_uj'), '6000000');
    meter.sample();
    writeFileSync(path.join(pkg, 'energy_uj'), '1000'); // wrapped, by an unknown range
    burn(50);
    const r = meter.stop();
    assert.equal(r.method, 'cpu-time-estimate');
    assert.ok(Number.isFinite(r.joules) && r.joules > 0, `joules ${r.joules}`);
    assert.ok(Math.abs(r.cpuJoules - 10 * r.cpuSeconds) < 1e-9);
    assert.match(r.raplUnavailable!, /intel-rapl:0.energy_uj wrapped around \(6000000 → 1000 µJ\) and .*intel-rapl:0 has no max_energy_range_uj, so the energy across the wrap is unknown/);
    assert.equal(r.rapl, null);

    // Without a wrap the same counter is read as usual.
    writeFileSync(path.join(pkg, 'energy_uj'), '1000');
    const steady = EnergyMeter.start({ powercapRoot: root, sampleMs: 3_600_000 });
    writeFileSync(path.join(pkg, 'energy_uj'), '501000');
    const ok = steady.stop();
    assert.equal(ok.method, 'rapl');
    assert.ok(Math.abs(ok.cpuJoules - 0.5) < 1e-9, `package ${ok.cpuJoules} J`);
  });

  it('falls back to CPU time × watts per core + 3 W per 8 GB, and says why', () => {
    const meter = EnergyMeter.start({ powercapRoot: path.join(tmp, 'missing'), wattsPerCore: 10 });
    burn(150);
    const r = meter.stop();
    assert.equal(r.method, 'cpu-time-estimate');
    assert.match(r.raplUnavailable!, /does not exist/);
    assert.ok(r.cpuSeconds >= 0.1, `cpu ${r.cpuSeconds} s`);
    assert.ok(Math.abs(r.cpuJoules - 10 * r.cpuSeconds) < 1e-9);
    const expectRam = RAM_WATTS_PER_GB * (r.ram.peakRssBytes / 1e9) * r.wallSeconds;
    assert.ok(Math.abs(r.ramJoules - expectRam) < 1e-9);
    assert.ok(Math.abs(r.joules - r.cpuJoules - r.ramJoules) < 1e-9);
    assert.equal(r.cpu!.source, 'override');
  });
});

describe('CPU power and emissions', () => {
  const cpuinfo = (name: string, family: number, model: number, vendor = 'GenuineIntel'): string =>
    `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: ${model}\nmodel name\t: ${name}\nstepping\t: 2\n`;

  it('derives watts per core from the part number, else the CPUID generation, else the default', () => {
    const named = cpuPowerModel(readCpuIdentity(cpuinfo('Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz', 6, 106)));
    assert.equal(named.source, 'model-name');
    assert.equal(named.wattsPerCore, 270 / 40);
    const generic = cpuPowerModel(readCpuIdentity(cpuinfo('Intel(R) Xeon(R) Processor', 6, 207)));
    assert.equal(generic.source, 'cpuid-generation');
    assert.equal(generic.wattsPerCore, 350 / 64);
    assert.match(generic.note, /Emerald Rapids/);
    const amd = cpuPowerModel(readCpuIdentity(cpuinfo('AMD EPYC Processor', 25, 1, 'AuthenticAMD')));
    assert.equal(amd.wattsPerCore, 280 / 64);
    const unknown = cpuPowerModel(readCpuIdentity(cpuinfo('Some CPU', 6, 3)));
    assert.equal(unknown.source, 'default');
    assert.equal(unknown.wattsPerCore, DEFAULT_WATTS_PER_CORE);
    assert.throws(() => cpuPowerModel(readCpuIdentity(cpuinfo('x', 6, 1)), -1), /GENLAB_WATTS_PER_CORE/);
  });

  it('emissions = kWh × PUE × intensity; the default is the 475 g/kWh world average', () => {
    assert.equal(emissionsFor(2).gCO2e, 950);
    assert.equal(emissionsFor(2, WORLD_AVERAGE_INTENSITY, 1.5).gCO2e, 1425);
    assert.equal(carbonIntensityFromEnv({}).gPerKWh, 475);
    const fr = carbonIntensityFromEnv({ GENLAB_CARBON_INTENSITY: '56', GENLAB_CARBON_SOURCE: 'France 2023' });
    assert.deepEqual(fr, { gPerKWh: 56, source: 'France 2023' });
    assert.throws(() => carbonIntensityFromEnv({ GENLAB_CARBON_INTENSITY: 'lots' }), /GENLAB_CARBON_INTENSITY must be grams/);
  });
});
