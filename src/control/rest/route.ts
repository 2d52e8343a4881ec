/**
 * Control-plane routes: AWS API Gateway REST paths, each authorised as `apigateway:{METHOD}` on
 * `arn:aws:apigateway:{region}::{path}` by the admin listener before its handler runs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../../gateway/gateway.js';
import type { Identity } from '../../auth/identities.js';
import { GatewayError } from '../../errors.js';

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
  /** Per template segment: a literal, or `{name}` as the parameter's name. */
  readonly segments: readonly ({ literal: string } | { param: string })[];
}

export function compileRoutes(routes: readonly AdminRoute[]): CompiledRoute[] {
  return routes.map((route) => ({
    route,
    segments: route.path.split('/').slice(1).map((part) => {
      const param = /^\{(\w+)\}$/.exec(part)?.[1];
      return param !== undefined ? { param } : { literal: part };
    }),
  }));
}

export type RouteMatch = { route: AdminRoute; params: Record<string, string>; arnPath: string };

/**
 * The route for a method and canonical (decoded) path segments; `methodMismatch` when only the
 * method is wrong. Literals match exactly (case matters, as in AWS paths). A decoded `/` inside a
 * parameter is refused (400) unless the parameter is the template's last segment (a purge tag):
 * elsewhere it would make the ARN name another resource.
 */
export function findRoute(routes: readonly CompiledRoute[], method: string, segments: readonly string[]): RouteMatch | { methodMismatch: true } | undefined {
  let pathKnown = false;
  for (const compiled of routes) {
    if (compiled.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = compiled.segments.every((part, i) => {
      if ('literal' in part) return part.literal === segments[i];
      params[part.param] = segments[i]!;
      return true;
    });
    if (!matches) continue;
    pathKnown = true;
    if (compiled.route.method !== method) continue;
    compiled.segments.forEach((part, i) => {
      if ('param' in part && i < compiled.segments.length - 1 && segments[i]!.includes('/')) {
        throw new GatewayError('BAD_REQUEST', `Invalid ${part.param}: an identifier cannot contain /`);
      }
    });
    return { route: compiled.route, params, arnPath: arnPathOf(compiled.route.path, params) };
  }
  return pathKnown ? { methodMismatch: true } : undefined;
}

/** The resource path of the ARN an operation is authorised on: AWS's template with the decoded parameters. */
export function arnPathOf(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? '');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
