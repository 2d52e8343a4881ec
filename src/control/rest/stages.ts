/** Stage operations: GetStages, GetStage, CreateStage, UpdateStage (patch operations), DeleteStage. */
import { GatewayError } from '../../errors.js';
import { changeApis, editableApi, editableStage, findApi, findStage } from './changes.js';
import { metadataOf } from './metadata.js';
import { checkNewStage, checkStageName, checkTags, checkVariables } from './model.js';
import { applyStagePatch, readPatchOperations } from './patch.js';
import { optionalBoolean, optionalString, optionalStringMap, parseJsonObject } from './request-body.js';
import { sendJson, type AdminRoute } from './route.js';
import { stageShape } from './shapes.js';

const STAGE_PATH = '/restapis/{restapi_id}/stages/{stage_name}';

export const getStages: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/stages',
  operation: 'GetStages',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const metadata = metadataOf(gateway);
    const deploymentId = query.get('deploymentId');
    const item = Object.entries(api.stages)
      .filter(([, stage]) => deploymentId === null || stage.deploymentId === deploymentId)
      .map(([name, stage]) => stageShape(name, stage, metadata.stage(api.id, name)));
    sendJson(res, 200, { item });
  },
};

export const getStage: AdminRoute = {
  method: 'GET',
  path: STAGE_PATH,
  operation: 'GetStage',
  handle({ params, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const stage = findStage(api, params.stage_name!);
    sendJson(res, 200, stageShape(params.stage_name!, stage, metadataOf(gateway).stage(api.id, params.stage_name!)));
  },
};

export const createStage: AdminRoute = {
  method: 'POST',
  path: '/restapis/{restapi_id}/stages',
  operation: 'CreateStage',
  async handle({ params, body, gateway, res }) {
    const input = parseJsonObject(body);
    const apiId = params.restapi_id!;
    const stageName = optionalString(input, 'stageName');
    const deploymentId = optionalString(input, 'deploymentId');
    const description = optionalString(input, 'description');
    const cacheClusterEnabled = optionalBoolean(input, 'cacheClusterEnabled');
    const cacheClusterSize = optionalString(input, 'cacheClusterSize');
    const variables = optionalStringMap(input, 'variables');
    const tracingEnabled = optionalBoolean(input, 'tracingEnabled');
    const tags = optionalStringMap(input, 'tags');
    if (!stageName) throw new GatewayError('INVALID_INPUT', 'stageName is required');
    checkStageName(stageName);
    // AWS requires a deployment (SPEC §8: a stage serves a deployment's snapshot, never live edits).
    if (!deploymentId) throw new GatewayError('INVALID_INPUT', 'deploymentId is required');
    const metadata = metadataOf(gateway);
    await changeApis(gateway, (apis) => {
      const api = editableApi(apis, apiId);
      if (Object.hasOwn(api.stages, stageName)) throw new GatewayError('CONFLICT', 'Stage already exists');
      checkNewStage(api);
      if (!api.deployments || !Object.hasOwn(api.deployments, deploymentId)) {
        throw new GatewayError('INVALID_INPUT', `Invalid deployment identifier specified: ${deploymentId}`);
      }
      api.stages = {
        ...api.stages,
        [stageName]: {
          ...(description !== undefined ? { description } : {}),
          variables: checkVariables(variables ?? {}),
          cacheClusterEnabled: cacheClusterEnabled ?? false,
          ...(cacheClusterSize !== undefined ? { cacheClusterSize } : {}),
          methodSettings: {},
          deploymentId,
          ...(tracingEnabled !== undefined ? { tracingEnabled } : {}),
          ...(tags !== undefined ? { tags: checkTags(tags) } : {}),
        } as (typeof api.stages)[string],
      };
    });
    metadata.forgetStage(apiId, stageName);
    const meta = metadata.stage(apiId, stageName);
    const api = findApi(gateway, apiId);
    sendJson(res, 201, stageShape(stageName, findStage(api, stageName), meta));
  },
};

export const updateStage: AdminRoute = {
  method: 'PATCH',
  path: STAGE_PATH,
  operation: 'UpdateStage',
  async handle({ params, body, gateway, res }) {
    const operations = readPatchOperations(parseJsonObject(body));
    const apiId = params.restapi_id!;
    const stageName = params.stage_name!;
    const metadata = metadataOf(gateway);
    await changeApis(gateway, (apis) => {
      const api = editableApi(apis, apiId);
      const stage = editableStage(api, stageName);
      const deployments = api.deployments ?? {};
      // Method settings may name methods of the working resources or of the deployment the stage serves.
      const served = stage.deploymentId !== undefined && Object.hasOwn(deployments, stage.deploymentId) ? deployments[stage.deploymentId]!.resources : {};
      const outcome = applyStagePatch(stage, operations, { resources: { ...served, ...api.resources }, deploymentIds: new Set(Object.keys(deployments)) });
      if (outcome.deploymentId !== undefined) stage.deploymentId = outcome.deploymentId;
    });
    const meta = metadata.touchStage(apiId, stageName);
    const api = findApi(gateway, apiId);
    sendJson(res, 200, stageShape(stageName, findStage(api, stageName), meta));
  },
};

export const deleteStage: AdminRoute = {
  method: 'DELETE',
  path: STAGE_PATH,
  operation: 'DeleteStage',
  async handle({ params, gateway, res }) {
    const apiId = params.restapi_id!;
    const stageName = params.stage_name!;
    await changeApis(gateway, (apis) => {
      const api = editableApi(apis, apiId);
      editableStage(api, stageName);
      const stages = { ...api.stages };
      delete stages[stageName];
      api.stages = stages;
    });
    metadataOf(gateway).forgetStage(apiId, stageName);
    sendJson(res, 202, undefined);
  },
};
