/**
 * `node:http` listeners: protective limits, JSON answers to requests Node cannot parse, a clear
 * error when the port is taken, and a bounded graceful drain.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ListenAddress } from '../config/schema.js';
import { ERRORS, type ErrorCode } from '../errors.js';

/** Limits against slow and oversized requests (slowloris, header floods). */
export const LISTENER_LIMITS = {
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
} as const;

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

export function createListener(handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const server = createServer(
    {
      maxHeaderSize: LISTENER_LIMITS.maxHeaderSize,
      headersTimeout: LISTENER_LIMITS.headersTimeoutMs,
      requestTimeout: LISTENER_LIMITS.requestTimeoutMs,
      keepAliveTimeout: LISTENER_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1_000,
      // Conflicting Content-Length / Transfer-Encoding is a smuggling shape: keep llhttp strict.
      insecureHTTPParser: false,
    },
    handler,
  );
  server.on('clientError', answerClientError);
  return server;
}

/** Requests Node's parser rejects never reach the handler; answer them in JSON here. */
function answerClientError(error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
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
export function listen(server: Server, address: ListenAddress, what: string): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'EADDRINUSE' ? 'address already in use' :
        error.code === 'EACCES' ? 'permission denied' :
        error.code === 'EADDRNOTAVAIL' ? 'address not available on this machine' : error.message;
      reject(new ListenError(`${what} ${address.host}:${address.port}: ${reason}`));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
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
