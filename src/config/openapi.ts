/**
 * OpenAPI 3 (or Swagger 2) with `x-amazon-apigateway-integration` → cachegate resources, the way
 * Amazon API Gateway imports them. Used by ImportRestApi/PutRestApi, by `apis[].openapi` in the
 * config file and by `cachegate import`. The result is plain JSON, validated afterwards like any
 * config (so errors name their path); what cannot be imported becomes a warning, as on AWS.
 */
import { parseDocument } from 'yaml';
import { HTTP_METHODS, REQUEST_PARAMETER } from './schema.js';
import { pathParameterNames } from './naming.js';

export interface OpenApiImport {
  readonly title?: string;
  readonly description?: string;
  readonly version?: string;
  /** `{ '/pets/{petId}': { GET: { requestParameters, cacheKeyParameters, integration, … } } }` */
  readonly resources: Record<string, Record<string, Record<string, unknown>>>;
  /** Methods skipped or simplified, one sentence each. */
  readonly warnings: string[];
}

/** The document cannot be read as OpenAPI at all. */
export class OpenApiError extends Error {
  override name = 'OpenApiError';
}

type Json = Record<string, unknown>;

const OPENAPI_METHODS = HTTP_METHODS.map((method) => method.toLowerCase());
const LOCATIONS: Record<string, string> = { path: 'path', query: 'querystring', header: 'header' };

export interface ImportOptions {
  /** `gateway.functions`: AWS_PROXY integrations run the function their Lambda URI names, if listed here. */
  readonly functions?: Readonly<Record<string, string>>;
}

export function importOpenApi(text: string, options: ImportOptions = {}): OpenApiImport {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) throw new OpenApiError(`not valid YAML or JSON: ${document.errors[0]!.message.split('\n')[0]}`);
  const spec = document.toJS() as unknown;
  if (!isObject(spec)) throw new OpenApiError('not an OpenAPI document (expected an object)');
  if (typeof spec.openapi !== 'string' && spec.swagger !== '2.0') throw new OpenApiError('not an OpenAPI document: missing "openapi: 3.x" (or "swagger: \'2.0\'")');
  if (!isObject(spec.paths)) throw new OpenApiError('the OpenAPI document has no paths');

  const warnings: string[] = [];
  const resources: OpenApiImport['resources'] = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    if (!isObject(item)) continue;
    const pathParameters = Array.isArray(item.parameters) ? item.parameters : [];
    for (const [key, operation] of Object.entries(item)) {
      const method = key === 'x-amazon-apigateway-any-method' ? 'ANY' : OPENAPI_METHODS.includes(key) ? key.toUpperCase() : undefined;
      if (!method || !isObject(operation)) continue;
      const where = `${method} ${path}`;
      const integration = operation['x-amazon-apigateway-integration'];
      if (!isObject(integration)) {
        warnings.push(`${where}: skipped, no x-amazon-apigateway-integration`);
        continue;
      }
      const parameters = [...pathParameters, ...(Array.isArray(operation.parameters) ? operation.parameters : [])].map((p) => resolveRef(spec, p));
      const converted = convertMethod(path, method, parameters, integration, where, warnings, options);
      if (converted) (resources[path] ??= {})[method] = converted;
    }
  }
  const info = isObject(spec.info) ? spec.info : {};
  return {
    ...(typeof info.title === 'string' ? { title: info.title } : {}),
    ...(typeof info.description === 'string' ? { description: info.description } : {}),
    ...(info.version !== undefined ? { version: String(info.version) } : {}),
    resources,
    warnings,
  };
}

function convertMethod(path: string, method: string, parameters: unknown[], integration: Json, where: string, warnings: string[], options: ImportOptions): Record<string, unknown> | undefined {
  const requestParameters = new Set<string>();
  for (const name of pathParameterNames(path)) requestParameters.add(`method.request.path.${name}`);
  for (const parameter of parameters) {
    if (!isObject(parameter) || typeof parameter.name !== 'string') continue;
    const location = LOCATIONS[String(parameter.in)];
    if (location) requestParameters.add(`method.request.${location}.${parameter.name}`);
  }
  // integration.request.path.X ← method.request.path.Y: the backend URI names X, the caller sends Y.
  const renames = new Map<string, string>();
  if (isObject(integration.requestParameters)) {
    for (const [target, source] of Object.entries(integration.requestParameters)) {
      if (typeof source !== 'string' || !REQUEST_PARAMETER.test(source)) continue;
      requestParameters.add(source);
      const targetPath = /^integration\.request\.path\.(.+)$/.exec(target)?.[1];
      const sourcePath = /^method\.request\.path\.(.+)$/.exec(source)?.[1];
      if (targetPath && sourcePath && targetPath !== sourcePath) renames.set(targetPath, sourcePath);
    }
  }
  const cacheKeyParameters: string[] = [];
  for (const parameter of Array.isArray(integration.cacheKeyParameters) ? integration.cacheKeyParameters : []) {
    if (typeof parameter === 'string' && REQUEST_PARAMETER.test(parameter)) cacheKeyParameters.push(parameter);
    else warnings.push(`${where}: cache key parameter ${JSON.stringify(parameter)} ignored (expected method.request.{path|querystring|header}.NAME)`);
  }
  for (const parameter of cacheKeyParameters) requestParameters.add(parameter);

  const type = String(integration.type ?? '').toLowerCase();
  let converted: Record<string, unknown>;
  if (type === 'http_proxy' || type === 'http') {
    if (type === 'http') warnings.push(`${where}: integration type http imported as HTTP_PROXY (mapping templates are not supported)`);
    if (typeof integration.uri !== 'string' || !/^https?:\/\//i.test(integration.uri)) {
      warnings.push(`${where}: skipped, integration uri must be an http:// or https:// URL`);
      return undefined;
    }
    const uri = integration.uri.replace(/\{([A-Za-z0-9._-]+)(\+?)\}/g, (whole, name: string, plus: string) => (renames.has(name) ? `{${renames.get(name)}${plus}}` : whole));
    const httpMethod = typeof integration.httpMethod === 'string' ? integration.httpMethod.toUpperCase() : undefined;
    converted = {
      type: 'HTTP_PROXY',
      uri,
      ...(type === 'http' ? { awsType: 'HTTP' } : {}),
      // AWS `ANY` passes the caller's method, which is cachegate's default.
      ...(httpMethod && httpMethod !== 'ANY' ? { httpMethod } : {}),
      ...(integration.timeoutInMillis !== undefined ? { timeoutMs: Number(integration.timeoutInMillis) } : {}),
    };
  } else if (type === 'mock') {
    converted = mockIntegration(integration);
  } else if (type === 'aws_proxy') {
    // The Lambda function's name picks a handler from gateway.functions; a document never names a file.
    const uri = String(integration.uri ?? '');
    const name = /(?:^|:)function:([A-Za-z0-9_-]{1,64})(?::[^/]*)?(?:\/invocations)?$/.exec(uri)?.[1];
    const handler = name !== undefined && options.functions && Object.hasOwn(options.functions, name) ? options.functions[name] : undefined;
    if (handler === undefined) {
      warnings.push(`${where}: skipped, aws_proxy function ${JSON.stringify(name ?? uri)} is not in gateway.functions`);
      return undefined;
    }
    converted = { type: 'FUNCTION', handler, awsUri: uri, ...(integration.timeoutInMillis !== undefined ? { timeoutMs: Number(integration.timeoutInMillis) } : {}) };
  } else {
    warnings.push(`${where}: skipped, integration type ${JSON.stringify(integration.type)} is not supported (http_proxy, http, mock, aws_proxy)`);
    return undefined;
  }
  return {
    requestParameters: [...requestParameters],
    cacheKeyParameters,
    ...(typeof integration.cacheNamespace === 'string' && integration.cacheNamespace !== '' ? { cacheNamespace: integration.cacheNamespace } : {}),
    integration: converted,
  };
}

/** AWS mock: the `default` response (else the first) gives status, static headers and body template. */
function mockIntegration(integration: Json): Record<string, unknown> {
  const responses = isObject(integration.responses) ? integration.responses : {};
  const chosen = responses.default ?? Object.values(responses)[0];
  const response = isObject(chosen) ? chosen : {};
  const headers: Record<string, string> = {};
  if (isObject(response.responseParameters)) {
    for (const [target, source] of Object.entries(response.responseParameters)) {
      const header = /^method\.response\.header\.(.+)$/.exec(target)?.[1];
      // Only static values ('text' in single quotes) have a meaning without a request.
      const literal = typeof source === 'string' ? /^'(.*)'$/s.exec(source)?.[1] : undefined;
      if (header && literal !== undefined) headers[header.toLowerCase()] = literal;
    }
  }
  let body = '';
  if (isObject(response.responseTemplates)) {
    const [contentType, template] = Object.entries(response.responseTemplates)[0] ?? [];
    if (typeof template === 'string') body = template;
    if (contentType && !headers['content-type']) headers['content-type'] = contentType;
  }
  const status = Number(response.statusCode ?? 200);
  return { type: 'MOCK', statusCode: Number.isInteger(status) ? status : 200, headers, body };
}

/** Local `$ref`s (`#/components/parameters/x`, `#/parameters/x`). */
function resolveRef(spec: Json, value: unknown, depth = 0): unknown {
  if (!isObject(value) || typeof value.$ref !== 'string' || depth > 10 || !value.$ref.startsWith('#/')) return value;
  let target: unknown = spec;
  for (const part of value.$ref.slice(2).split('/')) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    target = isObject(target) ? target[key] : undefined;
  }
  return resolveRef(spec, target, depth + 1);
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Inline resources win over imported ones, method by method. */
export function mergeResources(imported: Record<string, Record<string, unknown>>, inline: unknown): Record<string, unknown> {
  const merged: Record<string, Record<string, unknown>> = structuredClone(imported);
  if (isObject(inline)) {
    for (const [path, methods] of Object.entries(inline)) {
      merged[path] = isObject(methods) ? { ...(merged[path] ?? {}), ...methods } : (methods as Record<string, unknown>);
    }
  }
  return merged;
}
