/**
 * TagResource (`PUT /tags/{resource_arn}`), UntagResource (`DELETE /tags/{resource_arn}?tagKeys=`),
 * GetTags (`GET /tags/{resource_arn}`) for REST APIs and stages. Besides `apigateway:{METHOD}` on
 * the `/tags/…` ARN (checked by the admin listener), the caller must be allowed the same action on
 * the tagged resource itself, so a Deny on `/restapis/beta/*` also covers beta's tags.
 */
import { GatewayError } from '../../errors.js';
import { apigatewayArn } from '../../auth/policy.js';
import type { AdminRequest } from './route.js';
import { changeApis, editableApi, editableStage, findApi, findStage } from './changes.js';
import { checkTags } from './model.js';
import { parseJsonObject, optionalStringMap } from './request-body.js';
import { sendJson, type AdminRoute } from './route.js';

const TAGS_PATH = '/tags/{resource_arn}';

interface Target {
  apiId: string;
  stageName?: string;
}

export const getTags: AdminRoute = {
  method: 'GET',
  path: TAGS_PATH,
  operation: 'GetTags',
  handle(request) {
    const target = targetOf(request);
    const api = findApi(request.gateway, target.apiId);
    const tags = target.stageName === undefined ? api.tags : findStage(api, target.stageName).tags;
    sendJson(request.res, 200, { tags: { ...(tags ?? {}) } });
  },
};

export const tagResource: AdminRoute = {
  method: 'PUT',
  path: TAGS_PATH,
  operation: 'TagResource',
  async handle(request) {
    const target = targetOf(request);
    const tags = optionalStringMap(parseJsonObject(request.body), 'tags');
    if (!tags) throw new GatewayError('INVALID_INPUT', 'tags is required');
    // Checked alone first: a map of 300k tags is refused before it is copied and merged.
    checkTags(tags);
    await editTags(request, target, (current) => checkTags({ ...current, ...tags }));
    sendJson(request.res, 204, undefined);
  },
};

export const untagResource: AdminRoute = {
  method: 'DELETE',
  path: TAGS_PATH,
  operation: 'UntagResource',
  async handle(request) {
    const target = targetOf(request);
    const keys = request.query.getAll('tagKeys');
    await editTags(request, target, (current) => Object.fromEntries(Object.entries(current).filter(([key]) => !keys.includes(key))));
    sendJson(request.res, 204, undefined);
  },
};

/** `arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]`, allowed for the caller; else 400/403. */
function targetOf({ params, gateway, identity, req }: AdminRequest): Target {
  const arn = params.resource_arn!;
  const prefix = apigatewayArn(gateway.region, '');
  const match = arn.startsWith(prefix) ? /^\/restapis\/([A-Za-z0-9_-]{1,64})(?:\/stages\/([A-Za-z0-9_-]{1,128}))?$/.exec(arn.slice(prefix.length)) : null;
  if (!match) throw new GatewayError('INVALID_INPUT', `Invalid resource ARN ${arn}: expected ${prefix}/restapis/{id} or …/stages/{name} (region ${gateway.region})`);
  if (!identity.policy.allows(`apigateway:${req.method}`, arn)) {
    throw new GatewayError('ACCESS_DENIED', `User ${identity.name} is not authorized to perform apigateway:${req.method} on ${arn.slice(prefix.length)}`);
  }
  return { apiId: match[1]!, ...(match[2] !== undefined ? { stageName: match[2] } : {}) };
}

function editTags(request: AdminRequest, target: Target, edit: (current: Record<string, string>) => Record<string, string>): Promise<void> {
  return changeApis(request.gateway, (apis) => {
    const api = editableApi(apis, target.apiId);
    if (target.stageName === undefined) {
      api.tags = edit({ ...(api.tags ?? {}) });
      return;
    }
    const stage = editableStage(api, target.stageName);
    api.stages = { ...api.stages, [target.stageName]: { ...stage, tags: edit({ ...(stage.tags ?? {}) }) } };
  });
}
