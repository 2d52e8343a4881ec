/**
 * PutMethod, GetMethod, UpdateMethod, DeleteMethod and Put/Get/DeleteMethodResponse, under
 * `/restapis/{id}/resources/{resource_id}/methods/{http_method}`. A method put without an
 * integration is stored but serves nothing until PutIntegration and a deployment (as on AWS).
 */
import { GatewayError } from '../../errors.js';
import { REQUEST_PARAMETER } from '../../config/schema.js';
import { findApi } from './changes.js';
import { editableMethod, methodsAt, pathOfResource, routeMethodOf, setMethod } from './model.js';
import { readPatchOperations } from './patch.js';
import { optionalBoolean, optionalString, parseJsonObject } from './request-body.js';
import { editResources } from './resources.js';
import { sendJson, type AdminRoute } from './route.js';
import { methodResponseShape, methodShape } from './shapes.js';
import type { MethodConfig } from '../../config/schema.js';

export const METHOD_PATH = '/restapis/{restapi_id}/resources/{resource_id}/methods/{http_method}';
const AUTHORIZATION_TYPES = ['NONE', 'AWS_IAM', 'CUSTOM', 'COGNITO_USER_POOLS'];

export const putMethod: AdminRoute = {
  method: 'PUT',
  path: METHOD_PATH,
  operation: 'PutMethod',
  async handle({ params, body, gateway, res }) {
    const input = parseJsonObject(body);
    const method = routeMethodOf(params.http_method!);
    const authorizationType = optionalString(input, 'authorizationType') ?? 'NONE';
    if (!AUTHORIZATION_TYPES.includes(authorizationType)) throw new GatewayError('INVALID_INPUT', `Invalid authorizationType ${authorizationType}: must be one of ${AUTHORIZATION_TYPES.join(', ')}`);
    // cachegate does not run authorizers: a method that asks for one would be served unprotected.
    if (authorizationType !== 'NONE') throw new GatewayError('INVALID_INPUT', `authorizationType ${authorizationType} is not supported by cachegate (NONE only)`);
    if (optionalBoolean(input, 'apiKeyRequired')) throw new GatewayError('INVALID_INPUT', 'apiKeyRequired is not supported by cachegate (usage plans are not implemented)');
    const requestParameters = readRequestParameters(input.requestParameters);
    const operationName = optionalString(input, 'operationName');
    const path = await editResources(gateway, params.restapi_id!, (api) => {
      const path = pathOfResource(api, params.resource_id!);
      if (methodsAt(api, path)[method]) throw new GatewayError('CONFLICT', 'Method already exists for this resource');
      setMethod(api, path, method, { requestParameters, cacheKeyParameters: [], authorizationType, apiKeyRequired: false, ...(operationName !== undefined ? { operationName } : {}) });
      return path;
    });
    sendJson(res, 201, methodShape(path, method, methodOf(gateway, params, path, method), gateway.region));
  },
};

export const getMethod: AdminRoute = {
  method: 'GET',
  path: METHOD_PATH,
  operation: 'GetMethod',
  handle({ params, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const path = pathOfResource(api, params.resource_id!);
    const method = routeMethodOf(params.http_method!);
    sendJson(res, 200, methodShape(path, method, methodOf(gateway, params, path, method), gateway.region));
  },
};

export const updateMethod: AdminRoute = {
  method: 'PATCH',
  path: METHOD_PATH,
  operation: 'UpdateMethod',
  async handle({ params, body, gateway, res }) {
    const operations = readPatchOperations(parseJsonObject(body));
    const method = routeMethodOf(params.http_method!);
    const path = await editResources(gateway, params.restapi_id!, (api) => {
      const path = pathOfResource(api, params.resource_id!);
      const definition = { ...editableMethod(api, path, method) };
      for (const { op, path: target, value } of operations) {
        const parameter = /^\/requestParameters\/(.+)$/.exec(target)?.[1];
        if (parameter !== undefined) {
          if (!REQUEST_PARAMETER.test(parameter)) throw new GatewayError('INVALID_INPUT', `Invalid request parameter ${parameter}`);
          const list = ((definition.requestParameters ?? []) as string[]).filter((existing) => existing !== parameter);
          if (op === 'add' || op === 'replace') list.push(parameter);
          else if (op !== 'remove') throw new GatewayError('INVALID_INPUT', `Invalid patch operation ${op}`);
          definition.requestParameters = list;
        } else if (target === '/operationName' && (op === 'replace' || op === 'add') && value !== undefined) {
          definition.operationName = value;
        } else if (target === '/authorizationType' && op === 'replace' && value === 'NONE') {
          definition.authorizationType = value;
        } else if (target === '/apiKeyRequired' && op === 'replace' && value === 'false') {
          definition.apiKeyRequired = false;
        } else {
          throw new GatewayError('INVALID_INPUT', `Invalid patch path ${target} for op ${op}: supported are /requestParameters/{name}, /operationName, /authorizationType (NONE), /apiKeyRequired (false)`);
        }
      }
      setMethod(api, path, method, definition);
      return path;
    });
    sendJson(res, 200, methodShape(path, method, methodOf(gateway, params, path, method), gateway.region));
  },
};

export const deleteMethod: AdminRoute = {
  method: 'DELETE',
  path: METHOD_PATH,
  operation: 'DeleteMethod',
  async handle({ params, gateway, res }) {
    const method = routeMethodOf(params.http_method!);
    await editResources(gateway, params.restapi_id!, (api) => {
      const path = pathOfResource(api, params.resource_id!);
      editableMethod(api, path, method);
      setMethod(api, path, method, undefined);
    });
    sendJson(res, 202, undefined);
  },
};

const METHOD_RESPONSE_PATH = `${METHOD_PATH}/responses/{status_code}`;

export const putMethodResponse: AdminRoute = {
  method: 'PUT',
  path: METHOD_RESPONSE_PATH,
  operation: 'PutMethodResponse',
  async handle({ params, body, gateway, res }) {
    const input = parseJsonObject(body);
    const statusCode = statusOf(params.status_code!);
    const response: Record<string, unknown> = {};
    for (const field of ['responseParameters', 'responseModels'] as const) {
      const value = input[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value)) throw new GatewayError('INVALID_INPUT', `${field} must be a map`);
      if (Object.keys(value).length > 50) throw new GatewayError('INVALID_INPUT', `${field}: at most 50 entries`);
      response[field] = value;
    }
    await editMethodField(gateway, params, 'methodResponses', (responses) => ({ ...responses, [statusCode]: response }));
    sendJson(res, 201, methodResponseShape(statusCode, response));
  },
};

export const getMethodResponse: AdminRoute = {
  method: 'GET',
  path: METHOD_RESPONSE_PATH,
  operation: 'GetMethodResponse',
  handle({ params, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const path = pathOfResource(api, params.resource_id!);
    const response = methodOf(gateway, params, path, routeMethodOf(params.http_method!)).methodResponses?.[params.status_code!];
    if (!response) throw new GatewayError('NOT_FOUND', 'Invalid Response status code specified');
    sendJson(res, 200, methodResponseShape(params.status_code!, response));
  },
};

export const deleteMethodResponse: AdminRoute = {
  method: 'DELETE',
  path: METHOD_RESPONSE_PATH,
  operation: 'DeleteMethodResponse',
  async handle({ params, gateway, res }) {
    await editMethodField(gateway, params, 'methodResponses', (responses) => {
      if (!Object.hasOwn(responses, params.status_code!)) throw new GatewayError('NOT_FOUND', 'Invalid Response status code specified');
      const rest = { ...responses };
      delete rest[params.status_code!];
      return rest;
    });
    sendJson(res, 202, undefined);
  },
};

/** Replaces one map-valued field of a method (method or integration responses); returns the edited definition. */
export function editMethodField(
  gateway: Parameters<typeof editResources>[0],
  params: Readonly<Record<string, string>>,
  field: 'methodResponses' | 'integrationResponses',
  edit: (current: Record<string, Record<string, unknown>>, definition: Record<string, unknown>) => Record<string, Record<string, unknown>>,
  after?: (definition: Record<string, unknown>, path: string) => void,
): Promise<void> {
  const method = routeMethodOf(params.http_method!);
  return editResources(gateway, params.restapi_id!, (api) => {
    const path = pathOfResource(api, params.resource_id!);
    const definition = { ...editableMethod(api, path, method) };
    definition[field] = edit((definition[field] ?? {}) as Record<string, Record<string, unknown>>, definition);
    after?.(definition, path);
    setMethod(api, path, method, definition);
  });
}

export function methodOf(gateway: Parameters<typeof findApi>[0], params: Readonly<Record<string, string>>, path: string, method: ReturnType<typeof routeMethodOf>): MethodConfig {
  const api = findApi(gateway, params.restapi_id!);
  const found = (Object.hasOwn(api.resources, path) ? api.resources[path] : {})?.[method];
  if (!found) throw new GatewayError('NOT_FOUND', 'Invalid Method identifier specified');
  return found;
}

export function statusOf(text: string): string {
  if (!/^[1-5]\d\d$/.test(text)) throw new GatewayError('INVALID_INPUT', `Invalid status code ${text}: three digits 100..599`);
  return text;
}

/** `{"method.request.querystring.type": false}` → the names (AWS sends required flags; cachegate keeps the names). */
function readRequestParameters(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) throw new GatewayError('INVALID_INPUT', 'requestParameters must be a map of names to booleans');
  const names = Object.keys(value);
  for (const name of names) if (!REQUEST_PARAMETER.test(name)) throw new GatewayError('INVALID_INPUT', `Invalid request parameter ${name}`);
  return names.filter((name) => !name.startsWith('method.request.path.'));
}
