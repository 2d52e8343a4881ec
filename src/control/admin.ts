/**
 * The admin listener: Prometheus metrics and the AWS-compatible control plane. `GET /metrics` is
 * open unless `gateway.metricsAuth`; everything else needs an identity (SigV4 service
 * `apigateway`, or `x-api-key`) whose policy allows `apigateway:{METHOD}` on the resource's ARN.
 *
 * Order matters (issue 13): Host check → canonical path → identity from headers → route and
 * policy → only then the body. The ARN is built from the matched route and its decoded
 * parameters (admin-path.ts, route.ts), never from the raw path.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, sendError } from '../errors.js';
import type { Gateway } from '../gateway/gateway.js';
import { apigatewayArn } from '../auth/policy.js';
import { headerValues } from '../auth/sigv4.js';
import type { Identity } from '../auth/identities.js';
import { canonicalAdminPath, type CanonicalPath } from './admin-path.js';
import { BodyBudget, MAX_ADMIN_BODY_BYTES, MAX_UNVERIFIED_BODY_BYTES } from './admin-body.js';
import { AdminHosts } from './admin-host.js';
import { serveConsoleAsset } from './console/static.js';
import { serveHealth } from '../gateway/health.js';
import { CONSOLE_API_ROUTES } from './rest/console-stats.js';
import { CONTROL_ROUTES } from './rest/index.js';
import { compileRoutes, findRoute } from './rest/route.js';

const ROUTES = compileRoutes([...CONTROL_ROUTES, ...CONSOLE_API_ROUTES]);

export class AdminPlane {
  private readonly bodies = new BodyBudget();
  private hosts: AdminHosts | undefined;

  constructor(private readonly gateway: Gateway) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // SPEC §8: every admin response carries x-amzn-RequestId, errors included.
    res.setHeader('x-amzn-RequestId', randomUUID());
    this.serve(req, res).catch((error: unknown) => {
      // A body we did not read is not worth reading: close instead of draining it.
      if (!req.complete) res.setHeader('connection', 'close');
      if (error instanceof GatewayError) return sendError(res, error.code, error.message);
      this.gateway.logger.error({ err: error }, 'admin request failed');
      sendError(res, 'INTERNAL');
    });
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.allowedHosts().check(req.headers.host);
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
    // SPEC §8: /healthz and /readyz answer without credentials (probes carry none).
    if (serveHealth(this.gateway, req, res, rawPath)) return;
    // The web console's page and assets are public (the page logs in with an API key itself);
    // its data comes from authenticated routes (`/restapis…`, `/console/api/…`) below.
    if (await serveConsoleAsset(req, res, rawPath)) return;
    // A path that has no canonical form is refused, but only after authentication (anonymous
    // callers learn nothing about the admin API beyond "authenticate").
    let path: CanonicalPath | GatewayError;
    try {
      path = canonicalAdminPath(rawPath);
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      path = error;
    }
    const method = req.method ?? 'GET';
    const isMetrics = method === 'GET' && !(path instanceof GatewayError) && path.text === '/metrics';
    if (isMetrics && !this.gateway.loaded.config.gateway.metricsAuth) return this.metrics(res);

    const { identity, verifyBody, release } = await this.authenticate(req, rawUrl);
    try {
      if (path instanceof GatewayError) throw path;
      await this.route(req, res, { rawUrl, queryStart, path, method, isMetrics, identity, verifyBody });
    } finally {
      release?.();
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    { rawUrl, queryStart, path, method, isMetrics, identity, verifyBody }: {
      rawUrl: string; queryStart: number; path: CanonicalPath; method: string; isMetrics: boolean;
      identity: Identity; verifyBody: (() => Promise<Buffer>) | undefined;
    },
  ): Promise<void> {
    const allowed = (arnPath: string) => identity.policy.allows(`apigateway:${method}`, apigatewayArn(this.gateway.region, arnPath));
    if (isMetrics) {
      if (!allowed('/metrics')) throw new GatewayError('ACCESS_DENIED');
      return this.metrics(res);
    }

    const found = findRoute(ROUTES, method, path.segments);
    if (!found) throw new GatewayError('NOT_FOUND', `No admin resource at ${path.text}`);
    if ('methodMismatch' in found) throw new GatewayError('METHOD_NOT_ALLOWED', `Method ${method} not allowed on ${path.text}`);
    if (!allowed(found.arnPath)) {
      throw new GatewayError('ACCESS_DENIED', `User ${identity.name} is not authorized to perform apigateway:${method} on ${found.arnPath}`);
    }
    const read = verifyBody ? { body: await verifyBody(), release: () => undefined } : await this.bodies.read(req, MAX_ADMIN_BODY_BYTES);
    try {
      const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
      this.gateway.logger.info({ operation: found.route.operation, identity: identity.name, path: found.arnPath }, 'control plane');
      await found.route.handle({ req, res, params: found.params, query, body: read.body, identity, gateway: this.gateway });
    } finally {
      read.release();
    }
  }

  /**
   * The caller, from headers wherever possible. `x-api-key`: no body needed. SigV4 signs the
   * payload: with a signed `x-amz-content-sha256` the signature is checked first and the body
   * later against that hash (`verifyBody`); otherwise the body is read — at most
   * MAX_UNVERIFIED_BODY_BYTES, and only for an access key we know — before the signature is checked.
   */
  private async authenticate(req: IncomingMessage, rawUrl: string): Promise<{ identity: Identity; verifyBody?: () => Promise<Buffer>; release?: () => void }> {
    const { identities } = this.gateway;
    const request = { method: req.method ?? 'GET', rawUrl, rawHeaders: req.rawHeaders };
    const sigv4 = headerValues(req.rawHeaders, 'authorization').some((value) => /^AWS4-/i.test(value)) || /[?&]X-Amz-Signature=/.test(rawUrl);
    if (!sigv4) {
      const auth = await identities.authenticate({ ...request, body: undefined }, 'apigateway', Date.now());
      return { identity: accepted(auth) };
    }
    const accessKeyId = /Credential=([^/,\s]+)\//.exec(headerValues(req.rawHeaders, 'authorization')[0] ?? decodeURIComponent(/[?&]X-Amz-Credential=([^&]*)/.exec(rawUrl)?.[1] ?? ''))?.[1];
    if (accessKeyId !== undefined && !identities.byAccessKeyId(accessKeyId)) throw new GatewayError('UNRECOGNIZED_CLIENT');
    const claimed = headerValues(req.rawHeaders, 'x-amz-content-sha256');
    if (claimed.length === 1 && /^[0-9a-fA-F]{64}$/.test(claimed[0]!)) {
      const auth = await identities.authenticate({ ...request, body: undefined, payloadHashCheckedByCaller: true }, 'apigateway', Date.now());
      const identity = accepted(auth);
      return {
        identity,
        verifyBody: async () => {
          const read = await this.bodies.read(req, MAX_ADMIN_BODY_BYTES);
          read.release();
          if (read.sha256 !== claimed[0]!.toLowerCase()) throw new GatewayError('INVALID_SIGNATURE', 'The provided x-amz-content-sha256 header does not match what was computed');
          return read.body;
        },
      };
    }
    const read = await this.bodies.read(req, MAX_UNVERIFIED_BODY_BYTES);
    try {
      const auth = await identities.authenticate({ ...request, body: read.body }, 'apigateway', Date.now());
      return { identity: accepted(auth), verifyBody: async () => read.body, release: read.release };
    } catch (error) {
      read.release();
      throw error;
    }
  }

  private allowedHosts(): AdminHosts {
    if (!this.hosts) {
      const settings = this.gateway.loaded.config.gateway;
      const adminHost = this.gateway.adminUrl ? new URL(this.gateway.adminUrl).hostname.replace(/^\[|\]$/g, '') : settings.admin.host;
      this.hosts = new AdminHosts(adminHost, settings.adminHosts ?? []);
    }
    return this.hosts;
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const text = await this.gateway.metricsText();
    res.writeHead(200, { 'content-type': this.gateway.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

function accepted(auth: Awaited<ReturnType<Gateway['identities']['authenticate']>>): Identity {
  if (auth.kind === 'anonymous') throw new GatewayError('MISSING_AUTHENTICATION');
  if (auth.kind === 'rejected') throw new GatewayError(auth.code, auth.message);
  return auth.identity;
}
