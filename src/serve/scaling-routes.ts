// The scaling-law endpoints behind the app's Scaling tab: GET /api/scaling lists the sweep folders
// the server was started with (`genlab serve --scaling DIR`, repeatable), GET /api/scaling/:id
// returns one sweep's runs, fit, predictions and verifications as the files hold them, the ECharts
// options of its chart (scalingChartOptions, the same as scaling.png) and a table-ready summary.
// Folders are read on every request, so a sweep that is still running or was refitted shows its
// current state.

import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.ts';
import { listEntry, loadSweep, sweepDetail, type ScalingSource } from './scaling-sweeps.ts';
import type { ScalingDetail, ScalingList } from './wire.ts';

export function registerScalingRoutes(app: FastifyInstance, sources: readonly ScalingSource[]): void {
  app.get('/api/scaling', async (): Promise<ScalingList> => ({ sweeps: sources.map(listEntry) }));

  app.get('/api/scaling/:id', async (req): Promise<ScalingDetail> => {
    const { id } = req.params as { id: string };
    const src = sources.find((s) => s.id === id);
    if (!src) {
      const known = sources.length > 0 ? `GET /api/scaling lists them: ${sources.map((s) => s.id).join(', ')}` : 'this server shows none; start it with --scaling DIR (a folder made by `genlab scaling sweep --out DIR`)';
      throw new ApiError(404, `There is no scaling sweep '${id}'; ${known}.`, 'id', 'sweep_not_found');
    }
    return sweepDetail(loadSweep(src));
  });
}
