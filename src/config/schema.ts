/**
 * The config file's schema (SPEC §3). Validation happens once, at the boundary; everything
 * inside the gateway trusts the resulting `Config` type.
 *
 * Messages are written so that `path: message, got VALUE` reads well (see errors.ts).
 */
import { z } from 'zod';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const ROUTE_METHODS = [...HTTP_METHODS, 'ANY'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export type RouteMethod = (typeof ROUTE_METHODS)[number];

// AWS: the cache cluster sizes offered, in GB.
export const CACHE_CLUSTER_SIZES = ['0.5', '1.6', '6.1', '13.5', '28.4', '58.2', '118', '237'] as const;
export type CacheClusterSize = (typeof CACHE_CLUSTER_SIZES)[number];

export const UNAUTHORIZED_STRATEGIES = [
  'FAIL_WITH_403',
  'SUCCEED_WITH_RESPONSE_HEADER',
  'SUCCEED_WITHOUT_RESPONSE_HEADER',
] as const;
export type UnauthorizedCacheControlHeaderStrategy = (typeof UNAUTHORIZED_STRATEGIES)[number];

/** Max seconds an AWS cache entry may live (AWS: 0..3600). */
export const MAX_AWS_TTL_SECONDS = 3600;
/** Max seconds an Alibaba plug-in entry may live (Alibaba: 48 h). */
export const MAX_ALIBABA_TTL_SECONDS = 172_800;
/** Alibaba Cloud API Gateway's environments, named by `X-Ca-Stage`. */
export const ALIBABA_STAGES = ['RELEASE', 'PRE', 'TEST'] as const;
export type AlibabaStage = (typeof ALIBABA_STAGES)[number];
/** Nonces one app may have on record at once (SPEC §7: bounded per-request state); past it requests are refused, never forgotten. */
export const DEFAULT_NONCE_LIMIT_PER_APP = 100_000;

const int = (min: number, max: number, what = `must be an integer ${min}..${max}`) =>
  z.number({ error: what }).int({ error: what }).min(min, { error: what }).max(max, { error: what });

const bool = z.boolean({ error: 'must be true or false' });
const nonEmpty = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });

/** `host:port`, `:port` or a bare port; the host defaults to 127.0.0.1. */
const listenAddress = z
  .union([z.string(), z.number()], { error: 'must be host:port or a port number' })
  .transform((value, ctx) => {
    const text = String(value);
    const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text);
    const port = match ? Number(match[2]) : NaN;
    if (!match || port > 65535) {
      ctx.addIssue({ code: 'custom', message: 'must be host:port with a port 0..65535', input: value });
      return z.NEVER;
    }
    const host = (match[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
    return { host, port };
  });
export type ListenAddress = { host: string; port: number };

const methodSettingSchema = z.strictObject({
  cachingEnabled: bool.optional(),
  cacheTtlInSeconds: int(0, MAX_AWS_TTL_SECONDS, `must be 0..${MAX_AWS_TTL_SECONDS}`).optional(),
  cacheDataEncrypted: bool.optional(),
  requireAuthorizationForCacheControl: bool.optional(),
  unauthorizedCacheControlHeaderStrategy: z
    .enum(UNAUTHORIZED_STRATEGIES, { error: `must be one of ${UNAUTHORIZED_STRATEGIES.join(', ')}` })
    .optional(),
  /** Beyond AWS (SPEC §7): serve a stale entry while one background refresh runs. */
  staleWhileRevalidateSeconds: int(0, 86_400).optional(),
  /** Beyond AWS (SPEC §7): serve a stale entry when the integration fails. */
  staleIfErrorSeconds: int(0, 86_400).optional(),
  /** Which statuses are stored; AWS stores 2xx only. */
  cacheableStatusCodes: z.array(int(100, 599), { error: 'must be a list of HTTP status codes' }).optional(),
  /** AWS never caches a response that sets a cookie; this opts in. */
  cacheResponsesWithSetCookie: bool.optional(),
  metricsEnabled: bool.optional(),
  // AWS logging settings: accepted and reported back (tools such as Terraform set them); cachegate
  // logs every request. Throttling is enforced (SPEC §8, src/gateway/throttle.ts); -1 means unset.
  loggingLevel: z.enum(['OFF', 'ERROR', 'INFO'], { error: 'must be OFF, ERROR or INFO' }).optional(),
  dataTraceEnabled: bool.optional(),
  throttlingBurstLimit: int(-1, 1_000_000_000).optional(),
  throttlingRateLimit: z.number({ error: 'must be a number' }).min(-1, { error: 'must be -1 or more' }).optional(),
});
export type MethodSettingInput = z.infer<typeof methodSettingSchema>;

const stringMap = z.record(z.string(), z.string({ error: 'must be a string' }), { error: 'must be a map of strings' });

const httpProxyIntegration = z.strictObject({
  type: z.literal('HTTP_PROXY'),
  uri: nonEmpty.refine((uri) => /^https?:\/\//i.test(uri), { error: 'must be an http:// or https:// URL' }),
  /** Method sent to the backend; default: the caller's. */
  httpMethod: z.enum(HTTP_METHODS, { error: `must be one of ${HTTP_METHODS.join(', ')}` }).optional(),
  // AWS default and (historical) maximum is 29 s; we allow longer for self-hosted backends.
  timeoutMs: int(1, 300_000).default(29_000),
  cacheNamespace: nonEmpty.optional(),
  /** Control plane: created as AWS type HTTP (served as a pass-through; mapping templates are not run). */
  awsType: z.literal('HTTP').optional(),
});

const mockIntegration = z.strictObject({
  type: z.literal('MOCK'),
  statusCode: int(100, 599).default(200),
  headers: stringMap.default({}),
  body: z.string({ error: 'must be a string' }).default(''),
  cacheNamespace: nonEmpty.optional(),
});

const functionIntegration = z.strictObject({
  type: z.literal('FUNCTION'),
  /** `./path/to/module.js#exportName`, relative to the config file. */
  handler: nonEmpty.regex(/^[^#]+(#[A-Za-z_$][\w$]*)?$/, { error: 'must be ./module.js#exportName' }),
  timeoutMs: int(1, 900_000).default(29_000),
  cacheNamespace: nonEmpty.optional(),
  /** Control plane: the AWS_PROXY Lambda URI this function was chosen by (reported back as given). */
  awsUri: z.string().optional(),
});

const integrationSchema = z.discriminatedUnion('type', [httpProxyIntegration, mockIntegration, functionIntegration], {
  error: 'must have type HTTP_PROXY, MOCK or FUNCTION',
});
export type IntegrationConfig = z.infer<typeof integrationSchema>;
export type HttpProxyIntegrationConfig = z.infer<typeof httpProxyIntegration>;
export type MockIntegrationConfig = z.infer<typeof mockIntegration>;
export type FunctionIntegrationConfig = z.infer<typeof functionIntegration>;

/** `method.request.{path|querystring|multivaluequerystring|header|multivalueheader}.NAME` or `method.request.body[.json.path]`. */
export const REQUEST_PARAMETER = /^method\.request\.(?:(path|querystring|multivaluequerystring|header|multivalueheader)\.([^.\s][^\s]*)|(body)(?:\.(\$?[\w.[\]$-]+))?)$/;
const requestParameter = z
  .string({ error: 'must be a string' })
  .regex(REQUEST_PARAMETER, { error: 'must be method.request.{path|querystring|header}.NAME or method.request.body' });

const methodSchema = z.strictObject({
  requestParameters: z.array(requestParameter, { error: 'must be a list' }).default([]),
  cacheKeyParameters: z.array(requestParameter, { error: 'must be a list' }).default([]),
  cacheNamespace: nonEmpty.optional(),
  cachePlugin: nonEmpty.optional(),
  /** SPEC §6b: the standard HTTP cache (a name under httpCaches) for this method. */
  httpCache: nonEmpty.optional(),
  /**
   * What a cached request sends the integration besides its keyed inputs: `all` (default, AWS)
   * also its unkeyed query parameters; `keyed-only` nothing outside the key. Unkeyed headers of a
   * cached request never reach the integration either way (README "The stage cache").
   */
  cacheForwarding: z.enum(['all', 'keyed-only'], { error: 'must be all or keyed-only' }).optional(),
  /** Optional only while a method is built call by call (PutMethod, then PutIntegration); a served method has one (semantics.ts). */
  integration: integrationSchema.optional(),
  // AWS resource-model fields the control plane stores and reports (Terraform reads them back).
  authorizationType: z.enum(['NONE', 'AWS_IAM', 'CUSTOM', 'COGNITO_USER_POOLS'], { error: 'must be NONE, AWS_IAM, CUSTOM or COGNITO_USER_POOLS' }).optional(),
  apiKeyRequired: bool.optional(),
  operationName: z.string().optional(),
  methodResponses: z.record(z.string().regex(/^[1-5]\d\d$/, { error: 'status code must be 3 digits' }), z.record(z.string(), z.unknown())).optional(),
  integrationResponses: z.record(z.string().regex(/^[1-5]\d\d$/, { error: 'status code must be 3 digits' }), z.record(z.string(), z.unknown())).optional(),
  /** The PutIntegration input `integration` was derived from, reported back as given. */
  awsIntegration: z.record(z.string(), z.unknown()).optional(),
});
export type MethodConfig = z.infer<typeof methodSchema>;

const resourcePath = z
  .string()
  .regex(/^\/(?:(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z0-9._-]+\})(?:\/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+|\{[A-Za-z0-9._-]+\}))*(?:\/\{[A-Za-z0-9._-]+\+\})?|\{[A-Za-z0-9._-]+\+\})?$/, {
    error: 'resource path must look like /pets/{petId} (a greedy {name+} only last)',
  });

const resourceSchema = z.partialRecord(
  z.enum(ROUTE_METHODS, { error: `method must be one of ${ROUTE_METHODS.join(', ')}` }),
  methodSchema,
  { error: 'must be a map of HTTP methods' },
);

const stageSchema = z.strictObject({
  description: z.string().optional(),
  variables: stringMap.default({}),
  cacheClusterEnabled: bool.default(false),
  cacheClusterSize: z
    .union([z.string(), z.number()])
    .transform((value) => String(value))
    .pipe(z.enum(CACHE_CLUSTER_SIZES, { error: `must be one of ${CACHE_CLUSTER_SIZES.join(', ')} (GB)` }))
    .default('0.5'),
  cacheCapacityBytes: int(1024, Number.MAX_SAFE_INTEGER, 'must be an integer >= 1024').optional(),
  methodSettings: z.record(z.string(), methodSettingSchema).default({}),
  /** The deployment this stage serves (SPEC §8: deployments are snapshots); none: the API's resources as configured. */
  deploymentId: z.string().regex(/^[a-z0-9]{1,32}$/, { error: 'must be a deployment id' }).optional(),
  tracingEnabled: bool.optional(),
  tags: stringMap.optional(),
  /** Alibaba: the X-Ca-Stage value (RELEASE, PRE, TEST) that selects this stage on an API with `stageFrom: header`. */
  alibabaStage: z.enum(ALIBABA_STAGES, { error: 'must be RELEASE, PRE or TEST' }).optional(),
});
export type StageConfig = z.infer<typeof stageSchema>;

export const apiSchema = z.strictObject({
  id: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1..64 letters, digits, - or _' }),
  name: nonEmpty.optional(),
  description: z.string().optional(),
  host: nonEmpty.regex(/^[A-Za-z0-9.-]+(:\d+)?$/, { error: 'must be a host name' }).optional(),
  openapi: nonEmpty.optional(),
  resources: z.record(resourcePath, resourceSchema, { error: 'must be a map of resource paths' }).default({}),
  stages: z.record(
    z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, { error: 'stage name must be letters, digits, - or _' }),
    stageSchema,
    { error: 'must be a map of stage names' },
  ),
  tags: stringMap.optional(),
  /** Control plane: snapshots of `resources` that stages serve (CreateDeployment). */
  deployments: z.record(
    z.string().regex(/^[a-z0-9]{1,32}$/, { error: 'must be a deployment id' }),
    z.strictObject({
      createdDate: z.number(),
      description: z.string().optional(),
      resources: z.record(resourcePath, resourceSchema, { error: 'must be a map of resource paths' }),
    }),
  ).optional(),
  /** Alibaba: `header` takes the stage from X-Ca-Stage (default RELEASE) instead of the first path segment. */
  stageFrom: z.enum(['path', 'header'], { error: 'must be path or header' }).default('path'),
  /** Alibaba: `required` refuses callers that do not prove an app (AppKey signature or AppCode). */
  appAuth: z.enum(['optional', 'required'], { error: 'must be optional or required' }).default('optional'),
  /** Alibaba: only these app ids may call the API (implies appAuth: required). */
  authorizedApps: z.array(z.union([z.string(), z.number()]).transform(String), { error: 'must be a list of app ids' }).optional(),
});
export type ApiConfig = z.infer<typeof apiSchema>;

const policyStatement = z.strictObject({
  effect: z.enum(['Allow', 'Deny'], { error: 'must be Allow or Deny' }),
  action: z.union([nonEmpty, z.array(nonEmpty)], { error: 'must be an action or a list of actions' }).transform(toList),
  resource: z.union([nonEmpty, z.array(nonEmpty)], { error: 'must be an ARN pattern or a list' }).default('*').transform(toList),
});
export type PolicyStatement = z.infer<typeof policyStatement>;

const identitySchema = z
  .strictObject({
    name: nonEmpty,
    accessKeyId: nonEmpty.optional(),
    secretAccessKey: nonEmpty.optional(),
    apiKey: z.string().min(8, { error: 'must be at least 8 characters' }).optional(),
    policy: z.array(policyStatement, { error: 'must be a list of statements' }).default([]),
  })
  .superRefine((identity, ctx) => {
    if (identity.accessKeyId && !identity.secretAccessKey)
      ctx.addIssue({ code: 'custom', path: ['secretAccessKey'], message: 'is required with accessKeyId', input: undefined });
    if (!identity.accessKeyId && !identity.apiKey)
      ctx.addIssue({ code: 'custom', path: [], message: 'needs accessKeyId/secretAccessKey or apiKey', input: identity.name });
  });
export type IdentityConfig = z.infer<typeof identitySchema>;

const appSchema = z.strictObject({
  id: z.union([z.string(), z.number()]).transform(String).pipe(nonEmpty),
  appKey: nonEmpty.optional(),
  appSecret: nonEmpty.optional(),
  appCode: nonEmpty.optional(),
  /** Nonces this app may have on record within the 15-minute window (its request rate × 30 min is enough). */
  nonceLimit: int(1, 100_000_000).default(DEFAULT_NONCE_LIMIT_PER_APP),
});
export type AppConfig = z.infer<typeof appSchema>;

const cachePluginSchema = z.strictObject({
  varyByApp: bool.default(false),
  varyByParameters: z.array(nonEmpty, { error: 'must be a list of parameter names' }).default([]),
  varyByHeaders: z.array(nonEmpty, { error: 'must be a list of header names' }).default([]),
  clientCacheControl: z
    .strictObject({
      mode: z.enum(['off', 'all', 'app'], { error: 'must be off, all or app' }).default('off'),
      apps: z.array(z.union([z.string(), z.number()]).transform(String)).default([]),
    })
    .default({ mode: 'off', apps: [] }),
  cacheableHeaders: z.array(nonEmpty, { error: 'must be a list of header names' }).default([]),
  duration: int(1, MAX_ALIBABA_TTL_SECONDS, `must be 1..${MAX_ALIBABA_TTL_SECONDS}`).default(300),
  cacheSpaceBytes: int(1024, Number.MAX_SAFE_INTEGER, 'must be an integer >= 1024').default(5 * 1024 * 1024),
});
export type CachePluginConfig = z.infer<typeof cachePluginSchema>;

/** SPEC §6b: an RFC 9111 shared cache, declared once and chosen per method with `httpCache: NAME`. */
const httpCacheSchema = z.strictObject({
  /** Per stage, LRU by bytes. */
  capacityBytes: int(1024, Number.MAX_SAFE_INTEGER, 'must be an integer >= 1024').default(64 * 1024 * 1024),
  /** Of (Date - Last-Modified), RFC 9111 §4.2.2; 0 disables heuristic freshness. */
  heuristicFraction: z.number({ error: 'must be a number 0..1' }).min(0, { error: 'must be a number 0..1' }).max(1, { error: 'must be a number 0..1' }).default(0.1),
  /** No freshness lifetime above this many seconds. */
  maxTtl: int(0, 31_536_000, 'must be 0..31536000 (seconds)').default(86_400),
  /** RFC 9213 targeted fields honoured before Cache-Control, in order. */
  targeted: z.array(nonEmpty.regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'must be a header name' }), { error: 'must be a list of header names' }).default(['CDN-Cache-Control']),
});
export type HttpCacheConfig = z.infer<typeof httpCacheSchema>;

const storeSchema = z
  .strictObject({
    type: z.enum(['memory', 'redis', 'redis-cluster'], { error: 'must be memory, redis or redis-cluster' }).default('memory'),
    url: nonEmpty.regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }).optional(),
    nodes: z.array(nonEmpty.regex(/^[^\s:]+:\d+$/, { error: 'must be host:port' })).optional(),
    encryptionKey: nonEmpty.optional(),
    /** Time budget of one store call before the gateway serves from the integration instead. */
    timeoutMs: int(1, 10_000).default(50),
    /** Redis: keep read and written entries in process this long (0: off); see LocalEntries. */
    localCacheMs: int(0, 60_000).default(0),
  })
  .superRefine((store, ctx) => {
    if (store.type === 'redis' && !store.url)
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when type is redis', input: undefined });
    if (store.type === 'redis-cluster' && !store.nodes?.length)
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'is required when type is redis-cluster', input: undefined });
  });
export type StoreConfig = z.infer<typeof storeSchema>;

/** Account-level throttling (SPEC §8); AWS's default is 10,000 requests per second, bursts of 5,000. */
const throttleSchema = z.strictObject({
  rateLimit: z.number({ error: 'must be a number' }).min(0, { error: 'must be 0 or more' }),
  burstLimit: int(0, 1_000_000_000),
});
export type ThrottleConfig = z.infer<typeof throttleSchema>;

/** PEM files for a listener (SPEC §4), relative to the config file; re-read on SIGHUP. */
const tlsSchema = z.strictObject({
  cert: nonEmpty,
  key: nonEmpty,
  /** Lowest protocol accepted; TLS 1.2 by default (modern clients all speak it). */
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'must be TLSv1.2 or TLSv1.3' }).default('TLSv1.2'),
});
export type TlsConfig = z.infer<typeof tlsSchema>;

const gatewaySchema = z.strictObject({
  listen: listenAddress.default({ host: '127.0.0.1', port: 8080 }),
  admin: listenAddress.default({ host: '127.0.0.1', port: 9090 }),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: 'must be an AWS-style region such as us-east-1' }).default('us-east-1'),
  accountId: z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(/^\d{12}$/, { error: 'must be 12 digits' })).default('000000000000'),
  metricsAuth: bool.default(false),
  /** Host names the admin listener answers besides IP literals and localhost (DNS-rebinding guard). */
  /** Named handlers the control plane may point AWS_PROXY integrations at (never a path from a request). */
  functions: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'function name must be letters, digits, - or _' }), nonEmpty.regex(/^[^#]+(#[A-Za-z_$][\w$]*)?$/, { error: 'must be ./module.js#exportName' })).default({}),
  adminHosts: z.array(nonEmpty.regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a host name' }), { error: 'must be a list of host names' }).default([]),
  stateFile: nonEmpty.optional(),
  /** Time a draining gateway waits for in-flight requests on SIGTERM. */
  shutdownTimeoutMs: int(0, 600_000).default(10_000),
  /** Account-level throttle; unset: AWS's default applies only under method-setting limits. */
  throttle: throttleSchema.optional(),
  /** TLS for both listeners, or for one (`dataTls` / `adminTls` take precedence). */
  tls: tlsSchema.optional(),
  dataTls: tlsSchema.optional(),
  adminTls: tlsSchema.optional(),
});
export type GatewaySettings = z.infer<typeof gatewaySchema>;

export const configSchema = z.strictObject({
  gateway: gatewaySchema.default(() => gatewaySchema.parse({})),
  store: storeSchema.default(() => storeSchema.parse({})),
  identities: z.array(identitySchema, { error: 'must be a list' }).default([]),
  apps: z.array(appSchema, { error: 'must be a list' }).default([]),
  cachePlugins: z.record(z.string(), cachePluginSchema, { error: 'must be a map of plug-in names' }).default({}),
  httpCaches: z.record(z.string(), httpCacheSchema, { error: 'must be a map of HTTP cache names' }).default({}),
  apis: z.array(apiSchema, { error: 'must be a list of APIs' }).min(1, { error: 'must list at least one API' }),
});
export type Config = z.infer<typeof configSchema>;

function toList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

/** Every field name the schema knows, for "did you mean" hints on unknown fields. */
export const KNOWN_FIELDS: ReadonlySet<string> = new Set(
  [
    configSchema, gatewaySchema, throttleSchema, tlsSchema, storeSchema, identitySchema, policyStatement, appSchema, cachePluginSchema, httpCacheSchema,
    apiSchema, stageSchema, methodSchema, methodSettingSchema, httpProxyIntegration, mockIntegration, functionIntegration,
  ].flatMap((schema) => Object.keys(schema.shape)).concat(['mode', 'apps']),
);

/** Where each field name belongs, for an unknown-field message whose field exists elsewhere (`gateway.minVersion`). */
export const FIELD_SECTIONS: ReadonlyMap<string, readonly string[]> = (() => {
  const sections: [string, { shape: object }][] = [
    ['the top level', configSchema], ['gateway', gatewaySchema], ['gateway.throttle', throttleSchema],
    ['gateway.tls (or dataTls, adminTls)', tlsSchema], ['store', storeSchema], ['identities[]', identitySchema],
    ['identities[].policy[]', policyStatement], ['apps[]', appSchema], ['cachePlugins.NAME', cachePluginSchema],
    ['httpCaches.NAME', httpCacheSchema], ['apis[]', apiSchema], ['apis[].stages.NAME', stageSchema],
    ['apis[].resources.PATH.METHOD', methodSchema], ['methodSettings', methodSettingSchema],
    ['integration', httpProxyIntegration], ['integration', mockIntegration], ['integration', functionIntegration],
  ];
  const places = new Map<string, string[]>();
  for (const [label, schema] of sections) {
    for (const field of Object.keys(schema.shape)) {
      const list = places.get(field) ?? [];
      if (!list.includes(label)) list.push(label);
      places.set(field, list);
    }
  }
  return places;
})();
