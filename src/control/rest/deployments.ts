/**
 * CreateDeployment, GetDeployments, GetDeployment, DeleteDeployment. A deployment is a snapshot
 * of the API's resources (SPEC §8, as on AWS): stages serve the deployment they point at, so
 * resource, method and integration edits reach traffic only when deployed. With `stageName` it
 * creates or updates that stage and points it at the new deployment.
 */
import { GatewayError } from '../../errors.js';
import { apigatewayArn } from '../../auth/policy.js';
import { changeApis, editableApi, findApi } from './changes.js';
import { metadataOf } from './metadata.js';
import { addDeployment, checkNewStage, checkStageName, checkVariables, newDeploymentId } from './model.js';
import { optionalBoolean, optionalString, optionalStringMap, page, parseJsonObject } from './request-body.js';
import { sendJson, type AdminRoute } from './route.js';
import { deploymentShape } from './shapes.js';

export const createDeployment: AdminRoute = {
  method: 'POST',
  path: '/restapis/{restapi_id}/deployments',
  operation: 'CreateDeployment',
  async handle({ params, body, gateway, res, identity }) {
    const input = parseJsonObject(body);
    const apiId = params.restapi_id!;
    const stageName = optionalString(input, 'stageName');
    if (stageName !== undefined) checkStageName(stageName);
    const stageDescription = optionalString(input, 'stageDescription');
    const description = optionalString(input, 'description');
    const cacheClusterEnabled = optionalBoolean(input, 'cacheClusterEnabled');
    const cacheClusterSize = optionalString(input, 'cacheClusterSize');
    const variables = optionalStringMap(input, 'variables');
    if (variables !== undefined) checkVariables(variables); // alone first: a huge map is refused before it is merged
    const tracingEnabled = optionalBoolean(input, 'tracingEnabled');
    const createdDate = metadataOf(gateway).seconds();
    const record = await changeApis(gateway, (apis) => {
      const api = editableApi(apis, apiId);
      const methods = Object.entries(api.resources).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, definition]) => ({ path, method, definition })));
      // AWS: a deployment of an API without methods, or with a method without an integration, is refused.
      if (methods.length === 0) throw new GatewayError('INVALID_INPUT', "The REST API doesn't contain any methods");
      const bare = methods.find(({ definition }) => !definition?.integration);
      if (bare) throw new GatewayError('INVALID_INPUT', `No integration defined for method ${bare.method} on ${bare.path}`);
      const id = newDeploymentId(api);
      addDeployment(api, id, { createdDate, ...(description !== undefined ? { description } : {}), resources: structuredClone(api.resources) });
      if (stageName !== undefined) {
        const existing = Object.hasOwn(api.stages, stageName) ? api.stages[stageName] : undefined;
        // The stage changes too. AWS authorises CreateDeployment on the deployments ARN alone (a
        // deployer role naming only it keeps working here), but an explicit Deny of what UpdateStage
        // (an existing stage) or CreateStage (a new one) needs is honoured: otherwise a Deny on a
        // stage is bypassed through its API's deployments (issue 13's class: one decision per resource).
        const [action, arnPath] = existing
          ? ['apigateway:PATCH', `/restapis/${apiId}/stages/${stageName}`]
          : ['apigateway:POST', `/restapis/${apiId}/stages`];
        if (identity.policy.denies(action, apigatewayArn(gateway.region, arnPath))) {
          throw new GatewayError('ACCESS_DENIED', `User ${identity.name} is not authorized to perform ${action} on ${arnPath}`);
        }
        if (!existing) checkNewStage(api);
        const stage: Record<string, unknown> = existing ? { ...existing } : { variables: {}, cacheClusterEnabled: false, methodSettings: {} };
        if (!existing && stageDescription !== undefined) stage.description = stageDescription;
        if (cacheClusterEnabled !== undefined) stage.cacheClusterEnabled = cacheClusterEnabled;
        if (cacheClusterSize !== undefined) stage.cacheClusterSize = cacheClusterSize;
        if (tracingEnabled !== undefined) stage.tracingEnabled = tracingEnabled;
        if (variables !== undefined) stage.variables = checkVariables({ ...(existing?.variables ?? {}), ...variables });
        stage.deploymentId = id;
        api.stages = { ...api.stages, [stageName]: stage as (typeof api.stages)[string] };
      }
      return { id, createdDate, ...(description !== undefined ? { description } : {}) };
    });
    if (stageName !== undefined) metadataOf(gateway).touchStage(apiId, stageName);
    sendJson(res, 201, deploymentShape(record.id, record));
  },
};

export const getDeployments: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/deployments',
  operation: 'GetDeployments',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const items = Object.entries(api.deployments ?? {}).sort(([, a], [, b]) => a.createdDate - b.createdDate).map(([id, record]) => deploymentShape(id, record));
    sendJson(res, 200, page(items, query));
  },
};

export const getDeployment: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/deployments/{deployment_id}',
  operation: 'GetDeployment',
  handle({ params, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const id = params.deployment_id!;
    const record = api.deployments && Object.hasOwn(api.deployments, id) ? api.deployments[id] : undefined;
    if (!record) throw new GatewayError('NOT_FOUND', 'Invalid Deployment identifier specified');
    sendJson(res, 200, deploymentShape(id, record));
  },
};

export const deleteDeployment: AdminRoute = {
  method: 'DELETE',
  path: '/restapis/{restapi_id}/deployments/{deployment_id}',
  operation: 'DeleteDeployment',
  async handle({ params, gateway, res }) {
    const id = params.deployment_id!;
    await changeApis(gateway, (apis) => {
      const api = editableApi(apis, params.restapi_id!);
      if (!api.deployments || !Object.hasOwn(api.deployments, id)) throw new GatewayError('NOT_FOUND', 'Invalid Deployment identifier specified');
      // AWS: a deployment a stage serves cannot be deleted.
      const user = Object.entries(api.stages).find(([, stage]) => stage.deploymentId === id)?.[0];
      if (user !== undefined) throw new GatewayError('INVALID_INPUT', `Active stages pointing to this deployment must be moved or deleted (stage ${user})`);
      const deployments = { ...api.deployments };
      delete deployments[id];
      api.deployments = deployments;
    });
    sendJson(res, 202, undefined);
  },
};
