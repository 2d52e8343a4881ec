import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { HttpProxyIntegrationConfig } from '../../src/config/schema.js';
import { BUFFERED_BODY_BYTES, createHttpProxyIntegration, ProxyPool } from '../../src/integrations/http-proxy.js';
import { IntegrationError } from '../../src/integrations/integration.js';
import { callerOf, closedPort, deferred, integrationRequest, readAll, startServer, type TestServer } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
}

/** Answers with what it received, as JSON. */
async function echo(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const hash = createHash('sha256');
  let bodyLength = 0;
  for await (const chunk of req) {
    hash.update(chunk as Buffer);
    bodyLength += (chunk as Buffer).length;
  }
  const seen: Seen = {
    method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bodyLength, bodySha256: hash.digest('hex'),
  };
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(seen));
}

function proxyConfig(uri: string, extra: Partial<HttpProxyIntegrationConfig> = {}): HttpProxyIntegrationConfig {
  return { type: 'HTTP_PROXY', uri, timeoutMs: 5_000, ...extra };
}

function isIntegrationError(kind: IntegrationError['kind']) {
  return (error: unknown) => {
    assert.ok(error instanceof IntegrationError, `expected an IntegrationError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return true;
  };
}

describe('HTTP_PROXY', () => {
  const pool = new ProxyPool();
  let backend: TestServer;
  /** Sends `request` through an HTTP_PROXY integration for `uri` and returns what the echo backend saw. */
  async function seenBy(uri: string, request = integrationRequest(), extra: Partial<HttpProxyIntegrationConfig> = {}): Promise<Seen> {
    const response = await createHttpProxyIntegration(proxyConfig(uri, extra), pool).invoke(request);
    assert.equal(response.statusCode, 200);
    return JSON.parse((await readAll(response.body)).toString()) as Seen;
  }

  before(async () => {
    backend = await startServer((req, res) => void echo(req, res));
  });
  after(async () => {
    await pool.close();
    await backend.close();
  });

  describe('target URL', () => {
    it('substitutes path parameters, each encoded as one segment', async () => {
      const seen = await seenBy(`${backend.origin}/pets/{petId}/toys/{toy}`, integrationRequest({
        resourcePath: '/pets/{petId}/toys/{toy}', pathParameters: { petId: 'a b/c?d#e', toy: 'ü%' },
      }));
      assert.equal(seen.url, '/pets/a%20b%2Fc%3Fd%23e/toys/%C3%BC%25');
    });

    it('keeps the slashes of a greedy parameter, written {proxy+} or {proxy}', async () => {
      const request = integrationRequest({ resourcePath: '/files/{proxy+}', pathParameters: { proxy: 'dir one/sub/file.txt' } });
      assert.equal((await seenBy(`${backend.origin}/store/{proxy+}`, request)).url, '/store/dir%20one/sub/file.txt');
      assert.equal((await seenBy(`${backend.origin}/store/{proxy}`, request)).url, '/store/dir%20one/sub/file.txt');
    });

    it('escapes a parameter that is a dot-segment so it cannot climb the backend path', async () => {
      const seen = await seenBy(`${backend.origin}/pets/{petId}/info`, integrationRequest({
        resourcePath: '/pets/{petId}/info', pathParameters: { petId: '..' },
      }));
      assert.equal(seen.url, '/pets/%2E%2E/info');
    });

    it('substitutes stage variables in the host and path; a missing one is empty', async () => {
      const seen = await seenBy('http://${stageVariables.backend}/v/${stageVariables.version}/x${stageVariables.missing}', integrationRequest({
        stageVariables: { backend: `127.0.0.1:${backend.port}`, version: '2' },
      }));
      assert.equal(seen.url, '/v/2/x');
      assert.equal(seen.headers.host, `127.0.0.1:${backend.port}`);
    });

    it('fails as unreachable when a stage variable leaves the URI without a host', async () => {
      const integration = createHttpProxyIntegration(proxyConfig('http://${stageVariables.backend}/x'), pool);
      await assert.rejects(integration.invoke(integrationRequest()), isIntegrationError('unreachable'));
    });

    it("appends the caller's raw query, merged with the URI's own", async () => {
      const request = integrationRequest({ rawQuery: 'a=1&b=x%20y&b=z+w' });
      assert.equal((await seenBy(`${backend.origin}/q`, request)).url, '/q?a=1&b=x%20y&b=z+w');
      assert.equal((await seenBy(`${backend.origin}/q?fixed=yes`, request)).url, '/q?fixed=yes&a=1&b=x%20y&b=z+w');
      assert.equal((await seenBy(`${backend.origin}/q?fixed=yes`)).url, '/q?fixed=yes');
      assert.equal((await seenBy(backend.origin)).url, '/');
    });
  });

  describe('headers', () => {
    it('drops hop-by-hop request headers, sets Host to the backend and adds X-Forwarded-*', async () => {
      const seen = await seenBy(`${backend.origin}/h`, integrationRequest({
        headers: [
          ['Host', 'api.example.com'],
          ['Connection', 'keep-alive, X-Private-Hop'],
          ['Keep-Alive', 'timeout=5'],
          ['X-Private-Hop', 'secret'],
          ['TE', 'trailers'],
          ['Trailer', 'X-Checksum'],
          ['Upgrade', 'websocket'],
          ['Proxy-Authorization', 'Basic Zm9vOmJhcg=='],
          ['Proxy-Connection', 'keep-alive'],
          ['X-Forwarded-For', '203.0.113.7'],
          ['X-Forwarded-Proto', 'https'],
          ['Authorization', 'Bearer end-to-end'],
          ['X-Custom-Case', 'kept'],
          ['Accept', 'text/plain'],
          ['Accept', 'application/json'],
        ],
      }));
      for (const name of ['keep-alive', 'x-private-hop', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
        assert.equal(seen.headers[name], undefined, `${name} must not reach the backend`);
      }
      assert.notEqual(seen.headers.connection, 'keep-alive, X-Private-Hop');
      assert.equal(seen.headers.host, `127.0.0.1:${backend.port}`);
      assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 10.1.2.3');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], 'api.example.com');
      assert.equal(seen.headers.authorization, 'Bearer end-to-end');
      assert.equal(seen.headers.accept, 'text/plain, application/json');
      assert.ok(seen.rawHeaders.includes('X-Custom-Case'), 'header name case is kept');
    });

    it('starts X-Forwarded-For with the caller when none was sent', async () => {
      const seen = await seenBy(`${backend.origin}/h`);
      assert.equal(seen.headers['x-forwarded-for'], '10.1.2.3');
    });

    it('sends httpMethod from the config instead of the caller\'s method', async () => {
      const seen = await seenBy(`${backend.origin}/m`, integrationRequest({ method: 'GET' }), { httpMethod: 'DELETE' });
      assert.equal(seen.method, 'DELETE');
    });

    it('drops hop-by-hop response headers and returns set-cookie as a list', async () => {
      const server = await startServer((_req, res) => {
        res.setHeader('Connection', 'X-Backend-Hop');
        res.setHeader('X-Backend-Hop', 'internal');
        res.setHeader('Keep-Alive', 'timeout=5');
        res.setHeader('Proxy-Authenticate', 'Basic');
        res.setHeader('Trailer', 'X-Checksum');
        res.setHeader('Upgrade', 'h2c');
        res.setHeader('Set-Cookie', 'only=one');
        res.setHeader('X-Kept', 'yes');
        res.setHeader('Content-Type', 'text/plain');
        res.end('ok');
      });
      try {
        const response = await createHttpProxyIntegration(proxyConfig(`${server.origin}/`), pool).invoke(integrationRequest());
        assert.equal((await readAll(response.body)).toString(), 'ok');
        for (const name of ['connection', 'x-backend-hop', 'keep-alive', 'proxy-authenticate', 'trailer', 'upgrade', 'transfer-encoding']) {
          assert.equal(response.headers[name], undefined, `${name} must not reach the caller`);
        }
        assert.deepEqual(response.headers['set-cookie'], ['only=one']);
        assert.equal(response.headers['x-kept'], 'yes');
        assert.equal(response.headers['content-type'], 'text/plain');
      } finally {
        await server.close();
      }
    });
  });

  describe('bodies', () => {
    it('streams a large request body to the backend intact', async () => {
      const chunk = Buffer.alloc(64 * 1024, 'abcdefghij');
      const chunks = 128; // 8 MiB
      const expected = createHash('sha256');
      for (let i = 0; i < chunks; i++) expected.update(chunk);
      const body = Readable.from((function* () { for (let i = 0; i < chunks; i++) yield chunk; })());
      const seen = await seenBy(`${backend.origin}/upload`, integrationRequest({ method: 'POST', body }));
      assert.equal(seen.bodyLength, chunk.length * chunks);
      assert.equal(seen.bodySha256, expected.digest('hex'));
      assert.equal(seen.headers['transfer-encoding'], 'chunked');
    });

    it('forwards a streamed body with the caller\'s Content-Length, and a Buffer body', async () => {
      const payload = Buffer.from('{"name":"rex"}');
      const streamed = await seenBy(`${backend.origin}/s`, integrationRequest({
        method: 'PUT', body: Readable.from([payload]),
        headers: [['Host', 'gw'], ['Content-Length', String(payload.length)], ['Content-Type', 'application/json']],
      }));
      assert.equal(streamed.headers['content-length'], String(payload.length));
      assert.equal(streamed.bodySha256, createHash('sha256').update(payload).digest('hex'));
      assert.equal(streamed.headers['content-type'], 'application/json');

      const buffered = await seenBy(`${backend.origin}/b`, integrationRequest({
        method: 'POST', body: payload, headers: [['Host', 'gw'], ['Content-Length', '999']],
      }));
      assert.equal(buffered.headers['content-length'], String(payload.length), 'a Buffer is measured, not trusted');
      assert.equal(buffered.bodyLength, payload.length);
    });

    it('streams the response: the first chunk is readable while the backend is still writing', async () => {
      let releaseRest!: () => void;
      const rest = new Promise<void>((resolve) => (releaseRest = resolve));
      let backendEnded = false;
      const server = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        void rest.then(() => {
          res.end('second');
          backendEnded = true;
        });
      });
      try {
        const response = await createHttpProxyIntegration(proxyConfig(`${server.origin}/`), pool).invoke(integrationRequest());
        assert.ok(!Buffer.isBuffer(response.body), 'the body is a stream, not buffered');
        const body = response.body as Readable;
        const [first] = (await once(body, 'data')) as [Buffer];
        assert.equal(first.toString(), 'first;');
        assert.equal(backendEnded, false);
        releaseRest();
        const remaining = await readAll(body);
        assert.equal(remaining.toString(), 'second');
      } finally {
        releaseRest();
        await server.close();
      }
    });
  });

  describe('failures', () => {
    it('times out as IntegrationError timeout when the backend sends no headers', async () => {
      const server = await startServer(() => undefined);
      try {
        const started = Date.now();
        const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/slow`, { timeoutMs: 200 }), pool);
        await assert.rejects(integration.invoke(integrationRequest()), isIntegrationError('timeout'));
        assert.ok(Date.now() - started < 4_000, 'the timeout ends the wait');
      } finally {
        await server.close();
      }
    });

    it('errors the body stream with a timeout when the backend stalls mid-body', async () => {
      const server = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      });
      try {
        const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/stall`, { timeoutMs: 200 }), pool);
        const response = await integration.invoke(integrationRequest());
        await assert.rejects(readAll(response.body), isIntegrationError('timeout'));
      } finally {
        await server.close();
      }
    });

    it('reports a refused connection as unreachable', async () => {
      const port = await closedPort();
      const integration = createHttpProxyIntegration(proxyConfig(`http://127.0.0.1:${port}/`), pool);
      await assert.rejects(integration.invoke(integrationRequest()), isIntegrationError('unreachable'));
    });

    it('reports a name that does not resolve as unreachable', async () => {
      const integration = createHttpProxyIntegration(proxyConfig('http://no-such-host.invalid/', { timeoutMs: 10_000 }), pool);
      await assert.rejects(integration.invoke(integrationRequest()), isIntegrationError('unreachable'));
    });

    it('reports a connection reset before the headers as unreachable', async () => {
      const server = await startServer((req) => req.socket.destroy());
      try {
        const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/reset`), pool);
        await assert.rejects(integration.invoke(integrationRequest()), isIntegrationError('unreachable'));
      } finally {
        await server.close();
      }
    });

    it('fails as bad-response when the backend resets in the middle of a small body', async () => {
      const server = await startServer((_req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only part of it', () => setTimeout(() => res.socket?.destroy(), 20));
      });
      try {
        // A body with a declared length up to BUFFERED_BODY_BYTES is read whole first, so the
        // caller can still be told 502 rather than get a cut connection.
        await assert.rejects(createHttpProxyIntegration(proxyConfig(`${server.origin}/cut`), pool).invoke(integrationRequest()), isIntegrationError('bad-response'));
      } finally {
        await server.close();
      }
    });

    it('errors the body stream when the backend resets in the middle of a large body', async () => {
      const server = await startServer((_req, res) => {
        res.writeHead(200, { 'content-length': String(BUFFERED_BODY_BYTES + 100) });
        res.write('only part of it', () => setTimeout(() => res.socket?.destroy(), 20));
      });
      try {
        const response = await createHttpProxyIntegration(proxyConfig(`${server.origin}/cut`), pool).invoke(integrationRequest());
        assert.equal(response.statusCode, 200);
        assert.ok(!Buffer.isBuffer(response.body), 'a body over the buffering bound is streamed');
        await assert.rejects(readAll(response.body), isIntegrationError('bad-response'));
      } finally {
        await server.close();
      }
    });

    it('reports malformed HTTP from the backend as bad-response', async () => {
      const server = await startServer(() => undefined);
      server.server.on('connection', (socket) => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      try {
        const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/garbage`), pool);
        await assert.rejects(integration.invoke(integrationRequest()), isIntegrationError('bad-response'));
      } finally {
        await server.close();
      }
    });
  });

  describe('caller going away', () => {
    it('cancels the backend request when the signal aborts before the answer', async () => {
      const backendClosed = deferred();
      const backendGotRequest = deferred();
      const server = await startServer((_req, res) => {
        res.on('close', () => backendClosed.resolve());
        backendGotRequest.resolve();
      });
      try {
        const controller = new AbortController();
        const pending = createHttpProxyIntegration(proxyConfig(`${server.origin}/wait`), pool)
          .invoke(integrationRequest({ caller: callerOf(controller.signal) }));
        await backendGotRequest.promise;
        controller.abort(new Error('caller closed the connection'));
        await assert.rejects(pending, /caller closed the connection/);
        await backendClosed.promise;
      } finally {
        await server.close();
      }
    });

    it('cancels the backend response when the signal aborts mid-body', async () => {
      const backendClosed = deferred();
      const server = await startServer((_req, res) => {
        res.on('close', () => backendClosed.resolve());
        res.writeHead(200);
        res.write('started');
      });
      try {
        const controller = new AbortController();
        const response = await createHttpProxyIntegration(proxyConfig(`${server.origin}/stream`), pool)
          .invoke(integrationRequest({ caller: callerOf(controller.signal) }));
        await once(response.body as Readable, 'data');
        controller.abort(new Error('caller left'));
        await assert.rejects(readAll(response.body), /caller left/);
        await backendClosed.promise;
      } finally {
        await server.close();
      }
    });

    it('releases the backend when the gateway destroys the body it no longer wants', async () => {
      const backendClosed = deferred();
      const server = await startServer((_req, res) => {
        res.on('close', () => backendClosed.resolve());
        res.writeHead(200);
        res.write('started');
      });
      try {
        const response = await createHttpProxyIntegration(proxyConfig(`${server.origin}/stream`), pool).invoke(integrationRequest());
        (response.body as Readable).destroy();
        await backendClosed.promise;
      } finally {
        await server.close();
      }
    });

    it('rejects at once, sending nothing, when the signal is already aborted', async () => {
      let calls = 0;
      const server = await startServer((_req, res) => {
        calls++;
        res.end();
      });
      try {
        const controller = new AbortController();
        controller.abort(new Error('gone'));
        const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/`), pool);
        await assert.rejects(integration.invoke(integrationRequest({ caller: callerOf(controller.signal) })), /gone/);
        assert.equal(calls, 0);
      } finally {
        await server.close();
      }
    });
  });

  it("leaves the caller's request stream usable when the backend is unreachable, so the caller gets an answer", async () => {
    const port = await closedPort();
    const integration = createHttpProxyIntegration(proxyConfig(`http://127.0.0.1:${port}/`), pool);
    // A minimal front server that hands its live request stream to the integration, as the gateway does.
    const front = await startServer((req, res) => {
      integration.invoke(integrationRequest({ method: 'POST', body: req })).then(
        () => res.end('unexpected'),
        (error: unknown) => {
          req.resume();
          res.writeHead(502).end(error instanceof IntegrationError ? error.kind : 'other');
        },
      );
    });
    try {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = httpRequest(`${front.origin}/`, { method: 'POST' }, (response) => {
          readAll(response).then((body) => resolve({ status: response.statusCode!, text: body.toString() }), reject);
        });
        request.on('error', reject);
        request.end(Buffer.alloc(256 * 1024, 'x'));
      });
      assert.deepEqual(answer, { status: 502, text: 'unreachable' });
    } finally {
      await front.close();
    }
  });

  it('keeps backend connections alive between requests', async () => {
    let connections = 0;
    const server = await startServer((_req, res) => res.end('ok'));
    server.server.on('connection', () => connections++);
    try {
      const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/`), pool);
      for (let i = 0; i < 3; i++) {
        await readAll((await integration.invoke(integrationRequest())).body);
        // Undici returns a connection to the pool a tick after the body ends; real traffic has such gaps.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(connections, 1);
    } finally {
      await server.close();
    }
  });
});

describe('ProxyPool', () => {
  it('close() waits for an in-flight response, then refuses new requests', async () => {
    const server = await startServer((_req, res) => setTimeout(() => res.end('late'), 100));
    const pool = new ProxyPool();
    try {
      const integration = createHttpProxyIntegration(proxyConfig(`${server.origin}/`), pool);
      const inFlight = integration.invoke(integrationRequest()).then((response) => readAll(response.body));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const closed = pool.close();
      assert.equal((await inFlight).toString(), 'late');
      await closed;
      await assert.rejects(integration.invoke(integrationRequest()), IntegrationError);
    } finally {
      await server.close();
    }
  });
});
