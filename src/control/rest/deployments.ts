/**
 * CreateDeployment, GetDeployments, GetDeployment. A deployment here is a record (id, description,
 * date) that stages point at: definitions apply to live traffic as soon as they change (SPEC §8),
 * so a deployment does not snapshot resources. With `stageName` it creates or updates that stage.
 */
import { GatewayError } from '../../errors.js';
import { changeApis, editableApi, findApi } from './changes.js';
import { metadataOf } from './metadata.js';
import { optionalBoolean, optionalString, optionalStringMap, page, parseJsonObject } from './request-body.js';
import { sendJson, type AdminRoute } from './route.js';
import { deploymentShape } from './shapes.js';

export const createDeployment: AdminRoute = {
  method: 'POST',
  path: '/restapis/{restapi_id}/deployments',
  operation: 'CreateDeployment',
  async handle({ params, body, gateway, res }) {
    const input = parseJsonObject(body);
    const apiId = params.restapi_id!;
    const stageName = optionalString(input, 'stageName');
    const stageDescription = optionalString(input, 'stageDescription');
    const description = optionalString(input, 'description');
    const cacheClusterEnabled = optionalBoolean(input, 'cacheClusterEnabled');
    const cacheClusterSize = optionalString(input, 'cacheClusterSize');
    const variables = optionalStringMap(input, 'variables');
    const metadata = metadataOf(gateway);
    const api = findApi(gateway, apiId);
    // AWS: a deployment of an API without methods is refused.
    if (Object.keys(api.resources).length === 0) throw new GatewayError('INVALID_INPUT', "The REST API doesn't contain any methods");

    if (stageName !== undefined) {
      await changeApis(gateway, (apis) => {
        const editable = editableApi(apis, apiId);
        const existing = Object.hasOwn(editable.stages, stageName) ? editable.stages[stageName] : undefined;
        const stage: Record<string, unknown> = existing ? { ...existing } : { variables: {}, cacheClusterEnabled: false, methodSettings: {} };
        if (!existing && stageDescription !== undefined) stage.description = stageDescription;
        if (cacheClusterEnabled !== undefined) stage.cacheClusterEnabled = cacheClusterEnabled;
        if (cacheClusterSize !== undefined) stage.cacheClusterSize = cacheClusterSize;
        if (variables !== undefined) stage.variables = { ...(existing?.variables ?? {}), ...variables };
        editable.stages = { ...editable.stages, [stageName]: stage as (typeof editable.stages)[string] };
      });
    }
    const record = metadata.addDeployment(apiId, description);
    if (stageName !== undefined) metadata.touchStage(apiId, stageName).deploymentId = record.id;
    sendJson(res, 201, deploymentShape(record));
  },
};

export const getDeployments: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/deployments',
  operation: 'GetDeployments',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    sendJson(res, 200, page(metadataOf(gateway).api(api.id).deployments.map(deploymentShape), query));
  },
};

export const getDeployment: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/deployments/{deployment_id}',
  operation: 'GetDeployment',
  handle({ params, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const record = metadataOf(gateway).api(api.id).deployments.find((deployment) => deployment.id === params.deployment_id);
    if (!record) throw new GatewayError('NOT_FOUND', 'Invalid Deployment identifier specified');
    sendJson(res, 200, deploymentShape(record));
  },
};
