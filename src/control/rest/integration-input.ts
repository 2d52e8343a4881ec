/**
 * An AWS Integration (PutIntegration's input, as the SDK, the CLI and Terraform send it) ↔ the
 * integration cachegate serves. The AWS input is kept on the method (`awsIntegration`) and
 * reported back as given; the served integration is derived from it every time it or an
 * integration response changes, so UpdateIntegration is "patch the input, derive again".
 *
 * - HTTP_PROXY → HTTP_PROXY. HTTP (non-proxy) → served as a pass-through (mapping templates are
 *   not run; stated in the README).
 * - MOCK → MOCK: the status from the request template `{"statusCode": N}`, then the integration
 *   response whose selectionPattern matches N (else the default one) gives status, static headers
 *   (`'literal'` response parameters) and body (its first response template).
 * - AWS_PROXY → FUNCTION: the Lambda function *name* in the URI is looked up in
 *   `gateway.functions`; a request can never name a file (that would let an admin caller load
 *   any module on the host).
 */
import { GatewayError } from '../../errors.js';
import { HTTP_METHODS, REQUEST_PARAMETER } from '../../config/schema.js';
import { pathParameterNames } from '../../config/naming.js';

type Json = Record<string, unknown>;

export interface DerivedIntegration {
  readonly integration: Json;
  readonly cacheKeyParameters: string[];
  readonly cacheNamespace: string | undefined;
  /** method.request.* names the integration reads (added to the method's requestParameters). */
  readonly reads: string[];
}

export interface IntegrationContext {
  readonly resourcePath: string;
  readonly functions: Readonly<Record<string, string>>;
  readonly integrationResponses: Readonly<Record<string, Json>>;
}

const TYPES = ['HTTP_PROXY', 'HTTP', 'MOCK', 'AWS_PROXY'] as const;

/** PutIntegration's body → the stored AWS input (only the members AWS defines, checked). */
export function readIntegrationInput(body: Json): Json {
  const type = body.type;
  if (typeof type !== 'string' || !(TYPES as readonly string[]).includes(type)) {
    throw new GatewayError('INVALID_INPUT', `Invalid integration type ${JSON.stringify(type)}: cachegate serves ${TYPES.join(', ')}`);
  }
  const input: Json = { type };
  for (const field of ['httpMethod', 'uri', 'connectionType', 'passthroughBehavior', 'cacheNamespace', 'contentHandling', 'credentials', 'connectionId'] as const) {
    if (body[field] === undefined || body[field] === null) continue;
    if (typeof body[field] !== 'string') throw new GatewayError('INVALID_INPUT', `${field} must be a string`);
    input[field] = body[field];
  }
  for (const field of ['requestParameters', 'requestTemplates'] as const) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((item) => typeof item !== 'string')) {
      throw new GatewayError('INVALID_INPUT', `${field} must be a map of strings`);
    }
    input[field] = value;
  }
  if (body.cacheKeyParameters !== undefined && body.cacheKeyParameters !== null) {
    if (!Array.isArray(body.cacheKeyParameters) || body.cacheKeyParameters.some((item) => typeof item !== 'string')) {
      throw new GatewayError('INVALID_INPUT', 'cacheKeyParameters must be a list of strings');
    }
    input.cacheKeyParameters = body.cacheKeyParameters;
  }
  if (body.timeoutInMillis !== undefined && body.timeoutInMillis !== null) {
    const timeout = Number(body.timeoutInMillis);
    // AWS: 50 ms .. 29 s by default (cachegate allows up to 300 s for self-hosted backends).
    if (!Number.isInteger(timeout) || timeout < 50 || timeout > 300_000) throw new GatewayError('INVALID_INPUT', 'timeoutInMillis must be an integer 50..300000');
    input.timeoutInMillis = timeout;
  }
  return input;
}

export function deriveIntegration(input: Json, context: IntegrationContext): DerivedIntegration {
  const reads = new Set<string>();
  const renames = new Map<string, string>();
  for (const [target, source] of Object.entries((input.requestParameters ?? {}) as Record<string, string>)) {
    if (REQUEST_PARAMETER.test(source)) reads.add(source);
    const targetPath = /^integration\.request\.path\.(.+)$/.exec(target)?.[1];
    const sourcePath = /^method\.request\.path\.(.+)$/.exec(source)?.[1];
    if (targetPath && sourcePath && targetPath !== sourcePath) renames.set(targetPath, sourcePath);
  }
  const cacheKeyParameters = ((input.cacheKeyParameters ?? []) as string[]).map((parameter) => {
    if (!REQUEST_PARAMETER.test(parameter)) throw new GatewayError('INVALID_INPUT', `Invalid cache key parameter ${parameter}: expected method.request.{path|querystring|header}.NAME`);
    reads.add(parameter);
    return parameter;
  });
  const timeoutMs = typeof input.timeoutInMillis === 'number' ? input.timeoutInMillis : 29_000;
  const cacheNamespace = typeof input.cacheNamespace === 'string' && input.cacheNamespace !== '' ? input.cacheNamespace : undefined;
  let integration: Json;
  switch (input.type) {
    case 'HTTP_PROXY':
    case 'HTTP': {
      const uri = String(input.uri ?? '');
      if (!/^https?:\/\//i.test(uri)) throw new GatewayError('INVALID_INPUT', 'Invalid HTTP endpoint specified for URI');
      const httpMethod = String(input.httpMethod ?? '').toUpperCase();
      if (!httpMethod) throw new GatewayError('INVALID_INPUT', 'Enumeration value for HttpMethod must be non-empty');
      if (httpMethod !== 'ANY' && !(HTTP_METHODS as readonly string[]).includes(httpMethod)) throw new GatewayError('INVALID_INPUT', `Invalid integration HTTP method ${httpMethod}`);
      const served = uri.replace(/\{([A-Za-z0-9._-]+)(\+?)\}/g, (whole, name: string, plus: string) => (renames.has(name) ? `{${renames.get(name)}${plus}}` : whole));
      for (const [, name] of served.matchAll(/(?<!\$)\{([^}+]+)\+?\}/g)) {
        if (!pathParameterNames(context.resourcePath).includes(name!)) throw new GatewayError('INVALID_INPUT', `Invalid mapping expression: {${name}} is not a path parameter of ${context.resourcePath}`);
      }
      integration = { type: 'HTTP_PROXY', uri: served, ...(httpMethod !== 'ANY' ? { httpMethod } : {}), timeoutMs, ...(input.type === 'HTTP' ? { awsType: 'HTTP' } : {}) };
      break;
    }
    case 'MOCK':
      integration = mockOf(input, context.integrationResponses);
      break;
    case 'AWS_PROXY': {
      const uri = String(input.uri ?? '');
      const name = /(?:^|:)function:([A-Za-z0-9_-]{1,64})(?::[^/]*)?(?:\/invocations)?$/.exec(uri)?.[1];
      const handler = name === undefined ? undefined : Object.hasOwn(context.functions, name) ? context.functions[name] : undefined;
      if (handler === undefined) {
        throw new GatewayError('INVALID_INPUT', `Invalid Lambda function in ${JSON.stringify(uri)}: AWS_PROXY runs a function named in gateway.functions (${Object.keys(context.functions).join(', ') || 'none configured'})`);
      }
      integration = { type: 'FUNCTION', handler, timeoutMs, awsUri: uri };
      break;
    }
    default:
      throw new GatewayError('INVALID_INPUT', `Invalid integration type ${String(input.type)}`);
  }
  return { integration, cacheKeyParameters, cacheNamespace, reads: [...reads] };
}

function mockOf(input: Json, responses: Readonly<Record<string, Json>>): Json {
  const template = ((input.requestTemplates ?? {}) as Record<string, string>)['application/json'] ?? '';
  const requested = /"statusCode"\s*:\s*(\d{3})/.exec(template)?.[1] ?? '200';
  const candidates = Object.entries(responses);
  const matching = candidates.find(([, response]) => typeof response.selectionPattern === 'string' && response.selectionPattern !== '' && fullMatch(response.selectionPattern, requested));
  const chosen = matching ?? candidates.find(([, response]) => !response.selectionPattern);
  if (!chosen) return { type: 'MOCK', statusCode: Number(requested), headers: {}, body: '' };
  const [statusCode, response] = chosen;
  const headers: Record<string, string> = {};
  for (const [target, source] of Object.entries((response.responseParameters ?? {}) as Record<string, string>)) {
    const header = /^method\.response\.header\.(.+)$/.exec(target)?.[1];
    // Only static values ('text' in single quotes) mean something without a backend.
    const literal = /^'(.*)'$/s.exec(source)?.[1];
    if (header && literal !== undefined) headers[header.toLowerCase()] = literal;
  }
  const [contentType, body] = Object.entries((response.responseTemplates ?? {}) as Record<string, string>)[0] ?? [];
  if (contentType && !headers['content-type']) headers['content-type'] = contentType;
  return { type: 'MOCK', statusCode: Number(statusCode), headers, body: body ?? '' };
}

/** AWS selection patterns are Java regular expressions matched against the whole status; a bad one matches nothing. */
function fullMatch(pattern: string, text: string): boolean {
  if (pattern.length > 256) return false;
  try {
    return new RegExp(`^(?:${pattern})$`).test(text);
  } catch {
    return false;
  }
}

/** The AWS input of a method that never went through PutIntegration (config file, OpenAPI import). */
export function inputFromConfig(definition: { integration?: Json; cacheKeyParameters?: readonly string[]; cacheNamespace?: string }, region: string): Json | undefined {
  const integration = definition.integration;
  if (!integration) return undefined;
  const common: Json = {
    ...(definition.cacheKeyParameters?.length ? { cacheKeyParameters: [...definition.cacheKeyParameters] } : { cacheKeyParameters: [] }),
    ...((definition.cacheNamespace ?? integration.cacheNamespace) !== undefined ? { cacheNamespace: definition.cacheNamespace ?? integration.cacheNamespace } : {}),
    passthroughBehavior: 'WHEN_NO_MATCH',
  };
  switch (integration.type) {
    case 'HTTP_PROXY':
      return { type: integration.awsType ?? 'HTTP_PROXY', httpMethod: integration.httpMethod ?? 'ANY', uri: integration.uri, connectionType: 'INTERNET', timeoutInMillis: integration.timeoutMs, ...common };
    case 'MOCK':
      return { type: 'MOCK', requestTemplates: { 'application/json': `{"statusCode": ${String(integration.statusCode)}}` }, timeoutInMillis: 29_000, ...common };
    case 'FUNCTION':
      return {
        type: 'AWS_PROXY', httpMethod: 'POST',
        uri: integration.awsUri ?? `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/cachegate:function:${String(integration.handler)}/invocations`,
        timeoutInMillis: integration.timeoutMs, ...common,
      };
    default:
      return undefined;
  }
}

/** Integration responses a config-file MOCK implies (its one fixed answer), for GetIntegration. */
export function responsesFromConfig(integration: Json | undefined): Record<string, Json> {
  if (integration?.type !== 'MOCK') return {};
  const headers = (integration.headers ?? {}) as Record<string, string>;
  const contentType = headers['content-type'] ?? 'application/json';
  const responseParameters = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'content-type').map(([name, value]) => [`method.response.header.${name}`, `'${value}'`]));
  return {
    [String(integration.statusCode)]: {
      ...(Object.keys(responseParameters).length ? { responseParameters } : {}),
      responseTemplates: { [contentType]: String(integration.body ?? '') },
    },
  };
}
