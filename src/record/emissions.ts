// Emissions of a run: energy × the carbon intensity of the grid that supplied it. The intensity is
// configurable because it varies by a factor of more than ten between grids; by default genlab uses
// the world average CodeCarbon also falls back to.

export interface CarbonIntensity {
  /** Grams of CO2-equivalent per kWh of electricity. */
  gPerKWh: number;
  source: string;
  url?: string;
}

export const WORLD_AVERAGE_INTENSITY: CarbonIntensity = {
  gPerKWh: 475,
  source: 'world average of electricity generation in 2018, IEA Global Energy & CO2 Status Report 2019; the fallback CodeCarbon applies when a country is unknown',
  url: 'https://www.iea.org/reports/global-energy-co2-status-report-2019/emissions',
};

/**
 * The intensity to use: GENLAB_CARBON_INTENSITY (g/kWh) with an optional GENLAB_CARBON_SOURCE naming
 * where the number comes from, else the world average.
 */
export function carbonIntensityFromEnv(env: NodeJS.ProcessEnv = process.env): CarbonIntensity {
  const raw = env.GENLAB_CARBON_INTENSITY;
  if (raw === undefined || raw.trim() === '') return WORLD_AVERAGE_INTENSITY;
  return carbonIntensity(Number(raw), env.GENLAB_CARBON_SOURCE ?? 'set by GENLAB_CARBON_INTENSITY (no source given; set GENLAB_CARBON_SOURCE)', 'GENLAB_CARBON_INTENSITY');
}

export function carbonIntensity(gPerKWh: number, source: string, what = 'carbon intensity'): CarbonIntensity {
  if (!Number.isFinite(gPerKWh) || gPerKWh < 0 || gPerKWh > 2000) {
    throw new Error(`${what} must be grams of CO2e per kWh between 0 and 2000 (the world average is 475), got ${gPerKWh}`);
  }
  return { gPerKWh, source };
}

export interface Emissions {
  gCO2e: number;
  intensity: CarbonIntensity;
  /** Power usage effectiveness applied (facility overhead); 1 = none, as CodeCarbon's default. */
  pue: number;
}

export function emissionsFor(kWh: number, intensity: CarbonIntensity = WORLD_AVERAGE_INTENSITY, pue = 1): Emissions {
  if (!(kWh >= 0)) throw new Error(`energy must be a non-negative number of kWh, got ${kWh}`);
  if (!(pue >= 1)) throw new Error(`PUE must be at least 1, got ${pue}`);
  return { gCO2e: kWh * pue * intensity.gPerKWh, intensity, pue };
}
