/**
 * cachegate definitions → AWS API Gateway JSON shapes (RestApi, Stage, Resource, Deployment), as
 * `@aws-sdk/client-api-gateway` reads them: timestamps are epoch seconds as numbers, lists use
 * the wire key `item`, methodSettings use AWS keys (`*\/*`, `pets/{petId}/GET`) and field names.
 */
import { createHash } from 'node:crypto';
import type { ApiConfig, MethodConfig, MethodSettingInput, RouteMethod, StageConfig } from '../../config/schema.js';
import { REQUEST_PARAMETER } from '../../config/schema.js';
import { pathParameterNames } from '../../config/naming.js';
import type { ApiMetadata, StageMetadata } from './metadata.js';
import { inputFromConfig, responsesFromConfig } from './integration-input.js';

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
    tags: { ...(api.tags ?? {}) },
  };
}

export function stageShape(stageName: string, stage: StageConfig, meta: StageMetadata): Record<string, unknown> {
  return {
    stageName,
    ...(stage.deploymentId !== undefined ? { deploymentId: stage.deploymentId } : {}),
    ...(stage.description !== undefined ? { description: stage.description } : {}),
    cacheClusterEnabled: stage.cacheClusterEnabled,
    cacheClusterSize: stage.cacheClusterSize,
    // Cache changes take effect at once here, so the *_IN_PROGRESS states are never observed.
    cacheClusterStatus: stage.cacheClusterEnabled ? 'AVAILABLE' : 'NOT_AVAILABLE',
    methodSettings: methodSettingsShape(stage),
    variables: { ...stage.variables },
    tracingEnabled: stage.tracingEnabled ?? false,
    tags: { ...(stage.tags ?? {}) },
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

export function deploymentShape(id: string, record: { createdDate: number; description?: string }): Record<string, unknown> {
  return { id, ...(record.description !== undefined ? { description: record.description } : {}), createdDate: record.createdDate };
}

/** A stable resource id derived from the API and path, so ids survive restarts and reloads. */
export function resourceId(apiId: string, path: string): string {
  return createHash('sha256').update(`${apiId}\u0000${path}`).digest('hex').slice(0, 10);
}

/**
 * The resource tree as AWS lists it: `/` and every path prefix of a configured resource, each
 * with its parent; methods embedded when asked (`embed=methods`).
 */
export function resourceShapes(api: ApiConfig, embedMethods: boolean, region = 'us-east-1'): Record<string, unknown>[] {
  return resourcePathsOf(api.resources).map((path) => resourceShape(api, path, embedMethods, region));
}

export function resourceShape(api: ApiConfig, path: string, embedMethods: boolean, region = 'us-east-1'): Record<string, unknown> {
  const parent = path === '/' ? undefined : path.slice(0, path.lastIndexOf('/')) || '/';
  const methods = (Object.hasOwn(api.resources, path) ? api.resources[path] : {}) as Partial<Record<RouteMethod, MethodConfig>>;
  const resourceMethods = Object.fromEntries(
    Object.entries(methods)
      .filter((entry): entry is [RouteMethod, MethodConfig] => entry[1] !== undefined)
      .map(([method, definition]) => [method, embedMethods ? methodShape(path, method, definition, region) : {}]),
  );
  return {
    id: resourceId(api.id, path),
    ...(parent !== undefined ? { parentId: resourceId(api.id, parent), pathPart: path.slice(path.lastIndexOf('/') + 1) } : {}),
    path,
    ...(Object.keys(resourceMethods).length ? { resourceMethods } : {}),
  };
}

function resourcePathsOf(resources: Readonly<Record<string, unknown>>): string[] {
  const paths = new Set<string>(['/']);
  for (const path of Object.keys(resources)) {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) paths.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...paths].sort();
}

/** AWS Method: `requestParameters` as name → required, the integration and method responses embedded. */
export function methodShape(path: string, method: RouteMethod, definition: MethodConfig, region = 'us-east-1'): Record<string, unknown> {
  const requestParameters: Record<string, boolean> = {};
  for (const name of pathParameterNames(path)) requestParameters[`method.request.path.${name}`] = true;
  for (const parameter of definition.requestParameters) requestParameters[parameter] ??= false;
  for (const parameter of definition.cacheKeyParameters) if (REQUEST_PARAMETER.exec(parameter)?.[1]) requestParameters[parameter] ??= false;
  const methodResponses = methodResponsesOf(definition);
  const integration = integrationShape(definition, region);
  return {
    httpMethod: method,
    authorizationType: definition.authorizationType ?? 'NONE',
    apiKeyRequired: definition.apiKeyRequired ?? false,
    ...(definition.operationName !== undefined ? { operationName: definition.operationName } : {}),
    requestParameters,
    ...(Object.keys(methodResponses).length ? { methodResponses } : {}),
    ...(integration ? { methodIntegration: integration } : {}),
  };
}

export function methodResponsesOf(definition: MethodConfig): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(definition.methodResponses ?? {}).map(([statusCode, response]) => [statusCode, methodResponseShape(statusCode, response)]));
}

export function methodResponseShape(statusCode: string, response: Record<string, unknown>): Record<string, unknown> {
  return { statusCode, ...response };
}

export function integrationResponseShape(statusCode: string, response: Record<string, unknown>): Record<string, unknown> {
  return { statusCode, ...response };
}

/** AWS Integration: the input it was created with (or the one a config-file integration implies), plus its responses. */
export function integrationShape(definition: MethodConfig, region = 'us-east-1'): Record<string, unknown> | undefined {
  const input = (definition.awsIntegration as Record<string, unknown> | undefined) ?? inputFromConfig(definition as never, region);
  if (!input) return undefined;
  const responses = definition.integrationResponses ?? (definition.awsIntegration ? {} : responsesFromConfig(definition.integration as never));
  const integrationResponses = Object.fromEntries(Object.entries(responses).map(([statusCode, response]) => [statusCode, integrationResponseShape(statusCode, response)]));
  return {
    passthroughBehavior: 'WHEN_NO_MATCH',
    timeoutInMillis: 29_000,
    cacheKeyParameters: [],
    ...input,
    ...(Object.keys(integrationResponses).length ? { integrationResponses } : {}),
  };
}

function pickDefined(source: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => source[field] !== undefined).map((field) => [field, source[field]]));
}
