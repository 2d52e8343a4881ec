/**
 * cachegate definitions → AWS API Gateway JSON shapes (RestApi, Stage, Resource, Deployment), as
 * `@aws-sdk/client-api-gateway` reads them: timestamps are epoch seconds as numbers, lists use
 * the wire key `item`, methodSettings use AWS keys (`*\/*`, `pets/{petId}/GET`) and field names.
 */
import { createHash } from 'node:crypto';
import type { ApiConfig, MethodConfig, MethodSettingInput, RouteMethod, StageConfig } from '../../config/schema.js';
import { REQUEST_PARAMETER } from '../../config/schema.js';
import { pathParameterNames } from '../../config/naming.js';
import type { ApiMetadata, DeploymentRecord, StageMetadata } from './metadata.js';

// AWS defaults of a method setting (and cachegate's, SPEC §5).
const DEFAULT_TTL_SECONDS = 300;

export function restApiShape(api: ApiConfig, meta: ApiMetadata): Record<string, unknown> {
  return {
    id: api.id,
    name: api.name ?? api.id,
    ...(api.description !== undefined ? { description: api.description } : {}),
    createdDate: meta.createdDate,
    ...(meta.version !== undefined ? { version: meta.version } : {}),
    ...(meta.warnings.length ? { warnings: meta.warnings } : {}),
    apiKeySource: 'HEADER',
    endpointConfiguration: { types: ['REGIONAL'] },
    disableExecuteApiEndpoint: false,
    rootResourceId: resourceId(api.id, '/'),
    tags: {},
  };
}

export function stageShape(stageName: string, stage: StageConfig, meta: StageMetadata): Record<string, unknown> {
  return {
    stageName,
    ...(meta.deploymentId !== undefined ? { deploymentId: meta.deploymentId } : {}),
    ...(stage.description !== undefined ? { description: stage.description } : {}),
    cacheClusterEnabled: stage.cacheClusterEnabled,
    cacheClusterSize: stage.cacheClusterSize,
    // Cache changes take effect at once here, so the *_IN_PROGRESS states are never observed.
    cacheClusterStatus: stage.cacheClusterEnabled ? 'AVAILABLE' : 'NOT_AVAILABLE',
    methodSettings: methodSettingsShape(stage),
    variables: { ...stage.variables },
    tracingEnabled: false,
    createdDate: meta.createdDate,
    lastUpdatedDate: meta.lastUpdatedDate,
  };
}

/**
 * Every configured key, each filled field by field: its own value, else `*\/*`'s, else the
 * default (caching follows the stage cache, as for GET on AWS).
 */
export function methodSettingsShape(stage: StageConfig): Record<string, Record<string, unknown>> {
  const stageWide = stage.methodSettings['*/*'] ?? {};
  const shapes: Record<string, Record<string, unknown>> = {};
  for (const [key, own] of Object.entries(stage.methodSettings)) {
    const pick = <K extends keyof MethodSettingInput>(field: K): MethodSettingInput[K] => (own[field] !== undefined ? own[field] : stageWide[field]);
    shapes[key] = {
      metricsEnabled: pick('metricsEnabled') ?? false,
      loggingLevel: pick('loggingLevel') ?? 'OFF',
      dataTraceEnabled: pick('dataTraceEnabled') ?? false,
      ...(pick('throttlingBurstLimit') !== undefined ? { throttlingBurstLimit: pick('throttlingBurstLimit') } : {}),
      ...(pick('throttlingRateLimit') !== undefined ? { throttlingRateLimit: pick('throttlingRateLimit') } : {}),
      cachingEnabled: pick('cachingEnabled') ?? stage.cacheClusterEnabled,
      cacheTtlInSeconds: pick('cacheTtlInSeconds') ?? DEFAULT_TTL_SECONDS,
      cacheDataEncrypted: pick('cacheDataEncrypted') ?? false,
      requireAuthorizationForCacheControl: pick('requireAuthorizationForCacheControl') ?? true,
      unauthorizedCacheControlHeaderStrategy: pick('unauthorizedCacheControlHeaderStrategy') ?? 'SUCCEED_WITH_RESPONSE_HEADER',
      // Beyond AWS (ignored by the SDK, shown to curl users).
      ...pickDefined(own, ['staleWhileRevalidateSeconds', 'staleIfErrorSeconds', 'cacheableStatusCodes', 'cacheResponsesWithSetCookie']),
    };
  }
  return shapes;
}

export function deploymentShape(record: DeploymentRecord): Record<string, unknown> {
  return { id: record.id, ...(record.description !== undefined ? { description: record.description } : {}), createdDate: record.createdDate };
}

/** A stable resource id derived from the API and path, so ids survive restarts and reloads. */
export function resourceId(apiId: string, path: string): string {
  return createHash('sha256').update(`${apiId}\u0000${path}`).digest('hex').slice(0, 10);
}

/**
 * The resource tree as AWS lists it: `/` and every path prefix of a configured resource, each
 * with its parent; methods embedded when asked (`embed=methods`).
 */
export function resourceShapes(api: ApiConfig, embedMethods: boolean): Record<string, unknown>[] {
  const paths = new Set<string>(['/']);
  for (const path of Object.keys(api.resources)) {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) paths.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...paths].sort().map((path) => {
    const parent = path === '/' ? undefined : path.slice(0, path.lastIndexOf('/')) || '/';
    const methods = (api.resources[path] ?? {}) as Partial<Record<RouteMethod, MethodConfig>>;
    const resourceMethods = Object.fromEntries(
      Object.entries(methods)
        .filter((entry): entry is [RouteMethod, MethodConfig] => entry[1] !== undefined)
        .map(([method, definition]) => [method, embedMethods ? methodShape(path, method, definition) : {}]),
    );
    return {
      id: resourceId(api.id, path),
      ...(parent !== undefined ? { parentId: resourceId(api.id, parent), pathPart: path.slice(path.lastIndexOf('/') + 1) } : {}),
      path,
      ...(Object.keys(resourceMethods).length ? { resourceMethods } : {}),
    };
  });
}

function methodShape(path: string, method: RouteMethod, definition: MethodConfig): Record<string, unknown> {
  const requestParameters: Record<string, boolean> = {};
  for (const name of pathParameterNames(path)) requestParameters[`method.request.path.${name}`] = true;
  for (const parameter of definition.requestParameters) requestParameters[parameter] ??= false;
  for (const parameter of definition.cacheKeyParameters) if (REQUEST_PARAMETER.exec(parameter)?.[1]) requestParameters[parameter] ??= false;
  return {
    httpMethod: method,
    authorizationType: 'NONE',
    apiKeyRequired: false,
    requestParameters,
    methodIntegration: integrationShape(definition),
  };
}

function integrationShape(definition: MethodConfig): Record<string, unknown> {
  const integration = definition.integration;
  const cacheNamespace = definition.cacheNamespace ?? integration.cacheNamespace;
  const common = {
    ...(cacheNamespace !== undefined ? { cacheNamespace } : {}),
    cacheKeyParameters: [...definition.cacheKeyParameters],
    passthroughBehavior: 'WHEN_NO_MATCH',
  };
  switch (integration.type) {
    case 'HTTP_PROXY':
      return { type: 'HTTP_PROXY', httpMethod: integration.httpMethod ?? 'ANY', uri: integration.uri, connectionType: 'INTERNET', timeoutInMillis: integration.timeoutMs, ...common };
    case 'MOCK':
      return {
        type: 'MOCK',
        requestTemplates: { 'application/json': `{"statusCode": ${integration.statusCode}}` },
        timeoutInMillis: 29_000,
        integrationResponses: {
          [String(integration.statusCode)]: { statusCode: String(integration.statusCode), responseTemplates: { [integration.headers['content-type'] ?? 'application/json']: integration.body } },
        },
        ...common,
      };
    case 'FUNCTION':
      // No AWS equivalent: shown as a Lambda proxy integration naming the local handler.
      return { type: 'AWS_PROXY', httpMethod: 'POST', uri: `cachegate:function:${integration.handler}`, timeoutInMillis: integration.timeoutMs, ...common };
  }
}

function pickDefined(source: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => source[field] !== undefined).map((field) => [field, source[field]]));
}
