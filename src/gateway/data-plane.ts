/**
 * The data plane's request handler: parse → choose API by Host → stage → resource → method →
 * (cache step or) integration → response. Every failure becomes a JSON answer from the error
 * registry; nothing a caller sends can crash the process or hang the socket.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HTTP_METHODS, type HttpMethod } from '../config/schema.js';
import { withoutAppCode } from '../auth/app-code.js';
import { answerAsAlibaba, GatewayError, sendError, type ErrorCode } from '../errors.js';
import { IntegrationError, type IntegrationResponse } from '../integrations/integration.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { RequestContext } from './context.js';
import { nextRequestId } from './request-id.js';
import { canonicalRequestPath } from './router.js';
import { selectApi, selectMethod, selectStage, type GatewaySnapshot, type MethodRoute, type ResourceMethods } from './runtime.js';
import type { Throttle, ThrottleScope } from './throttle.js';

/** Longest request target accepted (path + query); longer → 414, as most proxies do at 8 KiB. */
export const MAX_URL_LENGTH = 8192;

/**
 * The seam between routing and integration. When a cache step takes a request it answers it
 * completely (from the cache or via `ctx.invoke`); otherwise the gateway forwards it.
 */
export interface CacheStep {
  serve(ctx: RequestContext): Promise<boolean> | boolean;
}

export interface DataPlaneDeps {
  snapshot: () => GatewaySnapshot;
  metrics: GatewayMetrics;
  logger: Logger;
  cache?: CacheStep;
  /** Throttling (SPEC §8); skipped entirely while `throttle.active` is false. */
  throttle?: Throttle;
}

const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);
const PATH_PROBLEMS = {
  'dot-segment': 'Request path must not contain "." or ".." segments',
  'empty-segment': 'Request path must not contain empty segments ("//")',
  'encoded-slash': 'Request path must not contain an encoded "/" (%2F)',
} as const;

export class DataPlane {
  constructor(private readonly deps: DataPlaneDeps) {}

  /** The `request` listener of the data-plane server. A cache hit is answered without a promise. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      this.serve(req, res);
    } catch (error) {
      this.fail(res, error, undefined);
    }
  };

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = Date.now();
    const started = performance.now();
    const rawUrl = req.url ?? '/';
    if (rawUrl.length > MAX_URL_LENGTH) return this.reject(req, res, 'URI_TOO_LONG', started);
    // Origin-form only (`/path?query`); absolute-form targets are for forward proxies.
    if (rawUrl.charCodeAt(0) !== 47 /* / */) return this.reject(req, res, 'BAD_REQUEST', started, 'Request target must start with /');
    if (rawUrl.includes('%') && BAD_PERCENT.test(rawUrl)) return this.reject(req, res, 'BAD_PERCENT_ENCODING', started);

    const query = rawUrl.indexOf('?');
    const rawPath = query < 0 ? rawUrl : rawUrl.slice(0, query);
    const rawQuery = query < 0 ? '' : rawUrl.slice(query + 1);

    // One canonical path for routing, the ARN and the key (SPEC §7); the stage is its first segment.
    const canonical = canonicalRequestPath(rawPath);
    if (!canonical.ok) {
      if (canonical.problem === 'percent-encoding') return this.reject(req, res, 'BAD_PERCENT_ENCODING', started);
      return this.reject(req, res, 'BAD_REQUEST', started, PATH_PROBLEMS[canonical.problem]);
    }
    const api = selectApi(this.deps.snapshot(), req.headers.host);
    const selected = api && selectStage(api, canonical.segments, canonical.text, req.headers['x-ca-stage']);
    const stage = selected?.stage;
    // An Alibaba client gets its request id and error headers even for an unknown stage or path (SPEC §6).
    if (api?.usesApps) answerAsAlibaba(res, nextRequestId());
    if (!api || !stage) return this.reject(req, res, 'ROUTE_NOT_FOUND', started, `No stage ${JSON.stringify(selected?.name ?? '')} on this API`);

    const { segments, path } = selected;
    // The stage's own deployment: its routes as of its deploymentId (SPEC §8 snapshots).
    const match = stage.router.match(segments);
    if (!match) return this.reject(req, res, 'ROUTE_NOT_FOUND', started);

    const method = req.method as HttpMethod;
    // SPEC §6b: a greedy ANY method under httpCache passes any method token through (Node's parser
    // admits only registered methods, so the set stays bounded).
    const route = KNOWN_METHODS.has(method) ? selectMethod(match.value, method) : anyWithHttpCache(match.value);
    if (!route) {
      const allow = [...match.value.keys()].includes('ANY') ? HTTP_METHODS.join(', ') : [...match.value.keys()].join(', ');
      return this.reject(req, res, 'METHOD_NOT_ALLOWED', started, `Method ${req.method} not allowed on ${match.resourcePath}`, { allow });
    }

    const metrics = this.deps.metrics.forRoute(route, api.id, stage.name, match.resourcePath, method);
    // SPEC §6: an AppCode in the query is a credential, removed before forwarding and keying.
    const forwardedQuery = api.usesApps ? withoutAppCode(rawQuery) : rawQuery;
    const ctx = new RequestContext(req, res, route, stage, method, path, forwardedQuery, match.pathParameters, nextRequestId(), receivedAt, metrics);
    const { throttle } = this.deps;
    // SPEC §8: throttling is checked before the cache (a hit costs a token too, as on AWS).
    if (throttle?.active) {
      const verdict = throttle.check(stage, route, method);
      if (verdict !== undefined) {
        if (typeof verdict === 'string') return this.refuseThrottled(ctx, verdict, started);
        verdict
          .then((scope) => (scope === undefined ? this.answer(ctx, started) : this.refuseThrottled(ctx, scope, started)))
          .catch((error: unknown) => this.fail(res, error, ctx));
        return;
      }
    }
    this.answer(ctx, started);
  }

  /** 429 TooManyRequestsException, counted by scope; the request never reaches the cache or the integration. */
  private refuseThrottled(ctx: RequestContext, scope: ThrottleScope, started: number): void {
    if (ctx.callerGone) return;
    this.deps.throttle!.count(ctx.labels, scope);
    ctx.req.resume();
    ctx.res.once('finish', () => this.record(ctx, started));
    sendError(ctx.res, 'TOO_MANY_REQUESTS', undefined, { 'x-amzn-requestid': ctx.requestId });
  }

  /** The cache step (or the integration) answers a routed, admitted request. */
  private answer(ctx: RequestContext, started: number): void {
    const { res } = ctx;
    let served: Promise<boolean> | boolean;
    try {
      served = this.deps.cache?.serve(ctx) ?? false;
    } catch (error) {
      served = false;
      this.fail(res, error, ctx);
    }
    // A synchronous answer (a cache hit) is complete here: record it without a 'finish' listener.
    if (res.writableEnded) return this.record(ctx, started);
    res.once('finish', () => this.record(ctx, started));
    if (served === true) return;
    const pending = served === false ? this.forward(ctx) : served.then((done) => (done ? undefined : this.forward(ctx)));
    pending.catch((error: unknown) => this.fail(res, error, ctx));
  }

  /** Calls the integration and writes its answer as it is. */
  private async forward(ctx: RequestContext): Promise<void> {
    writeIntegrationResponse(ctx.res, await ctx.invoke(), ctx.method === 'HEAD', { 'x-amzn-requestid': ctx.requestId });
  }

  private reject(req: IncomingMessage, res: ServerResponse, code: ErrorCode, started: number, message?: string, headers?: Record<string, string>): void {
    // Drain what the caller is still sending so the connection can be reused.
    req.resume();
    sendError(res, code, message, headers);
    this.deps.logger.info({ method: req.method, url: loggedUrl(req.url), status: res.statusCode, ms: round(performance.now() - started) }, 'request rejected');
  }

  private fail(res: ServerResponse, error: unknown, ctx: RequestContext | undefined): void {
    // The caller went away first: nobody is left to answer (the integration was cancelled).
    if (ctx?.callerGone) return;
    if (ctx && !res.headersSent) res.setHeader('x-amzn-requestid', ctx.requestId);
    if (error instanceof IntegrationError) {
      this.deps.metrics.integrationErrors.inc({ ...ctx?.labels, kind: error.kind });
      this.deps.logger.warn({ requestId: ctx?.requestId, kind: error.kind, err: error.message }, 'integration failed');
      sendError(res, error.kind === 'timeout' ? 'INTEGRATION_TIMEOUT' : error.kind === 'unreachable' ? 'INTEGRATION_UNREACHABLE' : 'INTEGRATION_FAILED');
    } else if (error instanceof GatewayError) {
      sendError(res, error.code, error.message);
    } else {
      this.deps.logger.error({ requestId: ctx?.requestId, err: error }, 'unexpected error while serving a request');
      sendError(res, 'INTERNAL');
    }
  }

  private record(ctx: RequestContext, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    const status = ctx.res.statusCode;
    const { logger } = this.deps;
    ctx.metrics.record(status, ctx.cacheOutcome ?? 'none', seconds);
    if (logger.isLevelEnabled('info')) {
      logger.info({
        requestId: ctx.requestId, method: ctx.method, path: loggedUrl(ctx.req.url), api: ctx.labels.api, stage: ctx.labels.stage,
        resource: ctx.labels.resource, status, ms: round(seconds * 1000), cache: ctx.cacheOutcome, key: ctx.cacheKey && keyHash(ctx.cacheKey),
      }, 'request');
    }
  }
}

/** A request target as logged: an AppCode in the query is a credential (SPEC §6), never written to a log. */
function loggedUrl(url: string | undefined): string | undefined {
  const query = url?.indexOf('?') ?? -1;
  return query < 0 ? url : `${url!.slice(0, query + 1)}${withoutAppCode(url!.slice(query + 1))}`;
}

/**
 * Writes an integration's answer; a stream is piped, a HEAD answer carries headers only.
 * `prefix` holds body bytes already read from the stream (by the cache, before it gave up storing).
 */
export function writeIntegrationResponse(res: ServerResponse, response: IntegrationResponse, headOnly: boolean, extraHeaders?: Record<string, string>, prefix?: readonly Buffer[]): void {
  res.statusCode = response.statusCode;
  for (const name in response.headers) res.setHeader(name, response.headers[name]!);
  if (extraHeaders) for (const name in extraHeaders) res.setHeader(name, extraHeaders[name]!);
  const { body } = response;
  if (Buffer.isBuffer(body)) {
    if (!res.hasHeader('content-length')) res.setHeader('content-length', body.length);
    res.end(headOnly ? undefined : body);
  } else if (headOnly || res.destroyed) {
    // A caller already gone (a coalescing leader whose call went on for its waiters) never reads
    // it: release the backend at once ('close' will not fire again to do it).
    body.destroy();
    res.end();
  } else {
    if (prefix) for (const chunk of prefix) res.write(chunk);
    // pipe(), not stream/promises pipeline(): that one builds an AbortController and aborts it
    // (a DOMException with a stack trace) on every response — 5% of a proxied request's CPU.
    // A backend failing mid-body leaves nothing to answer with: the caller sees the connection cut;
    // a caller going away releases the backend stream.
    body.once('error', () => res.destroy());
    res.once('close', () => body.destroy());
    body.pipe(res);
  }
}

function anyWithHttpCache(methods: ResourceMethods): MethodRoute | undefined {
  const any = methods.get('ANY');
  return any?.definition.httpCache !== undefined ? any : undefined;
}

/** A short, stable digest of a cache key for logs: correlates requests without printing parameter values. */
function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
