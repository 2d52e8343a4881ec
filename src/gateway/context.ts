/**
 * One routed request on its way through the data plane: what the router found, and how to call
 * the method's integration. The cache step and the plain forwarder both work from this.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { HttpMethod } from '../config/schema.js';
import type { CallerLink, IntegrationRequest, IntegrationResponse } from '../integrations/integration.js';
import type { CacheOutcome } from '../cache/status.js';
import type { RouteMetrics } from '../metrics/metrics.js';
import type { MethodRoute, StageRuntime } from './runtime.js';

export class RequestContext implements CallerLink {
  /** Set by the cache step: the outcome for logs and metrics (undefined when no cache applies). */
  cacheOutcome: CacheOutcome | undefined;
  /** The cache key, when a cache policy keyed the request (its hash goes to the access log). */
  cacheKey: string | undefined;
  /**
   * The request body, when something had to read it before forwarding (an Alibaba form body the
   * signature covers): forwarded from here, since the stream has been consumed.
   */
  bufferedBody: Buffer | undefined;
  private gone: Error | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: MethodRoute,
    readonly stage: StageRuntime,
    readonly method: HttpMethod,
    /** The canonical path after the stage (router.ts canonicalRequestPath), never the raw target. */
    readonly path: string,
    readonly rawQuery: string,
    readonly pathParameters: Readonly<Record<string, string>>,
    readonly requestId: string,
    readonly receivedAt: number,
    readonly metrics: RouteMetrics,
  ) {}

  /** api, stage, resource, method: for logs and metrics. */
  get labels(): RouteMetrics['labels'] {
    return this.metrics.labels;
  }

  /** Whether the caller sent a body (Content-Length > 0 or chunked). */
  get hasBody(): boolean {
    const length = this.req.headers['content-length'];
    return (length !== undefined && length !== '0') || this.req.headers['transfer-encoding'] !== undefined;
  }

  /**
   * The request as the integration sees it. `overrides` let the cache step send another method
   * (GET for a HEAD miss), a buffered body, and the headers and query it built the cache key from.
   */
  integrationRequest(overrides: {
    method?: HttpMethod;
    rawQuery?: string;
    headers?: IncomingHttpHeaders;
    rawHeaders?: readonly string[];
    body?: Buffer | Readable | null;
  } = {}): IntegrationRequest {
    const { req } = this;
    // SPEC §6: an AppCode is a credential for the gateway, removed before forwarding — from the
    // query (data-plane.ts) and from `Authorization: APPCODE …` here.
    // (Only looked for when the caller's own headers are forwarded: the cache step sends its own.)
    const appCode = this.route.api.usesApps && (overrides.headers === undefined || overrides.rawHeaders === undefined)
      && req.rawHeaders.some((value, i) => i % 2 === 1 && isAppCodeLine(req.rawHeaders[i - 1]!, value));
    return {
      method: overrides.method ?? this.method,
      path: this.path,
      resourcePath: this.route.resourcePath,
      pathParameters: this.pathParameters,
      rawQuery: overrides.rawQuery ?? this.rawQuery,
      headers: overrides.headers ?? (appCode ? withoutAuthorization(req.headers) : req.headers),
      rawHeaders: overrides.rawHeaders ?? (appCode ? withoutAppCodeLines(req.rawHeaders) : req.rawHeaders),
      body: overrides.body !== undefined ? overrides.body : this.hasBody ? this.bufferedBody ?? req : null,
      apiId: this.route.api.id,
      stage: this.stage.name,
      stageVariables: this.stage.variables,
      requestId: this.requestId,
      receivedAt: this.receivedAt,
      sourceIp: req.socket.remoteAddress ?? '',
      host: req.headers.host ?? '',
      caller: this,
    };
  }

  /** True once the caller closed the connection before the answer was complete. */
  get callerGone(): boolean {
    return this.goneReason !== undefined;
  }

  get goneReason(): Error | undefined {
    if (this.gone === undefined && this.res.destroyed && !this.res.writableFinished) this.gone = new Error('caller closed the connection');
    return this.gone;
  }

  onGone(listener: (reason: Error) => void): () => void {
    const { res } = this;
    const already = this.goneReason;
    if (already) {
      listener(already);
      return noop;
    }
    const onClose = () => {
      const reason = this.goneReason;
      if (reason) listener(reason);
    };
    res.once('close', onClose);
    return () => res.off('close', onClose);
  }

  /**
   * RFC 9110 §15.2: a 1xx from the integration goes on to the caller before the final answer.
   * Node writes 102 and 103 itself; 100 is Node's own business (Expect), 101 is an upgrade.
   */
  interim(statusCode: number, headers: Record<string, string | string[]>): void {
    const { res } = this;
    if (res.headersSent || res.destroyed) return;
    if (statusCode === 102) res.writeProcessing();
    else if (statusCode === 103 && headers.link !== undefined) res.writeEarlyHints(headers as Record<string, string | string[]> & { link: string | string[] });
  }

  /** Calls the method's integration, timing it to its response headers (AWS IntegrationLatency). */
  async invoke(request: IntegrationRequest = this.integrationRequest()): Promise<IntegrationResponse> {
    const started = performance.now();
    try {
      return await this.route.integration.invoke(request);
    } finally {
      this.metrics.integrationLatency.observe((performance.now() - started) / 1000);
    }
  }
}

function noop(): void {}

const APP_CODE_AUTHORIZATION = /^APPCODE\s/i;

/** An `Authorization: APPCODE …` line: a credential for the gateway, never forwarded. */
function isAppCodeLine(name: string, value: string): boolean {
  return APP_CODE_AUTHORIZATION.test(value) && /^authorization$/i.test(name);
}

function withoutAuthorization(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { authorization: _credential, ...rest } = headers;
  return rest;
}

/** rawHeaders without its `Authorization: APPCODE …` lines. */
function withoutAppCodeLines(raw: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (isAppCodeLine(raw[i]!, raw[i + 1]!)) continue;
    kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept;
}
