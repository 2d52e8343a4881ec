/**
 * UpdateStage patch operations (AWS's JSON-patch dialect) applied to a stage definition. Pure:
 * takes a mutable copy, throws BadRequestException with AWS-style messages on a bad path or value.
 *
 * Paths: `/cacheClusterEnabled`, `/cacheClusterSize`, `/description`, `/deploymentId`,
 * `/variables/{name}`, `/{resourcePath}/{httpMethod}/caching/{setting}`,
 * `/{resourcePath}/{httpMethod}/metrics/enabled`, where the resource path is escaped as in JSON
 * pointer (`~1` for `/`, `~0` for `~`) and `/*\/*` means every method.
 */
import { CACHE_CLUSTER_SIZES, MAX_AWS_TTL_SECONDS, ROUTE_METHODS, UNAUTHORIZED_STRATEGIES } from '../../config/schema.js';
import type { MethodSettingInput, RouteMethod, StageConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors.js';
import { checkVariableName, checkVariables } from './model.js';

export interface PatchOperation {
  op: string;
  path: string;
  value?: string;
  from?: string;
}

export interface PatchContext {
  /** Resource path → declared methods, to check method-setting keys. */
  readonly resources: Readonly<Record<string, Readonly<Partial<Record<RouteMethod, unknown>>>>>;
  /** Deployment ids a stage may point at. */
  readonly deploymentIds: ReadonlySet<string>;
}

export interface PatchOutcome {
  /** Set when `/deploymentId` was replaced. */
  deploymentId?: string;
}

type Stage = { -readonly [K in keyof StageConfig]: StageConfig[K] };

const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;
const SUPPORTED_PATHS = [
  '/cacheClusterEnabled', '/cacheClusterSize', '/description', '/deploymentId', '/tracingEnabled', '/variables/{name}',
  '/{resourcePath}/{httpMethod}/caching/{enabled|ttlInSeconds|dataEncrypted|requireAuthorizationForCacheControl|unauthorizedCacheControlHeaderStrategy}',
  '/{resourcePath}/{httpMethod}/metrics/enabled',
  '/{resourcePath}/{httpMethod}/logging/{loglevel|dataTrace}',
  '/{resourcePath}/{httpMethod}/throttling/{burstLimit|rateLimit}',
];

/** `/{key}/{category}/{name}` → the MethodSetting field it sets and how its string value converts. */
const METHOD_SETTING_PATHS: Record<string, { field: keyof MethodSettingInput; convert: (value: string, path: string) => unknown }> = {
  'caching/enabled': { field: 'cachingEnabled', convert: toBoolean },
  'caching/ttlInSeconds': { field: 'cacheTtlInSeconds', convert: toTtl },
  'caching/dataEncrypted': { field: 'cacheDataEncrypted', convert: toBoolean },
  'caching/requireAuthorizationForCacheControl': { field: 'requireAuthorizationForCacheControl', convert: toBoolean },
  'caching/unauthorizedCacheControlHeaderStrategy': { field: 'unauthorizedCacheControlHeaderStrategy', convert: toStrategy },
  'metrics/enabled': { field: 'metricsEnabled', convert: toBoolean },
  // Stored and reported, not enforced (README: control-plane decisions).
  'logging/loglevel': { field: 'loggingLevel', convert: toLogLevel },
  'logging/dataTrace': { field: 'dataTraceEnabled', convert: toBoolean },
  'throttling/burstLimit': { field: 'throttlingBurstLimit', convert: toBurstLimit },
  'throttling/rateLimit': { field: 'throttlingRateLimit', convert: toRateLimit },
};

/**
 * Operations per Update* request. Each one costs a copy or a lookup; thousands in one body (a few
 * hundred KB) took minutes of event-loop time before this bound.
 */
export const MAX_PATCH_OPERATIONS = 500;

/** Validates the request's `patchOperations` member into a list. */
export function readPatchOperations(body: Record<string, unknown>): PatchOperation[] {
  const operations = body.patchOperations ?? [];
  if (!Array.isArray(operations)) throw new GatewayError('INVALID_INPUT', 'patchOperations must be a list');
  if (operations.length > MAX_PATCH_OPERATIONS) throw new GatewayError('INVALID_INPUT', `At most ${MAX_PATCH_OPERATIONS} patch operations per request`);
  return operations.map((operation: unknown) => {
    const candidate = operation as Record<string, unknown> | null;
    if (!candidate || typeof candidate !== 'object' || typeof candidate.op !== 'string' || typeof candidate.path !== 'string') {
      throw new GatewayError('INVALID_INPUT', 'Each patch operation needs a string op and path');
    }
    if (candidate.value !== undefined && candidate.value !== null && typeof candidate.value !== 'string') {
      throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${candidate.path}: values are strings`);
    }
    return { op: candidate.op, path: candidate.path, ...(typeof candidate.value === 'string' ? { value: candidate.value } : {}) };
  });
}

/** Applies every operation in order to `stage` (mutated); all or nothing is up to the caller's copy. */
export function applyStagePatch(stage: Stage, operations: readonly PatchOperation[], context: PatchContext): PatchOutcome {
  const outcome: PatchOutcome = {};
  // Copied once, then edited in place: a copy per operation made a long list quadratic (or worse).
  stage.variables = { ...stage.variables };
  stage.methodSettings = { ...stage.methodSettings };
  for (const operation of operations) applyOne(stage, operation, context, outcome);
  stage.variables = checkVariables(stage.variables);
  return outcome;
}

function applyOne(stage: Stage, operation: PatchOperation, context: PatchContext, outcome: PatchOutcome): void {
  const { op, path } = operation;
  if (!(OPS as readonly string[]).includes(op)) {
    throw new GatewayError('INVALID_INPUT', `Invalid patch operation specified: ${op}. Must be one of: [${OPS.join(', ')}]`);
  }
  const invalidPath = () =>
    new GatewayError('INVALID_INPUT', `Invalid patch path ${path} specified for op '${op}'. Must be one of: [${SUPPORTED_PATHS.join(', ')}]`);
  const value = () => {
    if (operation.value === undefined) throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: a value is required for op '${op}'`);
    return operation.value;
  };

  switch (path) {
    case '/cacheClusterEnabled':
      if (op !== 'replace') throw invalidPath();
      stage.cacheClusterEnabled = toBoolean(value(), path);
      return;
    case '/cacheClusterSize': {
      if (op !== 'replace') throw invalidPath();
      const size = value();
      if (!(CACHE_CLUSTER_SIZES as readonly string[]).includes(size)) {
        throw new GatewayError('INVALID_INPUT', `Invalid cache cluster size specified: ${size}. Must be one of: [${CACHE_CLUSTER_SIZES.join(', ')}]`);
      }
      stage.cacheClusterSize = size as StageConfig['cacheClusterSize'];
      return;
    }
    case '/description':
      if (op === 'remove') delete stage.description;
      else if (op === 'replace' || op === 'add') stage.description = value();
      else throw invalidPath();
      return;
    case '/tracingEnabled':
      if (op !== 'replace') throw invalidPath();
      stage.tracingEnabled = toBoolean(value(), path);
      return;
    case '/deploymentId': {
      if (op !== 'replace') throw invalidPath();
      const id = value();
      if (!context.deploymentIds.has(id)) throw new GatewayError('INVALID_INPUT', `Invalid deployment identifier specified: ${id}`);
      outcome.deploymentId = id;
      return;
    }
  }

  if (path.startsWith('/variables/')) {
    const name = path.slice('/variables/'.length);
    checkVariableName(name);
    const variables = stage.variables as Record<string, string>; // applyStagePatch's own copy
    if (op === 'remove') delete variables[name];
    else if (op === 'add' || op === 'replace') variables[name] = value();
    else throw invalidPath();
    return;
  }

  // `/{resource}/{METHOD}/{category}/{name}`, the resource escaped (`~1pets~1{petId}`, SPEC §8)
  // or not (`pets/{petId}`, as Terraform's aws_api_gateway_method_settings sends it); `remove` of
  // `/{resource}/{METHOD}` drops the whole method setting.
  const segments = path.split('/').slice(1);
  const target = segments.length >= 4 ? METHOD_SETTING_PATHS[`${segments.at(-2)}/${segments.at(-1)}`] : undefined;
  const rest = target ? segments.slice(0, -2) : segments;
  if (path[0] !== '/' || rest.length < 2 || rest.some((segment) => segment === '') || (!target && op !== 'remove')) throw invalidPath();
  const key = methodSettingsKeyOf(rest.slice(0, -1), rest.at(-1)!, path, context);
  if (!target) {
    if (op !== 'remove') throw invalidPath();
    // AWS answers BadRequest for removing a method setting that does not exist.
    if (!Object.hasOwn(stage.methodSettings, key)) throw new GatewayError('INVALID_INPUT', `Cannot remove method setting ${key} because there is no method setting for this method`);
    delete (stage.methodSettings as Record<string, MethodSettingInput>)[key]; // applyStagePatch's own copy
    return;
  }
  if (op !== 'replace' && op !== 'add' && op !== 'remove') throw invalidPath();
  const setting: Record<string, unknown> = { ...(stage.methodSettings[key] ?? {}) };
  if (op === 'remove') delete setting[target.field];
  else setting[target.field] = target.convert(value(), path);
  (stage.methodSettings as Record<string, MethodSettingInput>)[key] = setting as MethodSettingInput;
}

/** `*` + `*` → `*\/*`; `~1pets~1{petId}` + `GET` → `pets/{petId}/GET` (AWS methodSettings keys). */
function methodSettingsKeyOf(resourceSegments: readonly string[], method: string, path: string, context: PatchContext): string {
  if (resourceSegments.length === 1 && resourceSegments[0] === '*' && method === '*') return '*/*';
  const resourcePath = resourceSegments.length === 1 && resourceSegments[0]!.startsWith('~1')
    ? resourceSegments[0]!.replaceAll('~1', '/').replaceAll('~0', '~')
    : `/${resourceSegments.join('/')}`;
  if (!resourcePath.startsWith('/') || !(ROUTE_METHODS as readonly string[]).includes(method)) {
    throw new GatewayError('INVALID_INPUT', `Invalid method setting path ${path}: expected /*/*/…, /{resource path with ~1 for /}/{HTTP method}/… or /{resource path}/{HTTP method}/…`);
  }
  const methods = Object.hasOwn(context.resources, resourcePath) ? context.resources[resourcePath] : undefined;
  if (!methods || !(method in methods || 'ANY' in methods)) {
    throw new GatewayError('INVALID_INPUT', `Invalid method setting path ${path}: no method ${method} on resource ${resourcePath}`);
  }
  return `${resourcePath.slice(1)}/${method}`;
}

function toBoolean(value: string, path: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: expected true or false, got ${JSON.stringify(value)}`);
}

function toLogLevel(value: string, path: string): 'OFF' | 'ERROR' | 'INFO' {
  if (value === 'OFF' || value === 'ERROR' || value === 'INFO') return value;
  throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: expected OFF, ERROR or INFO, got ${JSON.stringify(value)}`);
}

function toBurstLimit(value: string, path: string): number {
  if (/^-?\d{1,10}$/.test(value) && Number(value) >= -1) return Number(value);
  throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: expected an integer -1 or more, got ${JSON.stringify(value)}`);
}

function toRateLimit(value: string, path: string): number {
  const rate = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (rate >= -1) return rate;
  throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: expected a number -1 or more, got ${JSON.stringify(value)}`);
}

function toTtl(value: string, path: string): number {
  const ttl = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  // AWS: TTL 0..3600 seconds; 0 disables caching.
  if (!(ttl >= 0 && ttl <= MAX_AWS_TTL_SECONDS)) {
    throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: cache TTL must be an integer 0..${MAX_AWS_TTL_SECONDS}, got ${JSON.stringify(value)}`);
  }
  return ttl;
}

function toStrategy(value: string, path: string): string {
  if (!(UNAUTHORIZED_STRATEGIES as readonly string[]).includes(value)) {
    throw new GatewayError('INVALID_INPUT', `Invalid patch value for ${path}: must be one of [${UNAUTHORIZED_STRATEGIES.join(', ')}], got ${JSON.stringify(value)}`);
  }
  return value;
}
