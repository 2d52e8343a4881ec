/**
 * Hostile input at the HTTP layer, in raw bytes against a real gateway (docs/security.md
 * "Request smuggling", "Oversized requests", "Slow requests"). A smuggling probe passes when the
 * gateway answers exactly one 400, closes the connection, and the smuggled request never reaches
 * the backend.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { createListener, LISTENER_LIMITS } from '../../src/gateway/listener.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

interface Exchange {
  text: string;
  /** The server closed the connection (rather than our timer cutting it). */
  closedByServer: boolean;
  statuses: number[];
  elapsedMs: number;
  /** When the first answer byte arrived (Infinity: none). */
  firstByteMs: number;
}

/** Writes `parts` on one connection (a pause of `gapMs` between parts) and reads until the server closes or `timeoutMs`. */
function exchange(port: number, parts: (string | Buffer)[], { timeoutMs = 3_000, gapMs = 0 } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let firstByteMs = Infinity;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk) => {
      if (chunks.length === 0) firstByteMs = performance.now() - started;
      chunks.push(chunk);
    });
    socket.on('end', () => (closedByServer = true));
    socket.on('error', () => (closedByServer = true));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
      resolve({ text, closedByServer, statuses, elapsedMs: performance.now() - started, firstByteMs });
    });
    let index = 0;
    const writeNext = () => {
      if (index >= parts.length || socket.destroyed) return;
      socket.write(parts[index++]!);
      if (index < parts.length) setTimeout(writeNext, gapMs);
    };
    socket.once('connect', writeNext);
  });
}

describe('hostile input: HTTP framing, size and time limits', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const smuggled = 'GET /prod/admin HTTP/1.1\r\nHost: a\r\n\r\n';

  before(async () => {
    backend = await startBackend();
    const proxy = (path: string, extra: Record<string, unknown> = {}) => ({ integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}`, ...extra } });
    gateway = await startGateway({
      apis: [{
        id: 'shop',
        resources: {
          '/pets/{petId}': { GET: proxy('/pets/{petId}') },
          '/items': { POST: proxy('/items', { timeoutMs: 1_000 }) },
          '/admin': { GET: proxy('/admin') },
        },
        stages: { prod: { cacheClusterEnabled: true } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(() => {
    backend.seen.length = 0;
  });

  const neverSmuggled = () => assert.ok(!backend.seen.some((seen) => seen.url.includes('admin')), 'the smuggled request reached the backend');

  describe('request smuggling shapes: one 400, connection closed, nothing smuggled', () => {
    const shapes: [string, string][] = [
      ['Content-Length with Transfer-Encoding (CL.TE)', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding with Content-Length (TE.CL)', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n'],
      ['two Content-Length values', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n'],
      ['Content-Length list "0, 38"', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 38\r\n\r\n'],
      ['Transfer-Encoding: chunked, identity', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding: identity', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n'],
      ['two Transfer-Encoding lines', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n'],
      ['space before the colon ("Transfer-Encoding :")', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
      ['vertical tab before chunked', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n'],
      ['obs-fold hiding Transfer-Encoding', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nX-A: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc'],
      ['Transfer-Encoding in HTTP/1.0', 'POST /prod/items HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['bare LF line endings', 'GET /prod/pets/1 HTTP/1.1\nHost: a\n\n'],
      ['a bare LF inside the headers', 'GET /prod/pets/1 HTTP/1.1\r\nHost: a\nX-B: y\r\n\r\n'],
      ['a NUL byte in a header value', 'GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n'],
      ['a bare CR in a header value', 'GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n'],
      ['two Host lines', 'GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
      ['no Host in HTTP/1.1', 'GET /prod/pets/1 HTTP/1.1\r\n\r\n'],
      ['a malformed chunk size', 'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n'],
    ];
    for (const [name, bytes] of shapes) {
      it(name, async () => {
        const answer = await exchange(port, [bytes + smuggled]);
        assert.deepEqual(answer.statuses, [400], answer.text);
        assert.match(answer.text, /content-type: application\/json/i);
        assert.ok(answer.closedByServer, 'the connection was left open for the smuggled request');
        neverSmuggled();
      });
    }

    it('a well-formed chunked POST is still served, and the next request on the connection too', async () => {
      const answer = await exchange(port, ['POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']);
      assert.deepEqual(answer.statuses, [200, 200]);
      assert.equal(backend.seen.find((seen) => seen.method === 'POST')?.body.toString(), 'abc');
    });

    it('an absolute-form target is 400 (not a forward proxy)', async () => {
      const answer = await exchange(port, ['GET http://evil.example/prod/pets/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']);
      assert.deepEqual(answer.statuses, [400]);
      assert.equal(backend.seen.length, 0);
    });
  });

  describe('oversized requests', () => {
    it('a URL over 8 KiB is 414', async () => {
      const answer = await call(`${gateway.dataUrl}/prod/pets/${'a'.repeat(9_000)}`);
      assert.equal(answer.status, 414);
      assert.equal(backend.seen.length, 0);
    });

    it('a request line over the header limit is 414, not a crash', async () => {
      const answer = await exchange(port, [`GET /prod/pets/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`]);
      assert.deepEqual(answer.statuses, [414]);
      assert.ok(answer.closedByServer);
    });

    it('headers over 16 KiB are 431', async () => {
      const answer = await exchange(port, [`GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(17_000)}\r\n\r\n`]);
      assert.deepEqual(answer.statuses, [431]);
      assert.ok(answer.closedByServer);
    });

    it('thousands of small headers over 16 KiB in all are 431', async () => {
      const many = Array.from({ length: 3_000 }, (_, i) => `X-${i}: v\r\n`).join('');
      const answer = await exchange(port, [`GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\n${many}\r\n`]);
      assert.deepEqual(answer.statuses, [431]);
    });

    it('the gateway still serves after all of this', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets/1`)).status, 200);
    });
  });

  describe('slow requests', () => {
    it('the data listener runs with the documented limits', () => {
      assert.deepEqual({ ...LISTENER_LIMITS }, { maxHeaderSize: 16_384, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000, sendTimeoutMs: 60_000 });
    });

    /** The gateway's listener with short budgets; behaviour is the same as with the 10 s / 60 s ones. */
    async function shortListener(handler: (req: IncomingMessage, res: ServerResponse) => void) {
      const server = createListener(handler, { ...LISTENER_LIMITS, headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { server, port: (server.address() as { port: number }).port };
    }

    it('slowloris: headers trickling in are cut with 408 and the socket closed at the header timeout', async () => {
      let handled = 0;
      const { server, port: slowPort } = await shortListener((_req, res) => (handled++, res.end('ok')));
      try {
        const trickle = ['GET / HTTP/1.1\r\n', 'Host: a\r\n', 'X-1: a\r\n', 'X-2: b\r\n', 'X-3: c\r\n', 'X-4: d\r\n', 'X-5: e\r\n', 'X-6: f\r\n', 'X-7: g\r\n', 'X-8: h\r\n'];
        const answer = await exchange(slowPort, trickle, { gapMs: 300, timeoutMs: 5_000 });
        assert.deepEqual(answer.statuses, [408], answer.text);
        assert.ok(answer.closedByServer, 'socket left open');
        assert.ok(answer.elapsedMs < 2_500, `closed after ${Math.round(answer.elapsedMs)} ms (header timeout 500 ms, checked every 500 ms)`);
        assert.equal(handled, 0);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('a slow request body is cut with 408 at the request timeout', async () => {
      const { server, port: slowPort } = await shortListener((req, res) => {
        req.resume();
        req.on('end', () => res.end('ok'));
      });
      try {
        const parts = ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n', ...Array.from({ length: 10 }, () => 'x')];
        const answer = await exchange(slowPort, parts, { gapMs: 300, timeoutMs: 6_000 });
        assert.ok(answer.closedByServer, 'socket left open');
        assert.ok(answer.statuses.length === 0 || answer.statuses[0] === 408, answer.text);
        assert.ok(answer.elapsedMs < 4_000, `closed after ${Math.round(answer.elapsedMs)} ms (request timeout 1 s)`);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('a caller that stops reading a whole answer is cut at the send timeout; one that waits for a slow answer is not', async () => {
      const body = Buffer.alloc(8_000_000, 'x');
      const server = createListener((req, res) => {
        // /slow: the answer is prepared for longer than the send timeout (an integration call).
        const delay = req.url === '/slow' ? 900 : 0;
        setTimeout(() => res.end(req.url === '/slow' ? 'ok' : body), delay);
      }, { ...LISTENER_LIMITS, sendTimeoutMs: 300 });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const sendPort = (server.address() as { port: number }).port;
      try {
        const stalled = connect(sendPort, '127.0.0.1');
        stalled.on('error', () => undefined);
        await new Promise<void>((resolve) => stalled.once('connect', resolve));
        stalled.pause(); // never reads: the 8 MB answer cannot reach the kernel
        stalled.write('GET /big HTTP/1.1\r\nHost: a\r\n\r\n');
        const started = Date.now();
        let open = 1;
        for (;;) {
          open = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
          if (open === 0 || Date.now() - started > 5_000) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        stalled.destroy();
        assert.equal(open, 0, 'a reader that never reads kept its connection and its 8 MB answer');
        const slow = await exchange(sendPort, ['GET /slow HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n'], { timeoutMs: 4_000 });
        assert.deepEqual(slow.statuses, [200, 200], 'a slow answer (and the one pipelined behind it) is not cut by the send timeout');
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('through the gateway, a slow body to a backend with timeoutMs 1 s is answered 504 at the integration timeout', async () => {
      const parts = ['POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n', ...Array.from({ length: 8 }, () => 'x')];
      const answer = await exchange(port, parts, { gapMs: 300, timeoutMs: 3_500 });
      assert.deepEqual(answer.statuses, [504], answer.text);
      assert.ok(answer.firstByteMs < 3_000, `answered after ${Math.round(answer.firstByteMs)} ms`);
      assert.equal(backend.seen.length, 0, 'the backend never got a whole request');
    });
  });
});
