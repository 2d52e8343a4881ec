/** Every control-plane route the admin listener serves (AWS API Gateway REST paths). */
import { purgeCachePaths, purgeCacheTag } from './cache-purge.js';
import { createDeployment, deleteDeployment, getDeployment, getDeployments } from './deployments.js';
import { getExport } from './exports.js';
import { deleteIntegration, deleteIntegrationResponse, getIntegration, getIntegrationResponse, putIntegration, putIntegrationResponse, updateIntegration } from './integrations.js';
import { deleteMethod, deleteMethodResponse, getMethod, getMethodResponse, putMethod, putMethodResponse, updateMethod } from './methods.js';
import { getTags, tagResource, untagResource } from './tags.js';
import { createResource, deleteResource, getResource, getResources, updateResource } from './resources.js';
import { createOrImportRestApi, deleteRestApi, getRestApi, getRestApis, putRestApi, updateRestApi } from './rest-apis.js';
import type { AdminRoute } from './route.js';
import { flushStageCache } from './stage-cache.js';
import { createStage, deleteStage, getStage, getStages, updateStage } from './stages.js';

export const CONTROL_ROUTES: readonly AdminRoute[] = [
  getRestApis, createOrImportRestApi, getRestApi, putRestApi, updateRestApi, deleteRestApi,
  getResources, getResource, createResource, updateResource, deleteResource,
  putMethod, getMethod, updateMethod, deleteMethod, putMethodResponse, getMethodResponse, deleteMethodResponse,
  putIntegration, getIntegration, updateIntegration, deleteIntegration, putIntegrationResponse, getIntegrationResponse, deleteIntegrationResponse,
  getStages, createStage, getStage, updateStage, deleteStage, getExport,
  flushStageCache, purgeCacheTag, purgeCachePaths,
  createDeployment, getDeployments, getDeployment, deleteDeployment,
  getTags, tagResource, untagResource,
];
