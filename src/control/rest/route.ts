/**
 * Control-plane routes: AWS API Gateway REST paths, each authorised as `apigateway:{METHOD}` on
 * `arn:aws:apigateway:{region}::{path}` by the admin listener before its handler runs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../../gateway/gateway.js';
import type { Identity } from '../../auth/identities.js';

export interface AdminRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Decoded path parameters named as in the route template (`restapi_id`, `stage_name`, …). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The whole request body (the admin listener buffers it for SigV4). */
  readonly body: Buffer;
  readonly identity: Identity;
  readonly gateway: Gateway;
}

export interface AdminRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** AWS's path template, e.g. `/restapis/{restapi_id}/stages/{stage_name}/cache/data`. */
  readonly path: string;
  /** AWS's operation name, for logs. */
  readonly operation: string;
  handle(request: AdminRequest): Promise<void> | void;
}

export interface CompiledRoute {
  readonly route: AdminRoute;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

export function compileRoutes(routes: readonly AdminRoute[]): CompiledRoute[] {
  return routes.map((route) => {
    const names: string[] = [];
    const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    return { route, pattern: new RegExp(`^${source}/?$`), names };
  });
}

/** The route for a method and raw path; `methodMismatch` when only the method is wrong. */
export function findRoute(routes: readonly CompiledRoute[], method: string, rawPath: string):
  | { route: AdminRoute; params: Record<string, string> }
  | { methodMismatch: true }
  | undefined {
  let pathKnown = false;
  for (const compiled of routes) {
    const match = compiled.pattern.exec(rawPath);
    if (!match) continue;
    pathKnown = true;
    if (compiled.route.method !== method) continue;
    const params: Record<string, string> = {};
    compiled.names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1]!)));
    return { route: compiled.route, params };
  }
  return pathKnown ? { methodMismatch: true } : undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
