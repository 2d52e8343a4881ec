/**
 * Purge (SPEC §7), a cachegate extension — AWS has no such operation. Both are DELETEs under the
 * stage's cache, so they are authorised like FlushStageCache (`apigateway:DELETE` on the path's
 * ARN), and a policy can allow purging one stage without allowing a flush:
 *
 *   DELETE /restapis/{restapi_id}/stages/{stage_name}/cache/tags/{tag}          → 200 {"purged": N}
 *   DELETE /restapis/{restapi_id}/stages/{stage_name}/cache/paths?prefix=/pets   → 200 {"purged": N}
 *
 * A tag is one `Surrogate-Key` / `Cache-Tag` value, percent-encoded in the path. A prefix is whole
 * path segments after the stage: `/pets` purges `/pets` and everything under it, not `/petshop`.
 * N counts the entries this process removed (with `--workers`, each worker repeats the purge on
 * its own memory cache; a Redis store is shared, so N is the whole count there).
 */
import { GatewayError } from '../../errors.js';
import { isValidTag, MAX_PATH_TAG_DEPTH, pathPrefixTag, type PurgeMatch } from '../../cache/tags.js';
import type { Gateway } from '../../gateway/gateway.js';
import { sendJson, type AdminRoute } from './route.js';

export const purgeCacheTag: AdminRoute = {
  method: 'DELETE',
  path: '/restapis/{restapi_id}/stages/{stage_name}/cache/tags/{tag}',
  operation: 'PurgeStageCacheTag',
  async handle({ params, gateway, res }) {
    const tag = params.tag!;
    if (!isValidTag(tag)) throw new GatewayError('BAD_REQUEST', 'A tag is 1 to 1024 bytes with no control characters and no surrounding spaces');
    sendJson(res, 200, { purged: await purge(gateway, params, { tags: [tag] }) });
  },
};

export const purgeCachePaths: AdminRoute = {
  method: 'DELETE',
  path: '/restapis/{restapi_id}/stages/{stage_name}/cache/paths',
  operation: 'PurgeStageCachePaths',
  async handle({ params, query, gateway, res }) {
    const prefix = query.get('prefix');
    if (prefix === null) throw new GatewayError('BAD_REQUEST', 'Missing query parameter prefix (a path after the stage, e.g. /pets)');
    if (pathPrefixTag(prefix) === undefined) {
      throw new GatewayError('BAD_REQUEST', `Invalid prefix ${JSON.stringify(prefix)}: a path starting with / of at most ${MAX_PATH_TAG_DEPTH} segments`);
    }
    sendJson(res, 200, { purged: await purge(gateway, params, { pathPrefix: prefix }) });
  },
};

async function purge(gateway: Gateway, params: Readonly<Record<string, string>>, match: PurgeMatch): Promise<number> {
  const api = gateway.snapshot.byId.get(params.restapi_id!.toLowerCase());
  if (!api || api.id !== params.restapi_id) throw new GatewayError('NOT_FOUND', `Invalid API identifier specified ${params.restapi_id}`);
  if (!api.stages.has(params.stage_name!)) throw new GatewayError('NOT_FOUND', 'Invalid Stage identifier specified');
  return gateway.purgeStage(api.id, params.stage_name!, match);
}
