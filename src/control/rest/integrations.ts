/**
 * Put/Get/Update/DeleteIntegration and Put/Get/DeleteIntegrationResponse. The AWS input is kept
 * on the method and the served integration derived from it (integration-input.ts).
 */
import { GatewayError } from '../../errors.js';
import type { Gateway } from '../../gateway/gateway.js';
import { findApi } from './changes.js';
import { editableMethod, pathOfResource, routeMethodOf, setMethod } from './model.js';
import { deriveIntegration, inputFromConfig, readIntegrationInput } from './integration-input.js';
import { editMethodField, METHOD_PATH, methodOf, statusOf } from './methods.js';
import { readPatchOperations } from './patch.js';
import { parseJsonObject } from './request-body.js';
import { editResources } from './resources.js';
import { sendJson, type AdminRoute } from './route.js';
import { integrationResponseShape, integrationShape } from './shapes.js';

const INTEGRATION_PATH = `${METHOD_PATH}/integration`;
const INTEGRATION_RESPONSE_PATH = `${INTEGRATION_PATH}/responses/{status_code}`;

export const putIntegration: AdminRoute = {
  method: 'PUT',
  path: INTEGRATION_PATH,
  operation: 'PutIntegration',
  async handle({ params, body, gateway, res }) {
    const input = readIntegrationInput(parseJsonObject(body));
    await editIntegration(gateway, params, () => input, true);
    sendJson(res, 201, currentIntegration(gateway, params));
  },
};

export const getIntegration: AdminRoute = {
  method: 'GET',
  path: INTEGRATION_PATH,
  operation: 'GetIntegration',
  handle({ params, gateway, res }) {
    sendJson(res, 200, currentIntegration(gateway, params));
  },
};

export const updateIntegration: AdminRoute = {
  method: 'PATCH',
  path: INTEGRATION_PATH,
  operation: 'UpdateIntegration',
  async handle({ params, body, gateway, res }) {
    const operations = readPatchOperations(parseJsonObject(body));
    await editIntegration(gateway, params, (current) => {
      if (!current) throw new GatewayError('NOT_FOUND', 'Invalid Integration identifier specified');
      const next = structuredClone(current);
      for (const { op, path, value } of operations) applyIntegrationPatch(next, op, path, value);
      return readIntegrationInput(next);
    });
    sendJson(res, 200, currentIntegration(gateway, params));
  },
};

export const deleteIntegration: AdminRoute = {
  method: 'DELETE',
  path: INTEGRATION_PATH,
  operation: 'DeleteIntegration',
  async handle({ params, gateway, res }) {
    const method = routeMethodOf(params.http_method!);
    await editResources(gateway, params.restapi_id!, (api) => {
      const path = pathOfResource(api, params.resource_id!);
      const definition = { ...editableMethod(api, path, method) };
      if (!definition.integration) throw new GatewayError('NOT_FOUND', 'Invalid Integration identifier specified');
      for (const field of ['integration', 'awsIntegration', 'integrationResponses', 'cacheNamespace'] as const) delete definition[field];
      definition.cacheKeyParameters = [];
      setMethod(api, path, method, definition);
    });
    sendJson(res, 202, undefined);
  },
};

export const putIntegrationResponse: AdminRoute = {
  method: 'PUT',
  path: INTEGRATION_RESPONSE_PATH,
  operation: 'PutIntegrationResponse',
  async handle({ params, body, gateway, res }) {
    const input = parseJsonObject(body);
    const statusCode = statusOf(params.status_code!);
    const response: Record<string, unknown> = {};
    if (typeof input.selectionPattern === 'string') response.selectionPattern = input.selectionPattern;
    if (typeof input.contentHandling === 'string') response.contentHandling = input.contentHandling;
    for (const field of ['responseParameters', 'responseTemplates'] as const) {
      const value = input[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((item) => typeof item !== 'string')) throw new GatewayError('INVALID_INPUT', `${field} must be a map of strings`);
      response[field] = value;
    }
    await editMethodField(gateway, params, 'integrationResponses', (responses, definition) => {
      if (!definition.integration) throw new GatewayError('NOT_FOUND', 'Invalid Integration identifier specified');
      return { ...responses, [statusCode]: response };
    }, (definition, path) => rederive(gateway, definition, path));
    sendJson(res, 201, integrationResponseShape(statusCode, response));
  },
};

export const getIntegrationResponse: AdminRoute = {
  method: 'GET',
  path: INTEGRATION_RESPONSE_PATH,
  operation: 'GetIntegrationResponse',
  handle({ params, gateway, res }) {
    const responses = (currentIntegration(gateway, params).integrationResponses ?? {}) as Record<string, Record<string, unknown>>;
    const response = responses[params.status_code!];
    if (!response) throw new GatewayError('NOT_FOUND', 'Invalid Response status code specified');
    sendJson(res, 200, response);
  },
};

export const deleteIntegrationResponse: AdminRoute = {
  method: 'DELETE',
  path: INTEGRATION_RESPONSE_PATH,
  operation: 'DeleteIntegrationResponse',
  async handle({ params, gateway, res }) {
    await editMethodField(gateway, params, 'integrationResponses', (responses) => {
      if (!Object.hasOwn(responses, params.status_code!)) throw new GatewayError('NOT_FOUND', 'Invalid Response status code specified');
      const rest = { ...responses };
      delete rest[params.status_code!];
      return rest;
    }, (definition, path) => rederive(gateway, definition, path));
    sendJson(res, 202, undefined);
  },
};

function currentIntegration(gateway: Gateway, params: Readonly<Record<string, string>>): Record<string, unknown> {
  const api = findApi(gateway, params.restapi_id!);
  const path = pathOfResource(api, params.resource_id!);
  const shape = integrationShape(methodOf(gateway, params, path, routeMethodOf(params.http_method!)), gateway.region);
  if (!shape) throw new GatewayError('NOT_FOUND', 'Invalid Integration identifier specified');
  return shape;
}

/** Sets the method's AWS input to `next(current)` and derives the served integration from it. */
function editIntegration(gateway: Gateway, params: Readonly<Record<string, string>>, next: (current: Record<string, unknown> | undefined) => Record<string, unknown>, replacing = false): Promise<void> {
  const method = routeMethodOf(params.http_method!);
  return editResources(gateway, params.restapi_id!, (api) => {
    const path = pathOfResource(api, params.resource_id!);
    const definition = { ...editableMethod(api, path, method) };
    const current = (definition.awsIntegration as Record<string, unknown> | undefined) ?? inputFromConfig(definition as never, gateway.region);
    definition.awsIntegration = next(current);
    // AWS: PutIntegration replaces the integration, and its responses with it.
    if (replacing) delete definition.integrationResponses;
    rederive(gateway, definition, path);
    setMethod(api, path, method, definition);
  });
}

function rederive(gateway: Gateway, definition: Record<string, unknown>, path: string): void {
  const input = (definition.awsIntegration as Record<string, unknown> | undefined) ?? inputFromConfig(definition as never, gateway.region);
  if (!input) return;
  definition.awsIntegration = input;
  const derived = deriveIntegration(input, {
    resourcePath: path,
    functions: gateway.loaded.config.gateway.functions ?? {},
    integrationResponses: (definition.integrationResponses ?? {}) as Record<string, Record<string, unknown>>,
  });
  definition.integration = derived.integration;
  definition.cacheKeyParameters = derived.cacheKeyParameters;
  if (derived.cacheNamespace !== undefined) definition.cacheNamespace = derived.cacheNamespace;
  else delete definition.cacheNamespace;
  const reads = new Set([...((definition.requestParameters ?? []) as string[]), ...derived.reads.filter((name) => !name.startsWith('method.request.path.'))]);
  definition.requestParameters = [...reads];
}

/** AWS patch paths of an Integration: scalar members, and map/list members by key. */
function applyIntegrationPatch(input: Record<string, unknown>, op: string, path: string, value: string | undefined): void {
  const scalar = /^\/(uri|httpMethod|type|timeoutInMillis|cacheNamespace|passthroughBehavior|contentHandling|connectionType|connectionId|credentials)$/.exec(path)?.[1];
  if (scalar !== undefined) {
    if (op === 'remove') delete input[scalar];
    else if ((op === 'replace' || op === 'add') && value !== undefined) input[scalar] = scalar === 'timeoutInMillis' ? Number(value) : value;
    else throw new GatewayError('INVALID_INPUT', `Invalid patch operation ${op} ${path}`);
    return;
  }
  const keyed = /^\/(requestParameters|requestTemplates|cacheKeyParameters)\/(.+)$/.exec(path);
  if (!keyed) throw new GatewayError('INVALID_INPUT', `Invalid patch path ${path}`);
  const [, member, rawKey] = keyed;
  const key = rawKey!.replaceAll('~1', '/').replaceAll('~0', '~');
  if (member === 'cacheKeyParameters') {
    const list = ((input.cacheKeyParameters ?? []) as string[]).filter((existing) => existing !== key);
    if (op === 'add' || op === 'replace') list.push(key);
    else if (op !== 'remove') throw new GatewayError('INVALID_INPUT', `Invalid patch operation ${op} ${path}`);
    input.cacheKeyParameters = list;
    return;
  }
  const map = { ...((input[member!] ?? {}) as Record<string, string>) };
  if (op === 'remove') delete map[key];
  else if ((op === 'add' || op === 'replace') && value !== undefined) map[key] = value;
  else throw new GatewayError('INVALID_INPUT', `Invalid patch operation ${op} ${path}`);
  input[member!] = map;
}
