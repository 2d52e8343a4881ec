/**
 * HTTP_PROXY: the caller's request goes to the backend named by the integration `uri` and the
 * backend's answer comes back, both bodies streamed (AWS "HTTP proxy integration"). Connections are
 * pooled and kept alive per backend origin by one undici Agent owned by a ProxyPool.
 */
import { PassThrough, Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { HttpProxyIntegrationConfig } from '../config/schema.js';
import { hopByHopNames, responseHeaders } from './headers.js';
import { IntegrationError, type Integration, type IntegrationRequest, type IntegrationResponse } from './integration.js';
import { TargetUriTemplate } from './target-uri.js';

export interface ProxyPoolOptions {
  /** Idle time before a pooled backend connection is closed; undici also honours the backend's `Keep-Alive: timeout`. */
  readonly keepAliveTimeoutMs?: number;
  /** Connections per backend origin; unlimited by default. */
  readonly connectionsPerOrigin?: number;
}

/** The backend connections of every HTTP_PROXY integration: one undici Pool per origin, kept alive. */
export class ProxyPool {
  readonly dispatcher: Dispatcher;

  constructor(options: ProxyPoolOptions = {}) {
    this.dispatcher = new Agent({
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      connections: options.connectionsPerOrigin ?? null,
    });
  }

  /** Lets in-flight requests finish, then closes every connection (graceful shutdown). */
  close(): Promise<void> {
    return this.dispatcher.close();
  }

  /** Cuts every connection at once, failing in-flight requests (shutdown deadline passed). */
  destroy(): Promise<void> {
    return this.dispatcher.destroy();
  }
}

export function createHttpProxyIntegration(config: HttpProxyIntegrationConfig, pool: ProxyPool): Integration {
  return new HttpProxyIntegration(config, pool);
}

class HttpProxyIntegration implements Integration {
  private readonly target: TargetUriTemplate;

  constructor(private readonly config: HttpProxyIntegrationConfig, private readonly pool: ProxyPool) {
    this.target = new TargetUriTemplate(config.uri);
  }

  async invoke(request: IntegrationRequest): Promise<IntegrationResponse> {
    const { signal } = request;
    if (signal.aborted) throw signal.reason;
    const { origin, path } = this.target.resolve(request);
    const timeoutMs = this.config.timeoutMs;
    const body = shieldBody(request.body);

    // One signal for undici: aborted by the caller going away (any time) or by the overall
    // deadline (until headers arrive). Undici rejects with, or destroys the body with, its reason.
    const controller = new AbortController();
    const forwardAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', forwardAbort, { once: true });
    const release = () => signal.removeEventListener('abort', forwardAbort);
    // headersTimeout starts only once the request is written; this deadline also covers connecting
    // and sending the body, so "timeoutMs" is the whole wait for an answer, as on AWS.
    const deadline = setTimeout(
      () => controller.abort(new IntegrationError('timeout', `${origin} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );

    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.dispatcher.request({
        origin,
        path,
        method: this.config.httpMethod ?? request.method,
        headers: forwardedHeaders(request, body),
        body,
        signal: controller.signal,
        headersTimeout: timeoutMs,
        // Time allowed between two body chunks: a backend that stalls mid-body errors the stream.
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      release();
      // The caller went away: rethrow its reason untouched; nobody is left to answer.
      if (signal.aborted) throw signal.reason;
      throw requestError(error, origin);
    } finally {
      clearTimeout(deadline);
    }

    return {
      statusCode: response.statusCode,
      headers: responseHeaders(response.headers),
      body: relayBody(response.body, signal, origin, release),
    };
  }
}

/**
 * Undici destroys a stream body when the request fails. The caller's request stream must survive
 * that (destroying it closes the caller's socket, and the gateway could not answer 502), so the
 * backend gets a relay of it instead.
 */
function shieldBody(body: Buffer | Readable | null): Buffer | Readable | null {
  if (body === null || Buffer.isBuffer(body)) return body;
  const relay = new PassThrough();
  // pipe() does not forward errors: a failed upload must fail the backend request, not hang it.
  body.once('error', (error) => relay.destroy(error));
  return body.pipe(relay);
}

/** The caller's headers as the backend should see them: raw names and order kept, hop-by-hop dropped. */
function forwardedHeaders(request: IntegrationRequest, body: Buffer | Readable | null): string[] {
  const dropped = hopByHopNames(request.headers.connection);
  const headers: string[] = [];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (dropped.has(lower) || SET_BY_PROXY.has(lower)) continue;
    headers.push(name, raw[i + 1]!);
  }
  // A streamed body keeps the caller's framing; a Buffer is measured by undici; no body, none.
  const contentLength = request.headers['content-length'];
  if (body instanceof Readable && contentLength !== undefined) headers.push('content-length', contentLength);
  const forwardedFor = request.headers['x-forwarded-for'];
  headers.push(
    'x-forwarded-for', forwardedFor ? `${forwardedFor}, ${request.sourceIp}` : request.sourceIp,
    'x-forwarded-proto', 'http',
  );
  // The caller's Host only when its headers are forwarded: a cached method's filtered headers hold
  // `host` only if it is keyed, so an attacker-chosen Host cannot shape a stored body (docs/security.md).
  const callerHost = request.headers.host;
  if (callerHost !== undefined) headers.push('x-forwarded-host', callerHost);
  // No `host`: undici sends the target origin's host, which is what the backend must see.
  return headers;
}

/**
 * Headers the proxy writes itself. `expect` is dropped because Node's server has already
 * answered `100 Continue` to the caller and undici refuses to send it.
 */
const SET_BY_PROXY: ReadonlySet<string> = new Set([
  'host', 'content-length', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
]);

/**
 * The backend body, passed through a relay so that a failure surfaces as an IntegrationError
 * (a stall: timeout; a cut: bad-response) and so that a consumer destroying it releases the
 * backend connection.
 */
function relayBody(source: Readable, signal: AbortSignal, origin: string, release: () => void): Readable {
  const relay = new PassThrough();
  source.on('error', (error) => {
    relay.destroy(signal.aborted ? error : bodyError(error, origin));
  });
  relay.once('close', () => {
    release();
    if (!source.destroyed) source.destroy();
  });
  source.pipe(relay);
  return relay;
}

const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT',
]);
// Nothing usable came back from the backend: refused, reset, closed, or its name did not resolve.
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
]);

function requestError(error: unknown, origin: string): IntegrationError {
  if (error instanceof IntegrationError) return error;
  const code = errorCode(error);
  const detail = `${origin}: ${code ?? (error instanceof Error ? error.message : String(error))}`;
  if (TIMEOUT_CODES.has(code ?? '')) return new IntegrationError('timeout', `timed out waiting for ${detail}`, { cause: error });
  if (UNREACHABLE_CODES.has(code ?? '')) return new IntegrationError('unreachable', `cannot reach ${detail}`, { cause: error });
  return new IntegrationError('bad-response', `bad response from ${detail}`, { cause: error });
}

function bodyError(error: unknown, origin: string): IntegrationError {
  const code = errorCode(error) ?? (error instanceof Error ? error.message : String(error));
  if (TIMEOUT_CODES.has(code)) return new IntegrationError('timeout', `${origin} stalled while sending the body: ${code}`, { cause: error });
  return new IntegrationError('bad-response', `${origin} body cut short: ${code}`, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
