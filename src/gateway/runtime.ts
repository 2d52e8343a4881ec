/**
 * The compiled, immutable view of the APIs that serves traffic: route tables, integrations and
 * per-stage settings, built when the config (or, later, the control plane) changes — never per
 * request (STYLE.md practice 9). A change builds a new snapshot and swaps it in atomically.
 */
import type { AlibabaStage, ApiConfig, HttpMethod, MethodConfig, RouteMethod, StageConfig } from '../config/schema.js';
import type { Integration } from '../integrations/integration.js';
import { Router } from './router.js';

export interface MethodRoute {
  readonly api: ApiRuntime;
  readonly resourcePath: string;
  /** As declared: may be ANY. */
  readonly routeMethod: RouteMethod;
  readonly definition: MethodConfig;
  readonly integration: Integration;
}

export type ResourceMethods = ReadonlyMap<RouteMethod, MethodRoute>;

export interface StageRuntime {
  readonly api: ApiRuntime;
  readonly name: string;
  readonly config: StageConfig;
  readonly variables: Readonly<Record<string, string>>;
  /**
   * The routes this stage serves: its deployment's snapshot of the resources (SPEC §8, deployments
   * are snapshots), or the API's resources as configured when it has no deploymentId.
   */
  readonly router: Router<ResourceMethods>;
}

export interface ApiRuntime {
  readonly id: string;
  readonly name: string;
  readonly host: string | undefined;
  readonly config: ApiConfig;
  /** The routes of the API's resources as they are now (served by stages without a deployment). */
  readonly router: Router<ResourceMethods>;
  readonly stages: ReadonlyMap<string, StageRuntime>;
  /** SPEC §6 `stageFrom: header`: X-Ca-Stage value → stage (a stage named RELEASE/PRE/TEST maps to itself). */
  readonly alibabaStages: ReadonlyMap<AlibabaStage, StageRuntime>;
  /** Whether any method identifies Alibaba apps (plug-in, appAuth, authorizedApps, stage by header). */
  readonly usesApps: boolean;
}

export interface GatewaySnapshot {
  readonly apis: readonly ApiRuntime[];
  /** Lower-case `host` or `host:port` → API. */
  readonly byHost: ReadonlyMap<string, ApiRuntime>;
  /** Lower-case API id → API, for `{apiId}.execute-api.*` hosts. */
  readonly byId: ReadonlyMap<string, ApiRuntime>;
}

export type IntegrationFactory = (api: ApiConfig, resourcePath: string, method: RouteMethod, definition: MethodConfig) => Integration;

export function compileSnapshot(apis: readonly ApiConfig[], createIntegration: IntegrationFactory): GatewaySnapshot {
  const compiled = apis.map((api) => compileApi(api, createIntegration));
  const byHost = new Map<string, ApiRuntime>();
  const byId = new Map<string, ApiRuntime>();
  for (const api of compiled) {
    if (api.host) byHost.set(api.host.toLowerCase(), api);
    byId.set(api.id.toLowerCase(), api);
  }
  return { apis: compiled, byHost, byId };
}

function compileApi(config: ApiConfig, createIntegration: IntegrationFactory): ApiRuntime {
  const stages = new Map<string, StageRuntime>();
  const alibabaStages = new Map<AlibabaStage, StageRuntime>();
  const hasPlugin = (resources: ApiConfig['resources']) =>
    Object.values(resources).some((methods) => Object.values(methods).some((method) => method?.cachePlugin !== undefined));
  const usesApps = config.stageFrom === 'header' || config.appAuth === 'required' || config.authorizedApps !== undefined
    || hasPlugin(config.resources) || Object.values(config.deployments ?? {}).some((deployment) => hasPlugin(deployment.resources));
  const api = { id: config.id, name: config.name ?? config.id, host: config.host, config, stages, alibabaStages, usesApps } as unknown as { -readonly [K in keyof ApiRuntime]: ApiRuntime[K] };
  api.router = compileRoutes(api, config, config.resources, createIntegration);
  // One router per deployment that a stage serves, shared by the stages on it.
  const byDeployment = new Map<string, Router<ResourceMethods>>();
  for (const [name, stage] of Object.entries(config.stages)) {
    const deployment = stage.deploymentId === undefined ? undefined : config.deployments?.[stage.deploymentId];
    let router = api.router;
    if (stage.deploymentId !== undefined) {
      router = byDeployment.get(stage.deploymentId) ?? compileRoutes(api, config, deployment?.resources ?? {}, createIntegration);
      byDeployment.set(stage.deploymentId, router);
    }
    const runtime: StageRuntime = { api, name, config: stage, variables: stage.variables, router };
    stages.set(name, runtime);
    const alibabaStage = stage.alibabaStage ?? (name === 'RELEASE' || name === 'PRE' || name === 'TEST' ? name : undefined);
    if (alibabaStage !== undefined && !alibabaStages.has(alibabaStage)) alibabaStages.set(alibabaStage, runtime);
  }
  return api;
}

function compileRoutes(api: ApiRuntime, config: ApiConfig, resources: ApiConfig['resources'], createIntegration: IntegrationFactory): Router<ResourceMethods> {
  const router = new Router<ResourceMethods>();
  for (const [resourcePath, methods] of Object.entries(resources)) {
    const routes = new Map<RouteMethod, MethodRoute>();
    for (const [method, definition] of Object.entries(methods) as [RouteMethod, MethodConfig | undefined][]) {
      // A method still being built (no integration yet) serves nothing; a deployment never holds one.
      if (!definition?.integration) continue;
      const integration = createIntegration(config, resourcePath, method, definition);
      routes.set(method, { api, resourcePath, routeMethod: method, definition, integration });
    }
    if (routes.size > 0) router.add(resourcePath, routes);
  }
  return router;
}

/**
 * Host → API: the API whose `host` matches (with or without port), else `{apiId}.execute-api.*`
 * as on AWS, else the first API.
 */
export function selectApi(snapshot: GatewaySnapshot, hostHeader: string | undefined): ApiRuntime | undefined {
  if (snapshot.apis.length === 1 && snapshot.byHost.size === 0) return snapshot.apis[0];
  if (hostHeader) {
    const host = hostHeader.toLowerCase();
    const exact = snapshot.byHost.get(host);
    if (exact) return exact;
    const colon = host.lastIndexOf(':');
    const bare = colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host;
    const byName = snapshot.byHost.get(bare);
    if (byName) return byName;
    const dot = bare.indexOf('.execute-api.');
    if (dot > 0) {
      const byId = snapshot.byId.get(bare.slice(0, dot));
      if (byId) return byId;
    }
  }
  return snapshot.apis[0];
}

/**
 * The stage a request names and the canonical path below it: the first path segment (AWS), or for
 * an API with `stageFrom: header` the `X-Ca-Stage` header (Alibaba; absent means RELEASE) with the
 * whole path left to the resources. `name` is what the caller asked for, for the 404 message.
 */
export function selectStage(api: ApiRuntime, segments: readonly string[], canonicalPath: string, stageHeader: string | string[] | undefined): { stage: StageRuntime | undefined; name: string; segments: readonly string[]; path: string } {
  if (api.config.stageFrom === 'header') {
    const name = (Array.isArray(stageHeader) ? stageHeader[0] : stageHeader)?.trim().toUpperCase() || 'RELEASE';
    return { stage: api.alibabaStages.get(name as AlibabaStage), name, segments, path: segments.length === 0 ? '/' : canonicalPath };
  }
  const name = segments[0] ?? '';
  const below = segments.slice(1);
  return { stage: api.stages.get(name), name, segments: below, path: below.length === 0 ? '/' : canonicalPath.slice(canonicalPath.indexOf('/', 1)) };
}

/** The method that serves `method` on a resource: exact, else ANY; HEAD falls back to GET. */
export function selectMethod(methods: ResourceMethods, method: HttpMethod): MethodRoute | undefined {
  return methods.get(method) ?? methods.get('ANY') ?? (method === 'HEAD' ? methods.get('GET') : undefined);
}
