/**
 * The admin listener: Prometheus metrics and the AWS-compatible control plane. `GET /metrics` is
 * open unless `gateway.metricsAuth`; everything else needs an identity (SigV4 service
 * `apigateway`, or `x-api-key`) whose policy allows `apigateway:{METHOD}` on the resource's ARN.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, sendError } from '../errors.js';
import type { Gateway } from '../gateway/gateway.js';
import { apigatewayArn } from '../auth/policy.js';
import { serveConsoleAsset } from './console/static.js';
import { serveHealth } from '../gateway/health.js';
import { CONSOLE_API_ROUTES } from './rest/console-stats.js';
import { CONTROL_ROUTES } from './rest/index.js';
import { compileRoutes, findRoute } from './rest/route.js';

/** Largest control-plane body accepted (an OpenAPI import is the big one). */
const MAX_ADMIN_BODY_BYTES = 16 * 1024 * 1024;
const ROUTES = compileRoutes([...CONTROL_ROUTES, ...CONSOLE_API_ROUTES]);

export class AdminPlane {
  constructor(private readonly gateway: Gateway) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((error: unknown) => {
      if (error instanceof GatewayError) return sendError(res, error.code, error.message);
      this.gateway.logger.error({ err: error }, 'admin request failed');
      sendError(res, 'INTERNAL');
    });
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart);
    // SPEC §8: /healthz and /readyz answer without credentials (probes carry none).
    if (serveHealth(this.gateway, req, res, rawPath)) return;
    // The web console's page and assets are public (the page logs in with an API key itself);
    // its data comes from authenticated routes (`/restapis…`, `/console/api/…`) below.
    if (await serveConsoleAsset(req, res, rawPath)) return;
    const body = await readBody(req);
    const isMetrics = req.method === 'GET' && rawPath === '/metrics';
    if (isMetrics && !this.gateway.loaded.config.gateway.metricsAuth) return this.metrics(res);

    const auth = await this.gateway.identities.authenticate({ method: req.method ?? 'GET', rawUrl, rawHeaders: req.rawHeaders, body }, 'apigateway', Date.now());
    if (auth.kind === 'anonymous') throw new GatewayError('MISSING_AUTHENTICATION');
    if (auth.kind === 'rejected') throw new GatewayError(auth.code, auth.message);
    const { identity } = auth;
    const allowed = (path: string) => identity.policy.allows(`apigateway:${req.method}`, apigatewayArn(this.gateway.region, path));
    if (isMetrics) {
      if (!allowed('/metrics')) throw new GatewayError('ACCESS_DENIED');
      return this.metrics(res);
    }

    let found;
    try {
      found = findRoute(ROUTES, req.method ?? 'GET', rawPath);
    } catch {
      throw new GatewayError('BAD_PERCENT_ENCODING');
    }
    if (!found) throw new GatewayError('NOT_FOUND', `No admin resource at ${rawPath}`);
    if ('methodMismatch' in found) throw new GatewayError('METHOD_NOT_ALLOWED', `Method ${req.method} not allowed on ${rawPath}`);
    if (!allowed(decodeURIComponent(rawPath))) {
      throw new GatewayError('ACCESS_DENIED', `User ${identity.name} is not authorized to perform apigateway:${req.method} on ${decodeURIComponent(rawPath)}`);
    }
    const query = new URLSearchParams(queryStart < 0 ? '' : rawUrl.slice(queryStart + 1));
    this.gateway.logger.info({ operation: found.route.operation, identity: identity.name, path: rawPath }, 'control plane');
    await found.route.handle({ req, res, params: found.params, query, body, identity, gateway: this.gateway });
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const text = await this.gateway.metricsText();
    res.writeHead(200, { 'content-type': this.gateway.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY_BYTES) throw new GatewayError('PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
