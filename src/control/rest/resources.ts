/** GetResources and GetResource: the resource tree of an API, AWS-shaped. */
import { GatewayError } from '../../errors.js';
import { findApi } from './changes.js';
import { page } from './request-body.js';
import { sendJson, type AdminRoute } from './route.js';
import { resourceShapes } from './shapes.js';

export const getResources: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/resources',
  operation: 'GetResources',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const embedMethods = query.getAll('embed').some((value) => value.split(',').includes('methods'));
    sendJson(res, 200, page(resourceShapes(api, embedMethods), query));
  },
};

export const getResource: AdminRoute = {
  method: 'GET',
  path: '/restapis/{restapi_id}/resources/{resource_id}',
  operation: 'GetResource',
  handle({ params, query, gateway, res }) {
    const api = findApi(gateway, params.restapi_id!);
    const embedMethods = query.getAll('embed').some((value) => value.split(',').includes('methods'));
    const resource = resourceShapes(api, embedMethods).find((candidate) => candidate.id === params.resource_id);
    if (!resource) throw new GatewayError('NOT_FOUND', 'Invalid Resource identifier specified');
    sendJson(res, 200, resource);
  },
};
