/**
 * The AWS resource model over cachegate's API definitions: resource ids ↔ paths, the bounds an
 * outsider with control-plane rights cannot push past, and the rule that keeps deployments
 * snapshots (an edit never reaches a stage that serves the live resources).
 */
import { GatewayError } from '../../errors.js';
import type { RouteMethod } from '../../config/schema.js';
import { ROUTE_METHODS } from '../../config/schema.js';
import type { MutableApi } from './changes.js';
import { randomId } from './metadata.js';
import { resourceId } from './shapes.js';

/** AWS's default quota: 300 resources per API. */
export const MAX_RESOURCES_PER_API = 300;
/** Kept deployments per API; each holds a copy of the resources (delete unused ones to make room). */
export const MAX_DEPLOYMENTS_PER_API = 50;
/** AWS: at most 50 tags per resource, keys up to 128 characters, values up to 256. */
export const MAX_TAGS = 50;
/**
 * AWS's default quota: 10 stages per API. Each cache-enabled stage takes one of the memory store's
 * stage slots (4096, shared by every API and plug-in space); unbounded, one API's caller could
 * take them all and leave later stages of other APIs silently uncached.
 */
export const MAX_STAGES_PER_API = 10;
/** AWS: at most 100 stage variables per stage, names ≤64 characters, values ≤512. */
export const MAX_STAGE_VARIABLES = 100;
export const MAX_STAGE_VARIABLE_VALUE = 512;
/** Largest GetExport answer. */
export const MAX_EXPORT_BYTES = 8 * 1024 * 1024;

export type Methods = Partial<Record<RouteMethod, Record<string, unknown>>>;

/** Every resource path of the API: `/`, each configured path and each of their prefixes. */
export function resourcePaths(resources: Readonly<Record<string, unknown>>): string[] {
  const paths = new Set<string>(['/']);
  for (const path of Object.keys(resources)) {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) paths.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...paths].sort();
}

/** The path of a resource id, or NotFoundException. */
export function pathOfResource(api: { id: string; resources: Readonly<Record<string, unknown>> }, id: string): string {
  const path = resourcePaths(api.resources).find((candidate) => resourceId(api.id, candidate) === id);
  if (path === undefined) throw new GatewayError('NOT_FOUND', 'Invalid Resource identifier specified');
  return path;
}

/** `GET`, `ANY`, … or BadRequestException. */
export function routeMethodOf(httpMethod: string): RouteMethod {
  if (!(ROUTE_METHODS as readonly string[]).includes(httpMethod)) {
    throw new GatewayError('INVALID_INPUT', `Invalid HTTP method ${httpMethod}: must be one of ${ROUTE_METHODS.join(', ')}`);
  }
  return httpMethod as RouteMethod;
}

export function methodsAt(api: MutableApi, path: string): Methods {
  return (Object.hasOwn(api.resources, path) ? api.resources[path] : {}) as Methods;
}

/** The method definition (mutable copy in `api`), or NotFoundException as AWS words it. */
export function editableMethod(api: MutableApi, path: string, method: RouteMethod): Record<string, unknown> {
  const found = methodsAt(api, path)[method];
  if (!found) throw new GatewayError('NOT_FOUND', 'Invalid Method identifier specified');
  return found;
}

export function setMethod(api: MutableApi, path: string, method: RouteMethod, definition: Record<string, unknown> | undefined): void {
  const methods = { ...methodsAt(api, path) };
  if (definition === undefined) delete methods[method];
  else methods[method] = definition;
  api.resources = { ...api.resources, [path]: methods } as MutableApi['resources'];
}

/**
 * SPEC §8: edits reach traffic only through a deployment. A stage without a deploymentId serves
 * the live resources (config-file APIs are "deployed at start" that way), so before the first edit
 * those stages are pinned to a deployment of the resources as they are now.
 */
export function pinUndeployedStages(api: MutableApi, nowSeconds: number): void {
  const unpinned = Object.entries(api.stages).filter(([, stage]) => stage.deploymentId === undefined);
  if (unpinned.length === 0) return;
  const id = newDeploymentId(api);
  addDeployment(api, id, { createdDate: nowSeconds, description: 'As configured (pinned before the first control-plane edit)', resources: structuredClone(api.resources) });
  const stages = { ...api.stages };
  for (const [name, stage] of unpinned) stages[name] = { ...stage, deploymentId: id };
  api.stages = stages;
}

export function addDeployment(api: MutableApi, id: string, record: { createdDate: number; description?: string; resources: MutableApi['resources'] }): void {
  const deployments = { ...(api.deployments ?? {}) };
  if (Object.keys(deployments).length >= MAX_DEPLOYMENTS_PER_API) {
    throw new GatewayError('LIMIT_EXCEEDED', `An API keeps at most ${MAX_DEPLOYMENTS_PER_API} deployments; delete ones no stage uses (DeleteDeployment)`);
  }
  deployments[id] = { createdDate: record.createdDate, ...(record.description !== undefined ? { description: record.description } : {}), resources: record.resources };
  api.deployments = deployments;
}

export function newDeploymentId(api: MutableApi): string {
  for (;;) {
    const id = randomId(6);
    if (!api.deployments || !Object.hasOwn(api.deployments, id)) return id;
  }
}

export function checkResourceCount(api: MutableApi): void {
  if (resourcePaths(api.resources).length > MAX_RESOURCES_PER_API) {
    throw new GatewayError('LIMIT_EXCEEDED', `An API has at most ${MAX_RESOURCES_PER_API} resources`);
  }
}

/** Validated tags map (AWS limits), or BadRequestException. */
export function checkTags(tags: Record<string, string>): Record<string, string> {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) throw new GatewayError('INVALID_INPUT', `At most ${MAX_TAGS} tags per resource`);
  for (const [key, value] of entries) {
    if (key.length < 1 || key.length > 128 || key.startsWith('aws:') || key === '__proto__') throw new GatewayError('INVALID_INPUT', `Invalid tag key ${JSON.stringify(key)}: 1..128 characters, not starting with aws:`);
    if (value.length > 256) throw new GatewayError('INVALID_INPUT', `Invalid tag value for ${key}: at most 256 characters`);
  }
  return tags;
}

/**
 * Validated stage variables (AWS limits), or BadRequestException. `__proto__` is refused: assigned
 * into a map it would set the prototype instead of a variable (answered 200, silently lost).
 */
export function checkVariables(variables: Readonly<Record<string, string>>): Record<string, string> {
  const entries = Object.entries(variables);
  if (entries.length > MAX_STAGE_VARIABLES) throw new GatewayError('INVALID_INPUT', `At most ${MAX_STAGE_VARIABLES} stage variables per stage`);
  for (const [name, value] of entries) {
    checkVariableName(name);
    if (typeof value !== 'string' || value.length > MAX_STAGE_VARIABLE_VALUE) throw new GatewayError('INVALID_INPUT', `Invalid value of stage variable ${name}: at most ${MAX_STAGE_VARIABLE_VALUE} characters`);
  }
  return { ...variables };
}

/**
 * A new stage's name, or BadRequestException. The config schema drops a `__proto__` key of a map
 * without a word, so CreateStage/CreateDeployment answered 201 for a stage that never existed.
 */
export function checkStageName(name: string): string {
  if (name === '__proto__') throw new GatewayError('INVALID_INPUT', `Invalid stage name ${name}`);
  return name;
}

export function checkVariableName(name: string): void {
  // AWS: stage variable names are letters, digits and underscores.
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name) || name === '__proto__') throw new GatewayError('INVALID_INPUT', `Invalid stage variable name ${name}: use letters, digits and _`);
}

/** Before adding a stage to `api`: LimitExceededException at MAX_STAGES_PER_API. */
export function checkNewStage(api: MutableApi): void {
  if (Object.keys(api.stages).length >= MAX_STAGES_PER_API) {
    throw new GatewayError('LIMIT_EXCEEDED', `An API has at most ${MAX_STAGES_PER_API} stages; delete one first`);
  }
}
