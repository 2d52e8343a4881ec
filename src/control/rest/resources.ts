/**
 * GetResources, GetResource, CreateResource, UpdateResource (`/pathPart`, `/parentId`),
 * DeleteResource. A resource is a path in the API's `resources`; its id is derived from the API
 * and path (shapes.ts), so a renamed or moved resource gets a new id, as a new path would.
 */
import { GatewayError } from '../../errors.js';
import type { Gateway } from '../../gateway/gateway.js';
import { changeApis, editableApi, findApi, type MutableApi } from './changes.js';
import { metadataOf } from './metadata.js';
import { checkResourceCount, pathOfResource, pinUndeployedStages } from './model.js';
import { readPatchOperations } from './patch.js';
import { optionalString, page, parseJsonObject } from './request-body.js';
import { sendJson, type AdminRoute } from './route.js';
import { resourceId, resourceShape, resourceShapes } from './shapes.js';

const RESOURCE_PATH = '/restapis/{restapi_id}/resources/{resource_id}';
// A literal segment, `{name}` or a greedy `{name+}` (AWS path parts).
const PATH_PART = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]{1,128}|\{[A-Za-z0-9._-]{1,64}\+?\})$/;

export const getResources: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/resources',
  operation: 'GetResources',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const embedMethods = query.getAll('embed').some((value) => value.split(',').includes('methods'));
    sendJson(res, 200, page(resourceShapes(api, embedMethods, gateway.region), query));
  },
};

export const getResource: AdminRoute = {
  method: 'GET',
  path: RESOURCE_PATH,
  operation: 'GetResource',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const embedMethods = query.getAll('embed').some((value) => value.split(',').includes('methods'));
    sendJson(res, 200, resourceShape(api, pathOfResource(api, params.resource_id!), embedMethods, gateway.region));
  },
};

export const createResource: AdminRoute = {
  method: 'POST',
  path: '/restapis/{restapi_id}/resources/{parent_id}',
  operation: 'CreateResource',
  async handle({ params, body, gateway, res }) {
    const pathPart = optionalString(parseJsonObject(body), 'pathPart');
    if (!pathPart || !PATH_PART.test(pathPart)) throw new GatewayError('INVALID_INPUT', 'Resource\'s path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.');
    const path = await editResources(gateway, params.restapi_id!, (api) => {
      const parent = pathOfResource(api, params.parent_id!);
      if (parent.endsWith('+}')) throw new GatewayError('INVALID_INPUT', 'A greedy resource {name+} cannot have children');
      const child = parent === '/' ? `/${pathPart}` : `${parent}/${pathPart}`;
      const siblings = Object.keys(api.resources).map((existing) => existing.split('/').slice(0, child.split('/').length).join('/'));
      if (siblings.includes(child)) throw new GatewayError('CONFLICT', `Another resource with the same parent already has this name: ${pathPart}`);
      // AWS: one variable path part per parent ({a} and {b} side by side are ambiguous).
      if (pathPart.startsWith('{') && siblings.some((sibling) => sibling.startsWith(`${parent === '/' ? '' : parent}/{`) && sibling.split('/').length === child.split('/').length)) {
        throw new GatewayError('CONFLICT', 'A sibling ({}) of this resource already has a variable path part -- only one is allowed');
      }
      api.resources = { ...api.resources, [child]: {} } as MutableApi['resources'];
      return child;
    });
    sendJson(res, 201, resourceShape(findApi(gateway, params.restapi_id!), path, false));
  },
};

export const updateResource: AdminRoute = {
  method: 'PATCH',
  path: RESOURCE_PATH,
  operation: 'UpdateResource',
  async handle({ params, body, gateway, res }) {
    const operations = readPatchOperations(parseJsonObject(body));
    const path = await editResources(gateway, params.restapi_id!, (api) => {
      let path = pathOfResource(api, params.resource_id!);
      if (path === '/') throw new GatewayError('INVALID_INPUT', 'The root resource cannot be changed');
      for (const { op, path: target, value } of operations) {
        if (op !== 'replace' || value === undefined) throw new GatewayError('INVALID_INPUT', `Invalid patch operation ${op} ${target}: use replace /pathPart or /parentId`);
        const parent = path.slice(0, path.lastIndexOf('/')) || '/';
        const part = path.slice(path.lastIndexOf('/') + 1);
        let moved: string;
        if (target === '/pathPart') {
          if (!PATH_PART.test(value)) throw new GatewayError('INVALID_INPUT', `Invalid path part ${value}`);
          moved = parent === '/' ? `/${value}` : `${parent}/${value}`;
        } else if (target === '/parentId') {
          const newParent = pathOfResource(api, value);
          if (newParent === path || newParent.startsWith(`${path}/`)) throw new GatewayError('INVALID_INPUT', 'A resource cannot be moved under itself');
          moved = newParent === '/' ? `/${part}` : `${newParent}/${part}`;
        } else {
          throw new GatewayError('INVALID_INPUT', `Invalid patch path ${target}: must be one of [/pathPart, /parentId]`);
        }
        renameSubtree(api, path, moved);
        path = moved;
      }
      return path;
    });
    sendJson(res, 200, resourceShape(findApi(gateway, params.restapi_id!), path, false));
  },
};

export const deleteResource: AdminRoute = {
  method: 'DELETE',
  path: RESOURCE_PATH,
  operation: 'DeleteResource',
  async handle({ params, gateway, res }) {
    await editResources(gateway, params.restapi_id!, (api) => {
      const path = pathOfResource(api, params.resource_id!);
      if (path === '/') throw new GatewayError('INVALID_INPUT', 'The root resource cannot be deleted');
      api.resources = Object.fromEntries(Object.entries(api.resources).filter(([existing]) => existing !== path && !existing.startsWith(`${path}/`))) as MutableApi['resources'];
      // Keep the parent as a resource of its own when this was its only child (AWS deletes the subtree only).
      const parent = path.slice(0, path.lastIndexOf('/'));
      if (parent && !resourceExists(api, parent)) api.resources = { ...api.resources, [parent]: {} } as MutableApi['resources'];
    });
    sendJson(res, 202, undefined);
  },
};

/**
 * Changes the working resources of an API: stages still serving the live resources are pinned to
 * a deployment first (SPEC §8, model.ts), and the resource bound is enforced.
 */
export function editResources<T>(gateway: Gateway, apiId: string, edit: (api: MutableApi) => T): Promise<T> {
  const now = metadataOf(gateway).seconds();
  return changeApis(gateway, (apis) => {
    const api = editableApi(apis, apiId);
    pinUndeployedStages(api, now);
    const result = edit(api);
    checkResourceCount(api);
    return result;
  });
}

function resourceExists(api: MutableApi, path: string): boolean {
  return Object.keys(api.resources).some((existing) => existing === path || existing.startsWith(`${path}/`));
}

function renameSubtree(api: MutableApi, from: string, to: string): void {
  if (from === to) return;
  if (resourceExists(api, to)) throw new GatewayError('CONFLICT', `Another resource already has the path ${to}`);
  api.resources = Object.fromEntries(Object.entries(api.resources).map(([path, methods]) => [
    path === from ? to : path.startsWith(`${from}/`) ? `${to}${path.slice(from.length)}` : path,
    methods,
  ])) as MutableApi['resources'];
}

export { resourceId };
