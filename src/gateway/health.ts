/**
 * `GET /healthz` and `GET /readyz` on the admin listener, without credentials (SPEC §8), for load
 * balancers and orchestrators: healthz answers while the process serves; readyz is 200 only when
 * the config is loaded, both listeners are up and the store answers (Redis: a PING within the
 * store's budget), else 503 with the reason. Neither reveals more than that.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Readiness {
  readonly ready: boolean;
  /** Each check by name: "ok" or why not. */
  readonly checks: Readonly<Record<string, string>>;
}

export interface HealthSource {
  readiness(): Promise<Readiness>;
}

/** Answers the two routes; false for any other request (the caller goes on to authenticate). */
export function serveHealth(source: HealthSource, req: IncomingMessage, res: ServerResponse, rawPath: string): boolean {
  if (rawPath !== '/healthz' && rawPath !== '/readyz') return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  req.resume();
  if (rawPath === '/healthz') {
    send(res, 200, { status: 'ok' }, req.method === 'HEAD');
    return true;
  }
  source.readiness().then(
    (readiness) => send(res, readiness.ready ? 200 : 503, { status: readiness.ready ? 'ready' : 'not ready', checks: readiness.checks }, req.method === 'HEAD'),
    (error: unknown) => send(res, 503, { status: 'not ready', checks: { error: error instanceof Error ? error.message : String(error) } }, req.method === 'HEAD'),
  );
  return true;
}

function send(res: ServerResponse, status: number, body: unknown, headOnly: boolean): void {
  const text = JSON.stringify(body);
  // Probes poll: never cached by anything in between.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(headOnly ? undefined : text);
}
