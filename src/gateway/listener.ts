/**
 * `node:http` listeners: protective limits, JSON answers to requests Node cannot parse, a clear
 * error when the port is taken, and a bounded graceful drain.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { ListenAddress } from '../config/schema.js';
import { ERRORS, type ErrorCode } from '../errors.js';

export interface ListenerLimits {
  readonly maxHeaderSize: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /**
   * A whole answer handed to the socket must reach the kernel within this (nginx's send_timeout):
   * a caller that stops reading would otherwise pin up to one stored body per connection for as
   * long as it keeps the connection open (SPEC §7, test/security/slow-readers.test.ts).
   */
  readonly sendTimeoutMs: number;
}

/** Limits against slow and oversized requests (slowloris, header floods). */
export const LISTENER_LIMITS: ListenerLimits = Object.freeze({
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  sendTimeoutMs: 60_000,
});


export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** A plain or a TLS listener: the same HTTP server either way. */
export type Server = HttpServer | HttpsServer;

/**
 * `limits` exists for tests (short slowloris budgets, test/security/protocol.test.ts); the
 * gateway always uses LISTENER_LIMITS. With `tls` the listener speaks HTTPS (tls.ts); its
 * certificate can be replaced later with `setSecureContext`.
 */
export function createListener(handler: (req: IncomingMessage, res: ServerResponse) => void, limits: ListenerLimits = LISTENER_LIMITS, tls?: SecureContextOptions): Server {
  const options = {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    // Conflicting Content-Length / Transfer-Encoding is a smuggling shape: keep llhttp strict.
    insecureHTTPParser: false,
    // Checked by ambiguousFraming, so that the 400 is JSON like every other answer.
    requireHostHeader: false,
  };
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    // A request pipelined behind one refused here is never served (it waited its turn, below).
    if (refusedHere.has(req.socket)) return;
    if (ambiguousFraming(req)) return refuse(req, res, 'Malformed request (ambiguous framing or Host)');
    // RFC 9112 §3.2: origin-form only. An absolute-form (or authority/asterisk-form) target is for
    // forward proxies; a front proxy may route it by its host while we route by Host: close.
    if (req.url?.charCodeAt(0) !== 47 /* / */) return refuse(req, res, 'Request target must start with /');
    handler(req, res);
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // A request pipelined behind a refused one is never served: its bytes are suspect.
    if (refusedSockets.has(req.socket)) return;
    inTurn(req, res, serve, limits.sendTimeoutMs);
  };
  const server: Server = tls ? createTlsServer({ ...options, ...tls }, onRequest) : createServer(options, onRequest);
  server.on('clientError', answerClientError);
  // A failed handshake (plain HTTP to a TLS port, an old protocol) closes that socket, nothing more.
  if (tls) server.on('tlsClientError', (_error, socket) => socket.destroy());
  return server;
}

/**
 * Framing llhttp lets through to the handler but a front proxy may read differently (request
 * smuggling, Host confusion). RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty
 * framing, and a request whose final coding is not chunked has no knowable length (llhttp only
 * fails on its body, after the handler has run); §3.2: more than one Host line is a 400.
 */
function ambiguousFraming(req: IncomingMessage): boolean {
  const transferEncoding = req.headers['transfer-encoding'];
  if (transferEncoding !== undefined && (req.httpVersionMinor === 0 || !/(?:^|,)[ \t]*chunked[ \t]*$/i.test(transferEncoding))) return true;
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host' && ++hosts > 1) return true;
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (HTTP/1.0 may omit it).
  return hosts === 0 && req.httpVersionMinor >= 1;
}

const refusedSockets = new WeakSet<Socket>();
/** Sockets refused by `refuse` (a request the handler saw), as opposed to a parse error after it. */
const refusedHere = new WeakSet<Socket>();

/**
 * Requests pipelined on one connection are served one at a time: the next starts when the answer
 * before it has been handed to the kernel. Node parses every request of a packet at once and keeps
 * each answer that cannot go out yet in memory; a caller that pipelined hundreds of requests for
 * distinct 1 MB answers and never read made the process keep them all — one connection pinned
 * hundreds of MB outside every budget (SPEC §7, test/security/slow-readers.test.ts). Answers go out
 * in request order anyway, so only their preparation waits. Past MAX_PIPELINED_WAITING waiting
 * requests the connection is closed.
 */
export const MAX_PIPELINED_WAITING = 32;
interface Turns { busy: boolean; readonly waiting: Array<() => void> }
const turns = new WeakMap<Socket, Turns>();

function inTurn(req: IncomingMessage, res: ServerResponse, serve: (req: IncomingMessage, res: ServerResponse) => void, sendTimeoutMs: number): void {
  const { socket } = req;
  let queue = turns.get(socket);
  if (queue === undefined) turns.set(socket, (queue = { busy: false, waiting: [] }));
  const run = (): void => {
    queue.busy = true;
    let done = false;
    const next = (): void => {
      if (done) return;
      done = true;
      queue.busy = false;
      if (socket.destroyed) {
        queue.waiting.length = 0;
        return;
      }
      queue.waiting.shift()?.();
    };
    res.once('finish', next);
    res.once('close', next);
    // No socket deadline while the answer is prepared (the integration timeout bounds that); once
    // it is all handed over, Node's socket timeout destroys a connection whose reader stalls. An
    // earlier answer's deadline must not cut this one's integration call: cleared here.
    socket.setTimeout(0);
    res.once('prefinish', () => socket.setTimeout(sendTimeoutMs));
    serve(req, res);
  };
  if (!queue.busy) return run();
  if (queue.waiting.length >= MAX_PIPELINED_WAITING || socket.destroyed) {
    queue.waiting.length = 0;
    socket.destroy();
    return;
  }
  queue.waiting.push(run);
}

/**
 * A JSON 400 for a request the listener will not serve, then the connection closes. Node queues
 * this response behind any earlier in-flight one on the socket, so order is kept.
 */
function refuse(req: IncomingMessage, res: ServerResponse, message: string): void {
  const spec = ERRORS.BAD_REQUEST;
  const body = JSON.stringify({ message });
  // The rest of the bytes on this connection cannot be trusted to start a request: close it.
  res.shouldKeepAlive = false;
  refusedSockets.add(req.socket);
  refusedHere.add(req.socket);
  // Nothing after this request will be served: stop reading it (no more requests parsed and queued).
  req.socket.pause();
  res.writeHead(spec.status, { 'content-type': 'application/json', 'x-amzn-errortype': spec.type, 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body, () => req.socket.destroy());
}

/**
 * The response Node is writing (or will write next) on a socket; null when none is outstanding.
 * Node assigns queued pipelined responses to the socket one at a time, in request order, so this
 * walks the queue as each finishes.
 */
type InFlight = ServerResponse & { req?: IncomingMessage };
const inFlight = (socket: Socket): InFlight | null => (socket as Socket & { _httpMessage?: InFlight | null })._httpMessage ?? null;

/**
 * Requests Node's parser rejects never reach the handler; answer them in JSON here. The bytes of
 * the refusal go on the wire only after every earlier request's answer (issue 13: a malformed
 * request pipelined behind an in-flight POST used to answer in the POST's place), then the
 * connection closes. A request whose own body failed to parse gets the 400 as its answer.
 */
function answerClientError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
  // The parser is dead after its first error; later bytes on the socket may report again.
  if (refusedSockets.has(socket)) return;
  refusedSockets.add(socket);
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const refusal = clientErrorAnswer(error);
  // Bounded: an earlier answer that never finishes (it has its own integration timeout) does not
  // hold the socket longer than a request may take.
  const deadline = setTimeout(() => socket.destroy(), LISTENER_LIMITS.requestTimeoutMs);
  deadline.unref();
  const answerWhenDue = (): void => {
    if (socket.destroyed) return clearTimeout(deadline);
    const current = inFlight(socket);
    if (current && current.req?.complete !== false) {
      // An earlier, complete request is still being answered: its answer goes first.
      current.once('finish', () => setImmediate(answerWhenDue));
      current.once('close', () => setImmediate(answerWhenDue));
      return;
    }
    clearTimeout(deadline);
    // The failing request is the one being answered (its body did not parse): a second status
    // line after a started answer would desync the caller, so only an unstarted one gets the 400.
    if (current?.headersSent) return void socket.destroy();
    socket.end(refusal);
  };
  answerWhenDue();
}

/** The raw JSON answer to a parse error: 400, 414, 431 or 408, always with `connection: close`. */
function clientErrorAnswer(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): string {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const body = JSON.stringify({ message: 'Request timeout' });
    return `HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
  }
  let code: ErrorCode = 'BAD_REQUEST';
  if (error.code === 'HPE_HEADER_OVERFLOW') code = requestLineTooLong(error.rawPacket) ? 'URI_TOO_LONG' : 'HEADERS_TOO_LARGE';
  const spec = ERRORS[code];
  const message = code === 'BAD_REQUEST' ? `Malformed request (${error.code ?? 'parse error'})` : spec.message;
  const body = JSON.stringify({ message });
  const reason = code === 'BAD_REQUEST' ? 'Bad Request' : code === 'URI_TOO_LONG' ? 'URI Too Long' : 'Request Header Fields Too Large';
  return `HTTP/1.1 ${spec.status} ${reason}\r\ncontent-type: application/json\r\nx-amzn-errortype: ${spec.type}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

function requestLineTooLong(rawPacket: Buffer | undefined): boolean {
  if (!rawPacket) return false;
  const end = rawPacket.indexOf('\r\n');
  return end < 0 || end > LISTENER_LIMITS.maxHeaderSize / 2;
}

/** Listens; a taken port or bad address becomes one clear sentence. */
/** `fd`: serve on a descriptor another thread of this process listens on (its port is `address`'s host, the bound port). */
export function listen(server: Server, address: ListenAddress, what: string, fd?: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'EADDRINUSE' ? 'address already in use' :
        error.code === 'EACCES' ? 'permission denied' :
        error.code === 'EADDRNOTAVAIL' ? 'address not available on this machine' : error.message;
      reject(new ListenError(`${what} ${address.host}:${address.port}: ${reason}`));
    };
    server.once('error', onError);
    const target = fd === undefined ? { port: address.port, host: address.host } : { fd };
    server.listen(target, () => {
      server.off('error', onError);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? { host: address.host, port: bound.port } : address);
    });
  });
}

/**
 * Stops accepting, lets in-flight requests finish, closes idle keep-alive connections as they
 * become idle, and cuts whatever is left after `timeoutMs`.
 */
export async function drain(server: Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
  server.closeIdleConnections();
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(deadline);
  }
}
