/**
 * The admin listener: Prometheus metrics and the AWS-compatible control plane. Everything but
 * `GET /metrics` (open unless `gateway.metricsAuth`) needs an identity.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../errors.js';
import type { Gateway } from '../gateway/gateway.js';

export interface AdminDeps {
  gateway: Gateway;
}

export class AdminPlane {
  constructor(private readonly deps: AdminDeps) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((error: unknown) => {
      this.deps.gateway.logger.error({ err: error }, 'admin request failed');
      sendError(res, 'INTERNAL');
    });
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/metrics') return this.metrics(res);
    req.resume();
    sendError(res, 'NOT_FOUND', `No admin resource at ${req.method} ${path}`);
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const { registry } = this.deps.gateway.metrics;
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
