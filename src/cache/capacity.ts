/** A stage cache's byte budget: `cacheCapacityBytes`, else `cacheClusterSize` in GiB as AWS sizes it. */
import type { StageConfig } from '../config/schema.js';

export function stageCapacityBytes(stage: Pick<StageConfig, 'cacheClusterSize' | 'cacheCapacityBytes'>): number {
  return stage.cacheCapacityBytes ?? Math.round(Number(stage.cacheClusterSize) * 2 ** 30);
}
