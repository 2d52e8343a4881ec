/**
 * `node:http` listeners: protective limits, JSON answers to requests Node cannot parse, a clear
 * error when the port is taken, and a bounded graceful drain.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import { ERRORS, type ErrorCode } from '../errors.js';

export interface ListenerLimits {
  readonly maxHeaderSize: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

/** Limits against slow and oversized requests (slowloris, header floods). */
export const LISTENER_LIMITS: ListenerLimits = Object.freeze({
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
});

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/**
 * `limits` exists for tests (short slowloris budgets, test/security/protocol.test.ts); the
 * gateway always uses LISTENER_LIMITS.
 */
export function createListener(handler: (req: IncomingMessage, res: ServerResponse) => void, limits: ListenerLimits = LISTENER_LIMITS): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      // Conflicting Content-Length / Transfer-Encoding is a smuggling shape: keep llhttp strict.
      insecureHTTPParser: false,
      // Checked by ambiguousFraming, so that the 400 is JSON like every other answer.
      requireHostHeader: false,
    },
    (req, res) => {
      // A request pipelined behind a refused one is never served: its bytes are suspect.
      if (refusedSockets.has(req.socket)) return;
      if (ambiguousFraming(req)) return refuseAmbiguousFraming(req, res);
      handler(req, res);
    },
  );
  server.on('clientError', answerClientError);
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

function refuseAmbiguousFraming(req: IncomingMessage, res: ServerResponse): void {
  const spec = ERRORS.BAD_REQUEST;
  const body = JSON.stringify({ message: 'Malformed request (ambiguous framing or Host)' });
  // The rest of the bytes on this connection cannot be trusted to start a request: close it.
  res.shouldKeepAlive = false;
  refusedSockets.add(req.socket);
  res.writeHead(spec.status, { 'content-type': 'application/json', 'x-amzn-errortype': spec.type, 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body, () => req.socket.destroy());
}

/** Requests Node's parser rejects never reach the handler; answer them in JSON here. */
function answerClientError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
  // A response already started on this socket (Node's own rule): a second status line would desync the caller.
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === 'ECONNRESET' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  let code: ErrorCode = 'BAD_REQUEST';
  let status: number = ERRORS.BAD_REQUEST.status;
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    code = requestLineTooLong(error.rawPacket) ? 'URI_TOO_LONG' : 'HEADERS_TOO_LARGE';
    status = ERRORS[code].status;
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const body = JSON.stringify({ message: 'Request timeout' });
    socket.end(`HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    return;
  }
  const spec = ERRORS[code];
  const message = code === 'BAD_REQUEST' ? `Malformed request (${error.code ?? 'parse error'})` : spec.message;
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${code === 'BAD_REQUEST' ? 'Bad Request' : code === 'URI_TOO_LONG' ? 'URI Too Long' : 'Request Header Fields Too Large'}\r\n` +
      `content-type: application/json\r\nx-amzn-errortype: ${spec.type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
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
