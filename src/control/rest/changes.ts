/**
 * Reading and changing API definitions from control-plane handlers. A change copies the current
 * definitions, edits the copy, and hands it to Gateway.applyApis, which validates it like the
 * config file and swaps it in for the next request. Changes are serialised so two concurrent
 * requests never edit the same base and lose one another's work.
 */
import { ConfigError } from '../../config/errors.js';
import type { ApiConfig, StageConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors.js';
import type { Gateway } from '../../gateway/gateway.js';

/** API definitions as plain, mutable JSON (what applyApis takes). */
export type MutableApi = { -readonly [K in keyof ApiConfig]: ApiConfig[K] } & Record<string, unknown>;
export type MutableStage = StageConfig & Record<string, unknown>;

const queues = new WeakMap<Gateway, Promise<unknown>>();

/**
 * All API definitions together, deployments included, as JSON. Every deployment copies its API's
 * resources and each edit may add up to an admin body (16 MiB), so without a bound a caller with
 * PutIntegration and CreateDeployment rights grows the heap by hundreds of MiB (and each later edit
 * clones all of it). An edit that leaves more than this, and more than before, is refused.
 */
export const MAX_DEFINITIONS_BYTES = 32 * 1024 * 1024;


export function findApi(gateway: Gateway, apiId: string): ApiConfig {
  const api = gateway.apis.find((candidate) => candidate.id === apiId);
  if (!api) throw new GatewayError('NOT_FOUND', `Invalid API identifier specified ${apiId}`);
  return api;
}

export function findStage(api: ApiConfig, stageName: string): StageConfig {
  const stage = Object.hasOwn(api.stages, stageName) ? api.stages[stageName] : undefined;
  if (!stage) throw new GatewayError('NOT_FOUND', `Invalid Stage identifier specified`);
  return stage;
}

/**
 * Runs `edit` on a copy of the current definitions and applies the result. `edit` may throw a
 * GatewayError (nothing is applied) and returns a value passed back to the caller.
 */
export function changeApis<T>(gateway: Gateway, edit: (apis: MutableApi[]) => T): Promise<T> {
  const previous = queues.get(gateway) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(async () => {
    const apis = structuredClone(gateway.apis) as MutableApi[];
    const result = edit(apis);
    checkDefinitionsSize(gateway.apis, apis);
    try {
      await gateway.applyApis(apis);
    } catch (error) {
      if (error instanceof ConfigError) throw new GatewayError('INVALID_INPUT', error.lines().join('; '));
      throw error;
    }
    return result;
  });
  queues.set(gateway, next);
  return next;
}

/** The mutable copy of one API inside `apis`; NotFoundException when absent. */
export function editableApi(apis: MutableApi[], apiId: string): MutableApi {
  const api = apis.find((candidate) => candidate.id === apiId);
  if (!api) throw new GatewayError('NOT_FOUND', `Invalid API identifier specified ${apiId}`);
  return api;
}

export function editableStage(api: MutableApi, stageName: string): MutableStage {
  const stage = Object.hasOwn(api.stages, stageName) ? api.stages[stageName] : undefined;
  if (!stage) throw new GatewayError('NOT_FOUND', `Invalid Stage identifier specified`);
  return stage as MutableStage;
}

function checkDefinitionsSize(before: readonly unknown[], after: readonly unknown[]): void {
  const bytes = (apis: readonly unknown[]) => Buffer.byteLength(JSON.stringify(apis));
  const afterBytes = bytes(after);
  if (afterBytes > MAX_DEFINITIONS_BYTES && afterBytes > bytes(before)) {
    throw new GatewayError('LIMIT_EXCEEDED', `API definitions (deployments included) are limited to ${MAX_DEFINITIONS_BYTES} bytes; delete unused deployments or APIs`);
  }
}
