/**
 * GetExport: `GET /restapis/{id}/stages/{stage}/exports/{oas30|swagger}` — the API as the stage
 * serves it (its deployment's snapshot), in OpenAPI 3.0 or Swagger 2.0, JSON or YAML by `Accept`,
 * with `x-amazon-apigateway-integration` on every method so that ImportRestApi/PutRestApi of the
 * export rebuilds the same behaviour (openapi.ts reads exactly these members back).
 */
import { stringify } from 'yaml';
import { GatewayError } from '../../errors.js';
import type { ApiConfig, MethodConfig, RouteMethod } from '../../config/schema.js';
import { REQUEST_PARAMETER } from '../../config/schema.js';
import { pathParameterNames } from '../../config/naming.js';
import { findApi, findStage } from './changes.js';
import { MAX_EXPORT_BYTES } from './model.js';
import type { AdminRoute } from './route.js';
import { integrationShape } from './shapes.js';

const LOCATIONS: Record<string, string> = { path: 'path', querystring: 'query', header: 'header' };

export const getExport: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/stages/{stage_name}/exports/{export_type}',
  operation: 'GetExport',
  handle({ params, req, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const stage = findStage(api, params.stage_name!);
    const exportType = params.export_type!;
    if (exportType !== 'oas30' && exportType !== 'swagger') throw new GatewayError('INVALID_INPUT', `Invalid export type ${exportType}: oas30 or swagger`);
    const resources = stage.deploymentId !== undefined ? api.deployments?.[stage.deploymentId]?.resources ?? {} : api.resources;
    const document = exportDocument(api, params.stage_name!, resources, exportType, gateway.region);
    const yaml = /yaml/i.test(String(req.headers.accept ?? ''));
    const text = yaml ? stringify(document) : JSON.stringify(document, null, 2);
    if (Buffer.byteLength(text) > MAX_EXPORT_BYTES) throw new GatewayError('LIMIT_EXCEEDED', `The export is larger than ${MAX_EXPORT_BYTES} bytes`);
    res.writeHead(200, {
      'content-type': yaml ? 'application/yaml' : 'application/json',
      'content-disposition': `attachment; filename="${exportType}_${api.id}_${params.stage_name}.${yaml ? 'yaml' : 'json'}"`,
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  },
};

export function exportDocument(api: ApiConfig, stageName: string, resources: ApiConfig['resources'], exportType: 'oas30' | 'swagger', region: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(resources).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [method, definition] of Object.entries(methods) as [RouteMethod, MethodConfig | undefined][]) {
      if (!definition?.integration) continue;
      const key = method === 'ANY' ? 'x-amazon-apigateway-any-method' : method.toLowerCase();
      (paths[path] ??= {})[key] = operationOf(path, definition, exportType, region);
    }
  }
  const info = { title: api.name ?? api.id, ...(api.description !== undefined ? { description: api.description } : {}), version: stageName };
  return exportType === 'oas30'
    ? { openapi: '3.0.1', info, servers: [{ url: `/{basePath}`, variables: { basePath: { default: stageName } } }], paths }
    : { swagger: '2.0', info, basePath: `/${stageName}`, schemes: ['http', 'https'], paths };
}

function operationOf(path: string, definition: MethodConfig, exportType: 'oas30' | 'swagger', region: string): Record<string, unknown> {
  const names = new Set<string>([...pathParameterNames(path).map((name) => `method.request.path.${name}`), ...definition.requestParameters, ...definition.cacheKeyParameters]);
  const parameters: Record<string, unknown>[] = [];
  for (const name of names) {
    const [, location, parameter] = REQUEST_PARAMETER.exec(name) ?? [];
    const where = location && LOCATIONS[location];
    if (!where || !parameter) continue;
    parameters.push({ name: parameter, in: where, required: where === 'path', ...(exportType === 'oas30' ? { schema: { type: 'string' } } : { type: 'string' }) });
  }
  const integration = integrationShape(definition, region)!;
  const responses = (integration.integrationResponses ?? {}) as Record<string, Record<string, unknown>>;
  const exported: Record<string, unknown> = {
    type: String(integration.type).toLowerCase(),
    ...pick(integration, ['uri', 'httpMethod', 'passthroughBehavior', 'timeoutInMillis', 'cacheNamespace', 'cacheKeyParameters', 'requestParameters', 'requestTemplates', 'connectionType', 'contentHandling']),
    ...(Object.keys(responses).length
      ? { responses: Object.fromEntries(Object.entries(responses).map(([status, response]) => [typeof response.selectionPattern === 'string' && response.selectionPattern !== '' ? response.selectionPattern : 'default', { statusCode: status, ...pick(response, ['responseParameters', 'responseTemplates', 'contentHandling']) }])) }
      : {}),
  };
  const methodResponses = Object.keys(definition.methodResponses ?? {});
  return {
    ...(definition.operationName !== undefined ? { operationId: definition.operationName } : {}),
    ...(parameters.length ? { parameters } : {}),
    responses: Object.fromEntries((methodResponses.length ? methodResponses : ['200']).map((status) => [status, { description: `${status} response` }])),
    'x-amazon-apigateway-integration': exported,
  };
}

function pick(source: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => source[field] !== undefined).map((field) => [field, source[field]]));
}
