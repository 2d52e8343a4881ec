/** FlushStageCache: `DELETE /restapis/{restapi_id}/stages/{stage_name}/cache/data` → 202, empty body. */
import { GatewayError } from '../../errors.js';
import type { AdminRoute } from './route.js';

export const flushStageCache: AdminRoute = {
  method: 'DELETE',
  path: '/restapis/{restapi_id}/stages/{stage_name}/cache/data',
  operation: 'FlushStageCache',
  async handle({ params, gateway, res }) {
    const api = gateway.snapshot.byId.get(params.restapi_id!.toLowerCase());
    if (!api || api.id !== params.restapi_id) throw new GatewayError('NOT_FOUND', `Invalid API identifier specified ${params.restapi_id}`);
    if (!api.stages.has(params.stage_name!)) throw new GatewayError('NOT_FOUND', `Invalid Stage identifier specified`);
    // Empties the stage cache at once, whatever its size (AWS: FlushStageCache).
    await gateway.flushStage(api.id, params.stage_name!);
    res.writeHead(202, { 'content-length': 0 });
    res.end();
  },
};
