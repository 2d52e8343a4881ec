/** Every control-plane route the admin listener serves (AWS API Gateway REST paths). */
import { purgeCachePaths, purgeCacheTag } from './cache-purge.js';
import { createDeployment, getDeployment, getDeployments } from './deployments.js';
import { getResource, getResources } from './resources.js';
import { createOrImportRestApi, deleteRestApi, getRestApi, getRestApis, putRestApi } from './rest-apis.js';
import type { AdminRoute } from './route.js';
import { flushStageCache } from './stage-cache.js';
import { createStage, deleteStage, getStage, getStages, updateStage } from './stages.js';

export const CONTROL_ROUTES: readonly AdminRoute[] = [
  getRestApis, createOrImportRestApi, getRestApi, putRestApi, deleteRestApi,
  getResources, getResource,
  getStages, createStage, getStage, updateStage, deleteStage,
  flushStageCache, purgeCacheTag, purgeCachePaths,
  createDeployment, getDeployments, getDeployment,
];
