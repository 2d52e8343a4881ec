/** Helpers for the integration tests: real loopback servers and IntegrationRequests built like the gateway's. */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { CallerLink, IntegrationRequest } from '../../src/integrations/integration.js';

export interface TestServer {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  close(): Promise<void>;
}

export async function startServer(listener: RequestListener): Promise<TestServer> {
  const server = createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A loopback port nothing listens on (bound once, then released): connecting is refused. */
export async function closedPort(): Promise<number> {
  const probe = await startServer(() => undefined);
  await probe.close();
  return probe.port;
}

/**
 * A request as the gateway would hand it over. `headers` are given as the caller sent them
 * ([name, value] pairs in order, original case); Node's lower-cased map is derived from them.
 */
export function integrationRequest(
  overrides: Partial<Omit<IntegrationRequest, 'headers' | 'rawHeaders'>> & { headers?: [string, string][] } = {},
): IntegrationRequest {
  const pairs = overrides.headers ?? [['Host', 'gw.example.com']];
  return {
    method: 'GET',
    path: '/',
    resourcePath: '/',
    pathParameters: {},
    rawQuery: '',
    body: null,
    apiId: 'testapi',
    stage: 'prod',
    stageVariables: {},
    requestId: 'req-1',
    receivedAt: Date.UTC(2024, 0, 2, 3, 4, 5),
    sourceIp: '10.1.2.3',
    host: pairs.find(([name]) => name.toLowerCase() === 'host')?.[1] ?? '',
    caller: callerOf(new AbortController().signal),
    ...overrides,
    headers: nodeHeaders(pairs),
    rawHeaders: pairs.flat(),
  };
}

/** A caller that goes away when `signal` aborts, with the signal's reason (as the gateway's RequestContext does on a closed connection). */
export function callerOf(signal: AbortSignal): CallerLink {
  return {
    get goneReason() {
      return signal.aborted ? (signal.reason as Error) : undefined;
    },
    onGone(listener) {
      if (signal.aborted) {
        listener(signal.reason as Error);
        return () => undefined;
      }
      const onAbort = () => listener(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      return () => signal.removeEventListener('abort', onAbort);
    },
  };
}

/** Node's folding of a header list: lower-case names, repeats joined with ", " (set-cookie as a list). */
function nodeHeaders(pairs: [string, string][]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    const existing = headers[name];
    if (name === 'set-cookie') headers[name] = [...((existing as string[] | undefined) ?? []), value];
    else headers[name] = existing === undefined ? value : `${existing as string}, ${value}`;
  }
  return headers as IncomingHttpHeaders;
}

export async function readAll(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A promise with its resolve function outside (Promise.withResolvers is Node 22+). */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}
