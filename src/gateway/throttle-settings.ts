/**
 * Which throttling limits apply to a method of a stage (SPEC §8): `throttlingRateLimit` and
 * `throttlingBurstLimit` from the method settings, merged field by field from the least to the most
 * specific key (`*\/*` < `{path}/ANY` < `{path}/{METHOD}`), the same merge as the cache settings;
 * HEAD follows GET. -1 means "not set" (what Terraform sends for an unset value). A method setting
 * never lifts a method above the account-level limit: both buckets are checked.
 */
import { methodSettingsKey } from '../config/naming.js';
import type { HttpMethod, StageConfig } from '../config/schema.js';
import type { ThrottleLimits } from './throttle-bucket.js';

/** AWS's account-level default per region: 10,000 requests per second, bursts of 5,000. */
export const DEFAULT_ACCOUNT_LIMITS: ThrottleLimits = Object.freeze({ rateLimit: 10_000, burstLimit: 5_000 });

/** The method's own limits when any are set below the account's, else undefined (no method bucket). */
export function resolveMethodLimits(stage: StageConfig, resourcePath: string, method: HttpMethod, account: ThrottleLimits): ThrottleLimits | undefined {
  const keyMethod = method === 'HEAD' ? 'GET' : method;
  const layers = [stage.methodSettings['*/*'], stage.methodSettings[methodSettingsKey(resourcePath, 'ANY')], stage.methodSettings[methodSettingsKey(resourcePath, keyMethod)]];
  let rateLimit: number | undefined;
  let burstLimit: number | undefined;
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.throttlingRateLimit !== undefined && layer.throttlingRateLimit >= 0) rateLimit = layer.throttlingRateLimit;
    if (layer.throttlingBurstLimit !== undefined && layer.throttlingBurstLimit >= 0) burstLimit = layer.throttlingBurstLimit;
  }
  if (rateLimit === undefined && burstLimit === undefined) return undefined;
  // A field left unset is the account's, as on AWS where the stage defaults come from the account.
  const limits = { rateLimit: rateLimit ?? account.rateLimit, burstLimit: burstLimit ?? account.burstLimit };
  // At or above the account's limits on both fields, the account bucket alone decides.
  if (limits.rateLimit >= account.rateLimit && limits.burstLimit >= account.burstLimit) return undefined;
  return Object.freeze(limits);
}

/** Whether any stage of any API sets a throttling limit (the data plane skips throttling when none does). */
export function anyMethodLimit(stages: Iterable<StageConfig>): boolean {
  for (const stage of stages) {
    for (const setting of Object.values(stage.methodSettings)) {
      if ((setting.throttlingRateLimit ?? -1) >= 0 || (setting.throttlingBurstLimit ?? -1) >= 0) return true;
    }
  }
  return false;
}

/**
 * One thread's share of a limit (1/N) when the threads' shared bucket table is full
 * (throttle-shared.ts): N threads together admit at most the limit plus N−1 tokens of burst.
 * The burst is rounded up so a burst of 1 still admits one request.
 */
export function shareOf(limits: ThrottleLimits, workers: number): ThrottleLimits {
  if (workers <= 1) return limits;
  return Object.freeze({ rateLimit: limits.rateLimit / workers, burstLimit: Math.ceil(limits.burstLimit / workers) });
}
