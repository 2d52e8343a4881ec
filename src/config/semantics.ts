/**
 * Cross-reference checks the schema cannot express: names that must be unique, references that
 * must exist (method settings, cache plug-ins, path parameters, handler files), and settings
 * that need another (encryption needs a key).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigIssue } from './errors.js';
import { describeValue, formatPath } from './errors.js';
import { REQUEST_PARAMETER, type Config, type RouteMethod } from './schema.js';
import { parseMethodSettingsKey, pathParameterNames } from './naming.js';
import { parseJsonPath } from '../cache/key.js';
import { resolveMethodSettings } from '../cache/policies/aws/rules.js';
import type { HttpMethod } from './schema.js';

export function checkSemantics(config: Config, baseDir: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });

  checkUnique(config.apis.map((api) => api.id), (i, id) => add(['apis', i, 'id'], `duplicate API id ${describeValue(id)}`));
  checkUnique(config.apis.map((api) => api.host?.toLowerCase()), (i, host) => add(['apis', i, 'host'], `another API already uses host ${describeValue(host)}`));
  checkUnique(config.identities.map((identity) => identity.name), (i, name) => add(['identities', i, 'name'], `duplicate identity ${describeValue(name)}`));
  checkUnique(config.identities.map((identity) => identity.accessKeyId), (i, key) => add(['identities', i, 'accessKeyId'], `duplicate access key ${describeValue(key)}`));
  checkUnique(config.identities.map((identity) => identity.apiKey), (i) => add(['identities', i, 'apiKey'], 'duplicate API key (two identities cannot share one)'));
  checkUnique(config.apps.map((app) => app.id), (i, id) => add(['apps', i, 'id'], `duplicate app id ${describeValue(id)}`));
  checkUnique(config.apps.map((app) => app.appKey), (i, key) => add(['apps', i, 'appKey'], `duplicate appKey ${describeValue(key)}`));
  // An AppCode is a secret (not echoed): two apps sharing one would make one app's callers the other's.
  checkUnique(config.apps.map((app) => app.appCode), (i) => add(['apps', i, 'appCode'], 'duplicate AppCode (two apps cannot share one)'));

  const appIds = new Set(config.apps.map((app) => app.id));
  for (const [name, plugin] of Object.entries(config.cachePlugins)) {
    plugin.clientCacheControl.apps.forEach((id, i) => {
      if (!appIds.has(id)) add(['cachePlugins', name, 'clientCacheControl', 'apps', i], `unknown app id ${describeValue(id)} (not in apps)`);
    });
  }

  let encrypted: (string | number)[] | undefined;
  config.apis.forEach((api, apiIndex) => {
    checkAlibabaApi(api, appIds, (path, message) => add(['apis', apiIndex, ...path], message));
    for (const [resourcePath, methods] of Object.entries(api.resources)) {
      const pathParams = pathParameterNames(resourcePath);
      for (const [method, definition] of Object.entries(methods)) {
        if (!definition) continue;
        const at = ['apis', apiIndex, 'resources', resourcePath, method];
        definition.cacheKeyParameters.forEach((parameter, i) => {
          const [, location, name, body, jsonPath] = REQUEST_PARAMETER.exec(parameter) ?? [];
          if (jsonPath !== undefined && !parseJsonPath(jsonPath)) {
            add([...at, 'cacheKeyParameters', i], `malformed JSON path ${describeValue(jsonPath)} (use method.request.body.$.a.b[0])`);
          }
          if (location === 'path' && !pathParams.includes(name!)) {
            add([...at, 'cacheKeyParameters', i], `path parameter ${describeValue(name)} is not in ${resourcePath}`);
          }
          if (body && (method === 'GET' || method === 'HEAD')) {
            add([...at, 'cacheKeyParameters', i], `method.request.body cannot be a key part of ${method} (its body is ignored)`);
          }
        });
        if (definition.cachePlugin !== undefined) {
          if (!(definition.cachePlugin in config.cachePlugins)) {
            add([...at, 'cachePlugin'], `unknown cache plug-in ${describeValue(definition.cachePlugin)} (not in cachePlugins)`);
          }
          if (method !== 'GET' && method !== 'ANY') add([...at, 'cachePlugin'], 'a cache plug-in caches GET only; attach it to GET or ANY');
        }
        if (definition.httpCache !== undefined) {
          if (!(definition.httpCache in config.httpCaches)) {
            add([...at, 'httpCache'], `unknown HTTP cache ${describeValue(definition.httpCache)} (not in httpCaches)`);
          }
          if (definition.cachePlugin !== undefined) add([...at, 'httpCache'], 'a method takes one cache policy: cachePlugin or httpCache, not both');
        }
        const integration = definition.integration;
        if (!integration) {
          // A method under construction (PutMethod before PutIntegration) is fine until something serves it.
          const servedBy = Object.entries(api.stages).find(([, stage]) => stage.deploymentId === undefined)?.[0];
          if (servedBy !== undefined) add([...at, 'integration'], `is required (stage ${servedBy} serves these resources)`);
          continue;
        }
        if (integration.type === 'HTTP_PROXY') {
          for (const [, name] of integration.uri.matchAll(/(?<!\$)\{([^}+]+)\+?\}/g)) {
            if (!pathParams.includes(name!)) add([...at, 'integration', 'uri'], `{${name}} is not a path parameter of ${resourcePath}`);
          }
        }
        if (integration.type === 'FUNCTION') {
          const file = resolve(baseDir, integration.handler.split('#')[0]!);
          if (!existsSync(file)) add([...at, 'integration', 'handler'], `file not found: ${file}`);
        }
        if (definition.cacheNamespace && integration.cacheNamespace && definition.cacheNamespace !== integration.cacheNamespace) {
          add([...at, 'cacheNamespace'], `differs from integration.cacheNamespace ${describeValue(integration.cacheNamespace)}; set one`);
        }
      }
    }
    if (api.openapi !== undefined && !existsSync(resolve(baseDir, api.openapi))) {
      add(['apis', apiIndex, 'openapi'], `file not found: ${resolve(baseDir, api.openapi)}`);
    }

    for (const [stageName, stage] of Object.entries(api.stages)) {
      for (const [key, setting] of Object.entries(stage.methodSettings)) {
        const at = ['apis', apiIndex, 'stages', stageName, 'methodSettings', key];
        const parsed = parseMethodSettingsKey(key);
        if (!parsed) {
          add(at, `key must be "*/*" or "{resource path without leading /}/{METHOD}" such as "pets/{petId}/GET", got ${describeValue(key)}`);
        } else if (parsed !== '*/*' && !hasMethod(api.resources, parsed.resourcePath, parsed.method)
          && !hasMethod(api.deployments?.[stage.deploymentId ?? '']?.resources ?? {}, parsed.resourcePath, parsed.method)) {
          add(at, `no method ${parsed.method} on resource ${describeValue(parsed.resourcePath)}`);
        }
        if (setting.cacheDataEncrypted) encrypted ??= [...at, 'cacheDataEncrypted'];
      }
    }
  });

  // SPEC §4: TLS certificate and key files must be readable at start (and at each SIGHUP).
  for (const field of ['tls', 'dataTls', 'adminTls'] as const) {
    const tls = config.gateway[field];
    if (!tls) continue;
    for (const part of ['cert', 'key'] as const) {
      const file = resolve(baseDir, tls[part]);
      if (!existsSync(file)) add(['gateway', field, part], `file not found: ${file}`);
    }
  }

  if (encrypted && config.store.encryptionKey === undefined) {
    add(['store', 'encryptionKey'], `is required because ${formatPath(encrypted)} is true`);
  }
  if (config.store.encryptionKey !== undefined && !decodeEncryptionKey(config.store.encryptionKey)) {
    add(['store', 'encryptionKey'], 'must be 32 bytes, as 64 hex digits or base64 (got a value of another length)');
  }
  return issues;
}

/**
 * Advice that does not make a config invalid (`cachegate validate` prints it, exit 0): a cached
 * method whose declared query parameters are not all in its cache key sends them to the
 * integration (AWS behaviour), where they can shape a body served to callers who sent others.
 */
export function configHints(config: Config): ConfigIssue[] {
  const hints: ConfigIssue[] = [];
  config.apis.forEach((api, apiIndex) => {
    for (const [resourcePath, methods] of Object.entries(api.resources)) {
      for (const [method, definition] of Object.entries(methods)) {
        if (!definition || definition.cacheForwarding !== undefined || definition.cachePlugin !== undefined) continue;
        const keyed = new Set(definition.cacheKeyParameters.map(queryName).filter((name) => name !== undefined));
        const unkeyed = definition.requestParameters.map(queryName).filter((name): name is string => name !== undefined && !keyed.has(name));
        if (unkeyed.length === 0) continue;
        const cachedIn = Object.entries(api.stages).filter(([, stage]) =>
          resolveMethodSettings(stage, resourcePath, (method === 'ANY' ? 'GET' : method) as HttpMethod).cachingEnabled).map(([name]) => name);
        if (cachedIn.length === 0) continue;
        hints.push({
          path: ['apis', apiIndex, 'resources', resourcePath, method],
          message: `cached on ${cachedIn.join(', ')}, and query parameter${unkeyed.length === 1 ? ` ${unkeyed[0]} reaches` : `s ${unkeyed.join(', ')} reach`} ` +
            'the integration without being in cacheKeyParameters (AWS behaviour: one caller\'s value can shape the entry others get); ' +
            `add ${unkeyed.length === 1 ? 'it' : 'them'} to cacheKeyParameters, or set cacheForwarding: keyed-only to strip ${unkeyed.length === 1 ? 'it' : 'them'} from cached requests`,
        });
      }
    }
  });
  return hints;
}

function queryName(parameter: string): string | undefined {
  const [, location, name] = REQUEST_PARAMETER.exec(parameter) ?? [];
  return location === 'querystring' || location === 'multivaluequerystring' ? name : undefined;
}

/** 32 bytes as 64 hex digits or as base64; undefined when it is neither. */
export function decodeEncryptionKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{42,43}={0,2}$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

function hasMethod(resources: Config['apis'][number]['resources'], resourcePath: string, method: string): boolean {
  const methods = resources[resourcePath] as Partial<Record<RouteMethod, unknown>> | undefined;
  return methods !== undefined && (method in methods || 'ANY' in methods);
}

function checkUnique<T>(values: (T | undefined)[], report: (index: number, value: T) => void): void {
  const seen = new Set<T>();
  values.forEach((value, i) => {
    if (value === undefined) return;
    if (seen.has(value)) report(i, value);
    seen.add(value);
  });
}

/** SPEC §6: authorizedApps name known apps; each X-Ca-Stage value selects at most one stage. */
function checkAlibabaApi(api: Config['apis'][number], appIds: ReadonlySet<string>, add: (path: (string | number)[], message: string) => void): void {
  api.authorizedApps?.forEach((id, i) => {
    if (!appIds.has(id)) add(['authorizedApps', i], `unknown app id ${describeValue(id)} (not in apps)`);
  });
  const byAlibabaStage = new Map<string, string>();
  for (const [name, stage] of Object.entries(api.stages)) {
    const alibabaStage = stage.alibabaStage ?? (name === 'RELEASE' || name === 'PRE' || name === 'TEST' ? name : undefined);
    if (alibabaStage === undefined) continue;
    const other = byAlibabaStage.get(alibabaStage);
    if (other !== undefined) add(['stages', name, 'alibabaStage'], `X-Ca-Stage ${alibabaStage} already selects stage ${describeValue(other)}`);
    else byAlibabaStage.set(alibabaStage, name);
  }
}
