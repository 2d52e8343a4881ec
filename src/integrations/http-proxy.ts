/**
 * HTTP_PROXY: the caller's request goes to the backend named by the integration `uri` and the
 * backend's answer comes back, both bodies streamed (AWS "HTTP proxy integration"). Connections are
 * pooled and kept alive per backend origin by one undici Agent owned by a ProxyPool.
 */
import { PassThrough, Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { HttpProxyIntegrationConfig } from '../config/schema.js';
import { hopByHopNames, responseHeaders } from './headers.js';
import { IntegrationError, type CallerLink, type Integration, type IntegrationRequest, type IntegrationResponse } from './integration.js';
import { TargetUriTemplate, type ProxyTarget } from './target-uri.js';

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

  invoke(request: IntegrationRequest): Promise<IntegrationResponse> {
    const { caller } = request;
    if (caller.goneReason) return Promise.reject(caller.goneReason);
    let target: ProxyTarget;
    try {
      target = this.target.resolve(request);
    } catch (error) {
      return Promise.reject(error);
    }
    const { origin, path } = target;
    const timeoutMs = this.config.timeoutMs;
    const body = shieldBody(request.body);
    return new Promise((resolve, reject) => {
      const exchange = new ProxyExchange(resolve, reject, origin, caller, timeoutMs);
      this.pool.dispatcher.dispatch({
        origin,
        path,
        method: this.config.httpMethod ?? request.method,
        headers: forwardedHeaders(request, body),
        body,
        headersTimeout: timeoutMs,
        // Time allowed between two body chunks: a backend that stalls mid-body fails the exchange.
        bodyTimeout: timeoutMs,
      }, exchange);
    });
  }
}

/** Bodies up to this size with a declared length are read whole before the answer is handed on. */
export const BUFFERED_BODY_BYTES = 64 * 1024;

/**
 * One backend exchange as an undici dispatch handler (no intermediate streams or abort
 * controllers). The answer is handed on when its headers arrive — with the body as a stream — or,
 * when the backend declares a length of at most BUFFERED_BODY_BYTES, once the body is complete,
 * as one Buffer: the gateway then writes head and body in one go and the cache needs no copy
 * loop, and a backend failing mid-body still gets the caller a 502 instead of a cut connection.
 *
 * Failures: the caller going away aborts the exchange at any stage; the deadline
 * covers connecting, sending and waiting for the headers, so `timeoutMs` is the whole wait for an
 * answer, as on AWS; undici's bodyTimeout bounds each pause in the body.
 */
class ProxyExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Set once the promise is settled; later failures go to the body stream, if any. */
  private settled = false;
  private failure: unknown;
  private deadline: NodeJS.Timeout | undefined;
  private statusCode = 0;
  private headers: Record<string, string | string[]> = {};
  private chunks: Buffer[] | undefined;
  private size = 0;
  private stream: BackendBody | undefined;
  private readonly stopWatching: () => void;

  constructor(
    private readonly resolve: (response: IntegrationResponse) => void,
    private readonly reject: (error: unknown) => void,
    private readonly origin: string,
    /** Once gone, its reason is what every pending wait rejects with: nobody is left to answer. */
    private readonly caller: CallerLink,
    timeoutMs: number,
  ) {
    this.deadline = setTimeout(() => this.abort(new IntegrationError('timeout', `${origin} did not answer within ${timeoutMs} ms`)), timeoutMs);
    this.stopWatching = caller.onGone((reason) => this.abort(reason));
  }

  private abort(reason: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    if (this.controller) this.controller.abort(reason as Error);
    // Not yet handed to a connection: settle now; undici calls onRequestStart later, which aborts.
    else this.fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.failure !== undefined) controller.abort(this.failure as Error);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    // 1xx interim answers are relayed (RFC 9110 §15.2) and never stored: the final one follows.
    if (statusCode < 200) {
      if (statusCode !== 101 && this.caller.interim) this.caller.interim(statusCode, responseHeaders(headers));
      return;
    }
    this.clearDeadline();
    this.statusCode = statusCode;
    this.headers = responseHeaders(headers);
    const declared = headers['content-length'];
    const length = typeof declared === 'string' ? Number(declared) : NaN;
    if (length <= BUFFERED_BODY_BYTES || statusCode === 204 || statusCode === 304) {
      this.chunks = [];
      return;
    }
    this.stream = new BackendBody(controller, this);
    this.settle({ statusCode, headers: this.headers, body: this.stream });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.chunks) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    } else if (this.stream && !this.stream.push(chunk)) {
      controller.pause();
    }
  }

  onResponseEnd(): void {
    this.release();
    if (this.chunks) {
      const { chunks } = this;
      this.settle({ statusCode: this.statusCode, headers: this.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size) });
    } else {
      this.stream?.push(null);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.release();
    this.failure ??= error;
    if (this.stream) {
      // Mid-body: the answer has started; the body stream carries the failure.
      if (!this.stream.destroyed) this.stream.destroy(this.caller.goneReason !== undefined || this.failure !== error ? toError(this.failure) : bodyError(error, this.origin));
      return;
    }
    this.fail(this.failure);
  }

  /** The consumer destroyed the body before its end: release the backend connection. */
  bodyReleased(error: Error | null): void {
    this.release();
    if (this.failure === undefined) {
      this.failure = error ?? new Error('backend body released');
      this.controller?.abort(this.failure as Error);
    }
  }

  private fail(error: unknown): void {
    this.release();
    if (this.settled) return;
    // The caller went away: its reason as it is; nobody is left to answer.
    this.settle(undefined, this.caller.goneReason ?? (this.chunks ? bodyError(error, this.origin) : requestError(error, this.origin)));
  }

  private settle(response: IntegrationResponse | undefined, error?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (response) this.resolve(response);
    else this.reject(error);
  }

  private clearDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private release(): void {
    this.clearDeadline();
    this.stopWatching();
  }
}

/** The backend body as a stream with backpressure: reading resumes the backend socket, destroying releases it. */
class BackendBody extends Readable {
  constructor(private readonly controller: Dispatcher.DispatchController, private readonly exchange: ProxyExchange) {
    super();
  }

  override _read(): void {
    this.controller.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.readableEnded) this.exchange.bodyReleased(error);
    callback(error);
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
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
