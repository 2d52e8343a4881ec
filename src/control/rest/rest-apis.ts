/**
 * RestApi operations: GetRestApis, GetRestApi, CreateRestApi / ImportRestApi (`POST /restapis`,
 * `?mode=import` with an OpenAPI body), PutRestApi (`mode=merge|overwrite`), DeleteRestApi.
 */
import { importOpenApi, mergeResources, OpenApiError, type OpenApiImport } from '../../config/openapi.js';
import { parseMethodSettingsKey } from '../../config/naming.js';
import { GatewayError } from '../../errors.js';
import { changeApis, editableApi, findApi, type MutableApi } from './changes.js';
import { metadataOf, randomId } from './metadata.js';
import { optionalString, page, parseJsonObject } from './request-body.js';
import { readPatchOperations } from './patch.js';
import { checkResourceCount, pinUndeployedStages } from './model.js';
import { sendJson, type AdminRoute } from './route.js';
import { restApiShape } from './shapes.js';

export const getRestApis: AdminRoute = {
  method: 'GET',
  path: '/restapis',
  operation: 'GetRestApis',
  handle({ query, gateway, res }) {
    const metadata = metadataOf(gateway);
    sendJson(res, 200, page(gateway.apis.map((api) => restApiShape(api, metadata.api(api.id))), query));
  },
};

export const getRestApi: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}',
  operation: 'GetRestApi',
  handle({ params, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    sendJson(res, 200, restApiShape(api, metadataOf(gateway).api(api.id)));
  },
};

/** `POST /restapis`: ImportRestApi with `mode=import`, else CreateRestApi (an empty API). */
export const createOrImportRestApi: AdminRoute = {
  method: 'POST',
  path: '/restapis',
  operation: 'CreateRestApi|ImportRestApi',
  async handle({ query, body, gateway, res }) {
    const id = uniqueApiId(gateway.apis.map((api) => api.id));
    let definition: MutableApi;
    let imported: OpenApiImport | undefined;
    if (query.get('mode') === 'import') {
      imported = readSpec(body, query, gateway.loaded.config.gateway.functions);
      definition = { id, name: imported.title ?? id, ...(imported.description ? { description: imported.description } : {}), resources: imported.resources, stages: {} } as MutableApi;
    } else {
      const input = parseJsonObject(body);
      const name = optionalString(input, 'name');
      if (!name) throw new GatewayError('INVALID_INPUT', 'name is required');
      const description = optionalString(input, 'description');
      definition = { id, name, ...(description !== undefined ? { description } : {}), resources: {}, stages: {} } as MutableApi;
    }
    await changeApis(gateway, (apis) => {
      checkResourceCount(definition);
      apis.push(definition);
    });
    const metadata = metadataOf(gateway);
    metadata.forgetApi(id);
    const meta = metadata.api(id);
    if (imported) {
      if (imported.version !== undefined) meta.version = imported.version;
      meta.warnings = [...imported.warnings];
    }
    sendJson(res, 201, restApiShape(findApi(gateway, id), meta));
  },
};

export const putRestApi: AdminRoute = {
  method: 'PUT',
  path: '/restapis/{restapi_id}',
  operation: 'PutRestApi',
  async handle({ params, query, body, gateway, res }) {
    const apiId = params.restapi_id!;
    findApi(gateway, apiId);
    const mode = query.get('mode') ?? 'merge'; // AWS default
    if (mode !== 'merge' && mode !== 'overwrite') throw new GatewayError('INVALID_INPUT', `Invalid mode ${mode}: must be merge or overwrite`);
    const imported = readSpec(body, query, gateway.loaded.config.gateway.functions);
    const warnings = [...imported.warnings];
    const now = metadataOf(gateway).seconds();
    await changeApis(gateway, (apis) => {
      const api = editableApi(apis, apiId);
      pinUndeployedStages(api, now);
      if (mode === 'merge') {
        api.resources = mergeResources(api.resources, imported.resources) as MutableApi['resources'];
        checkResourceCount(api);
        return;
      }
      api.resources = imported.resources as MutableApi['resources'];
      checkResourceCount(api);
      if (imported.title !== undefined) api.name = imported.title;
      if (imported.description !== undefined) api.description = imported.description;
      // Method settings of methods that no longer exist would fail validation: drop them, say so.
      for (const [stageName, stage] of Object.entries(api.stages)) {
        const kept = Object.fromEntries(Object.entries(stage.methodSettings).filter(([key]) => {
          const parsed = parseMethodSettingsKey(key);
          const methods = parsed && parsed !== '*/*' ? (api.resources[parsed.resourcePath] as Record<string, unknown> | undefined) : undefined;
          const keep = parsed === '*/*' || (parsed !== undefined && methods !== undefined && (parsed.method in methods || 'ANY' in methods));
          if (!keep) warnings.push(`stage ${stageName}: method setting ${key} removed (its method is gone)`);
          return keep;
        }));
        api.stages = { ...api.stages, [stageName]: { ...stage, methodSettings: kept } };
      }
    });
    const meta = metadataOf(gateway).api(apiId);
    if (imported.version !== undefined) meta.version = imported.version;
    meta.warnings = warnings;
    sendJson(res, 200, restApiShape(findApi(gateway, apiId), meta));
  },
};

export const updateRestApi: AdminRoute = {
  method: 'PATCH',
  path: '/restapis/{restapi_id}',
  operation: 'UpdateRestApi',
  async handle({ params, body, gateway, res }) {
    const operations = readPatchOperations(parseJsonObject(body));
    const apiId = params.restapi_id!;
    await changeApis(gateway, (apis) => {
      const api = editableApi(apis, apiId);
      for (const { op, path, value } of operations) {
        if (path === '/name' && op === 'replace' && value) api.name = value;
        else if (path === '/description' && (op === 'replace' || op === 'add') && value !== undefined) api.description = value;
        else if (path === '/description' && op === 'remove') delete api.description;
        // What cachegate is anyway (reported by GetRestApi): accepted as a no-op so tools converge.
        else if ((path === '/apiKeySource' && value === 'HEADER') || (path === '/disableExecuteApiEndpoint' && value === 'false')) continue;
        else throw new GatewayError('INVALID_INPUT', `Invalid patch path ${path} for op ${op}: supported are /name, /description (and /apiKeySource HEADER, /disableExecuteApiEndpoint false)`);
      }
    });
    sendJson(res, 200, restApiShape(findApi(gateway, apiId), metadataOf(gateway).api(apiId)));
  },
};

export const deleteRestApi: AdminRoute = {
  method: 'DELETE',
  path: '/restapis/{restapi_id}',
  operation: 'DeleteRestApi',
  async handle({ params, gateway, res }) {
    const apiId = params.restapi_id!;
    await changeApis(gateway, (apis) => {
      const index = apis.indexOf(editableApi(apis, apiId));
      apis.splice(index, 1);
    });
    metadataOf(gateway).forgetApi(apiId);
    sendJson(res, 202, undefined);
  },
};

/** The OpenAPI body of an import; BadRequestException when unreadable, or on warnings with `failonwarnings=true`. */
function readSpec(body: Buffer, query: URLSearchParams, functions: Readonly<Record<string, string>> = {}): OpenApiImport {
  let imported: OpenApiImport;
  try {
    imported = importOpenApi(body.toString('utf8'), { functions });
  } catch (error) {
    if (error instanceof OpenApiError) throw new GatewayError('INVALID_INPUT', `Invalid OpenAPI input: ${error.message}`);
    throw error;
  }
  if (query.get('failonwarnings') === 'true' && imported.warnings.length > 0) {
    throw new GatewayError('INVALID_INPUT', `Warnings found during import:\n\t${imported.warnings.join('\n\t')}`);
  }
  return imported;
}

function uniqueApiId(taken: readonly string[]): string {
  for (;;) {
    const id = randomId(10);
    if (!taken.includes(id)) return id;
  }
}
