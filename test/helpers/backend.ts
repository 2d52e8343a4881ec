/**
 * A real node:http backend for tests that counts its calls: the count is the truth of cache hit
 * vs miss. Each answer names the call that produced it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer, call: number) => void;

export interface CountingBackend {
  readonly address: string;
  readonly url: string;
  calls: number;
  readonly seen: SeenRequest[];
  /** Replace the answer for the calls that follow. */
  handler: BackendHandler;
  close(): Promise<void>;
}

/** By default answers 200 JSON `{"path":…,"call":N}`. */
export const echoHandler: BackendHandler = (req, res, _body, call) => {
  const text = JSON.stringify({ path: req.url, call });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

export async function startBackend(handler: BackendHandler = echoHandler): Promise<CountingBackend> {
  let server: Server;
  const backend: CountingBackend = {
    address: '',
    url: '',
    calls: 0,
    seen: [],
    handler,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const call = ++backend.calls;
      const body = Buffer.concat(chunks);
      backend.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      backend.handler(req, res, body, call);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  Object.assign(backend, { address: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` });
  return backend;
}
