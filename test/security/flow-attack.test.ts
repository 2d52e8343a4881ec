/**
 * Attack pass on request coalescing, hit-for-pass and bounded waits (src/cache/flow.ts,
 * coalescing.ts, hit-for-pass.ts), by a reviewer who did not write them. Each case is hostile
 * traffic over real sockets against a real gateway and backend; docs/notes/attack-flow.md has
 * the findings these tests reproduce.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a connection and sends `head` (and nothing more): a request whose body never arrives. */
function hold(port: number, head: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('httpCache: an unsafe request for a URL never holds the GETs of that URL (flow-attack 1)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const sockets: Socket[] = [];
  const TIMEOUT_MS = 1500;

  before(async () => {
    backend = await startBackend((req, res, _body, n) => {
      if (req.method === 'POST') return void setTimeout(() => res.writeHead(201, { 'content-type': 'text/plain' }).end(`posted ${n}`), 1000);
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end(`got ${n}`);
    });
    gateway = await startGateway({
      httpCaches: { std: { capacityBytes: 1024 * 1024, maxTtl: 3600 } },
      apis: [{
        id: 'web',
        resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: TIMEOUT_MS } } } },
        stages: { prod: {} },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await gateway?.close();
    await backend?.close();
  });

  it('a POST whose body never arrives does not turn the GETs of its URL into 504s', async () => {
    // The attacker: a POST to the URL, body announced and never sent.
    sockets.push(await hold(port, 'POST /prod/item/1 HTTP/1.1\r\nHost: web.local\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nx'));
    await sleep(200);
    const started = Date.now();
    const answer = await call(`${gateway.dataUrl}/prod/item/1`, { headers: { host: 'web.local' } });
    const ms = Date.now() - started;
    assert.equal(answer.status, 200, `GET answered ${answer.status} ${String(answer.headers['cache-status'])} after ${ms} ms`);
    assert.ok(ms < 800, `GET took ${ms} ms (the backend answers GETs at once)`);
  });

  it('a slow POST neither delays concurrent GETs of its URL nor stops them coalescing', async () => {
    const post = call(`${gateway.dataUrl}/prod/item/2`, { method: 'POST', body: 'hello', headers: { host: 'web.local' } });
    await sleep(150);
    const calls = backend.calls;
    const started = Date.now();
    const gets = await Promise.all(Array.from({ length: 5 }, () => call(`${gateway.dataUrl}/prod/item/2`, { headers: { host: 'web.local' } })));
    const ms = Date.now() - started;
    assert.ok(gets.every((answer) => answer.status === 200));
    assert.ok(ms < 700, `GETs took ${ms} ms behind a 1 s POST`);
    assert.equal(backend.calls - calls, 1, 'five concurrent GET misses make one backend call');
    assert.equal((await post).status, 201);
  });
});

describe('a leader whose caller goes away does not throw its waiters onto the backend (flow-attack 2)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  let running = 0;
  let maxRunning = 0;

  before(async () => {
    backend = await startBackend((req, res, _body, n) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const done = () => running--;
      res.once('close', done);
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer ${n} for ${req.url}`), 400);
    });
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: 3000 } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 60 } } } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });

  it('an attacker who leads a hot key and hangs up leaves one backend call, shared by every waiter, and no hit-for-pass mark', async () => {
    const attacker = await hold(port, 'GET /prod/hot/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(50);
    running = maxRunning = 0;
    const calls = backend.calls;
    const waiters = Array.from({ length: 8 }, () => call(`${gateway.dataUrl}/prod/hot/1`));
    await sleep(100);
    attacker.destroy();
    const answers = await Promise.all(waiters);
    assert.ok(answers.every((answer) => answer.status === 200), answers.map((answer) => answer.status).join());
    assert.equal(new Set(answers.map((answer) => answer.text)).size, 1, 'every waiter got the one shared answer');
    assert.ok(backend.calls - calls <= 1, `${backend.calls - calls} more backend calls after the leader hung up (8 waiters)`);
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.doesNotMatch(metrics, /cachegate_cache_hit_for_pass_keys [1-9]/, 'a caller hanging up says nothing about the key');
    // The key still coalesces: a fresh burst after a flush makes one call.
    await gateway.flushStage('api', 'prod');
    const before = backend.calls;
    await Promise.all(Array.from({ length: 5 }, () => call(`${gateway.dataUrl}/prod/hot/1`)));
    assert.equal(backend.calls - before, 1);
  });

  it('a leader that hangs up with nobody waiting releases the backend call', async () => {
    running = 0;
    const attacker = await hold(port, 'GET /prod/alone/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(100);
    assert.equal(running, 1);
    attacker.destroy();
    await sleep(150);
    assert.equal(running, 0, 'the backend request was cancelled');
  });
});

describe('httpCache: a request whose own answer cannot be shared neither leads a URL nor marks it hit-for-pass (flow-attack 3)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const host = { host: 'web.local' };
  /** A CGI/WSGI-style backend: `If_None_Match` and `If-None-Match` are the same variable (HTTP_IF_NONE_MATCH). */
  const field = (headers: Record<string, unknown>, name: string) => headers[name] ?? headers[name.replace(/-/g, '_')];

  before(async () => {
    backend = await startBackend((req, res, _body, n) => setTimeout(() => {
      const h = req.headers as Record<string, unknown>;
      if (field(h, 'if-none-match') || field(h, 'if-modified-since')) return void res.writeHead(304, { etag: '"x"', 'cache-control': 'max-age=60' }).end();
      if (field(h, 'if-match') || field(h, 'if-unmodified-since')) return void res.writeHead(412, { 'content-type': 'text/plain' }).end('precondition');
      if (req.headers.range) return void res.writeHead(206, { 'content-type': 'text/plain', 'content-range': 'bytes 0-0/8', 'cache-control': 'max-age=60' }).end('a');
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end(`answer ${n}`);
    }, 300));
    gateway = await startGateway({
      httpCaches: { std: { capacityBytes: 1024 * 1024, maxTtl: 3600 } },
      apis: [{
        id: 'web',
        resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: 3000 } } } },
        stages: { prod: {} },
      }],
    });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });

  const attacks: [string, Record<string, string>][] = [
    ['Range', { range: 'bytes=0-0' }],
    ['Cache-Control: no-store', { 'cache-control': 'no-store' }],
    ['Authorization', { authorization: 'Bearer attacker' }],
    ['If-None-Match', { 'if-none-match': '"x"' }],
    // attack2 1 (second pass): the `_` spellings a CGI/WSGI backend reads as the same fields.
    ['If_None_Match', { 'If_None_Match': '"x"' }],
    ['If_Modified_Since', { 'If_Modified_Since': new Date().toUTCString() }],
    ['If_Match', { 'If_Match': '"nope"' }],
    ['If_Unmodified_Since', { 'if_unmodified_since': 'Thu, 01 Jan 1970 00:00:00 GMT' }],
  ];
  let n = 0;
  for (const [name, headers] of attacks) {
    it(`an attacker's ${name} request arriving first does not make the GETs behind it queue and then stampede`, async () => {
      const path = `${gateway.dataUrl}/prod/hot/${++n}`;
      const calls = backend.calls;
      const attacker = call(path, { headers: { ...host, ...headers } });
      await sleep(50);
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 8 }, () => call(path, { headers: host })));
      const ms = Date.now() - started;
      await attacker;
      assert.ok(answers.every((answer) => answer.status === 200));
      assert.equal(backend.calls - calls, 2, `the attacker's call and one for the 8 GETs (got ${backend.calls - calls - 1} for them)`);
      assert.ok(ms < 550, `the GETs waited ${ms} ms (the backend answers in 300 ms)`);
    });

    it(`an attacker's ${name} request leaves no hit-for-pass mark that stops the next GETs coalescing`, async () => {
      const path = `${gateway.dataUrl}/prod/hot/${++n}`;
      await call(path, { headers: { ...host, ...headers } });
      const calls = backend.calls;
      const answers = await Promise.all(Array.from({ length: 8 }, () => call(path, { headers: host })));
      assert.ok(answers.every((answer) => answer.status === 200));
      assert.equal(backend.calls - calls, 1, 'eight concurrent GET misses make one call');
    });
  }
});

describe('a waiter whose leader was answered in time is not given a 504 while the body streams (flow-attack 4)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((_req, res, _body, n) => {
      // The head at once, then 8 × 8 KiB, one every 150 ms (1.2 s in all), no Content-Length.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(Buffer.alloc(8192, 48 + (n % 10)));
        if (++sent === 8) {
          clearInterval(timer);
          res.end();
        }
      }, 150);
      res.once('close', () => clearInterval(timer));
    });
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: 800 } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 60 } } }, dev: { cacheClusterEnabled: false } },
      }],
    });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });

  it('uncached, every caller gets the 64 KiB answer; cached, the waiters get it too (one backend call), not 504s', async () => {
    const uncached = await Promise.all(Array.from({ length: 3 }, () => call(`${gateway.dataUrl}/dev/report/1`)));
    assert.ok(uncached.every((answer) => answer.status === 200 && answer.text.length === 65536));
    const calls = backend.calls;
    const leader = call(`${gateway.dataUrl}/prod/report/1`);
    await sleep(50);
    const waiters = await Promise.all(Array.from({ length: 4 }, () => call(`${gateway.dataUrl}/prod/report/1`)));
    assert.equal((await leader).status, 200);
    assert.deepEqual(waiters.map((answer) => answer.status), [200, 200, 200, 200], String(waiters.map((answer) => answer.headers['cache-status'])));
    assert.ok(waiters.every((answer) => answer.text.length === 65536));
    assert.equal(backend.calls - calls, 1);
  });
});

describe('AWS POST caching: a caller uploading its body slowly never leads the key (flow-attack 5)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const sockets: Socket[] = [];

  before(async () => {
    backend = await startBackend((_req, res, body, n) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer ${n} to ${body.length} bytes`));
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/search': { POST: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/search`, timeoutMs: 1500 } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { 'search/POST': { cachingEnabled: true, cacheTtlInSeconds: 60 } } } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await gateway?.close();
    await backend?.close();
  });

  it('POSTs with the same key are answered at once while an attacker trickles the body of another', async () => {
    sockets.push(await hold(port, 'POST /prod/search HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nq'));
    await sleep(50);
    const started = Date.now();
    const answer = await call(`${gateway.dataUrl}/prod/search`, { method: 'POST', body: 'query', headers: { 'content-type': 'text/plain' } });
    const ms = Date.now() - started;
    assert.equal(answer.status, 200, `answered ${answer.status} ${String(answer.headers['cache-status'])} after ${ms} ms`);
    assert.ok(ms < 700, `the POST waited ${ms} ms behind the attacker's upload`);
  });
});

describe('a backend cutting its body short: no waiter gets a truncated body, nothing is stored (flow-attack, held up)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      const chunked = req.url!.includes('chunked');
      res.writeHead(200, chunked ? { 'content-type': 'text/plain' } : { 'content-type': 'text/plain', 'content-length': '200000' });
      res.write(Buffer.alloc(chunked ? 70_000 : 100_000, 'a'));
      setTimeout(() => res.destroy(), 150);
    });
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: 2000 } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 60 } } } },
      }],
    });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });

  for (const kind of ['length', 'chunked']) {
    it(`${kind}: leader and waiters get an error or a cut connection, never a short 200; the next request goes to the backend`, async () => {
      const path = `${gateway.dataUrl}/prod/cut/${kind}`;
      const results = await Promise.all(Array.from({ length: 4 }, () => call(path).then((answer) => answer, () => undefined)));
      for (const answer of results) if (answer) assert.notEqual(answer.status, 200, `a ${answer.text.length}-byte 200 was served`);
      const calls = backend.calls;
      await call(path).catch(() => undefined);
      assert.equal(backend.calls, calls + 1, 'nothing was stored');
    });
  }
});

describe('stale-if-error: a failing backend is not stampeded by the waiters of a key with a stale entry (flow-attack 6)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };
  let failing = false;

  before(async () => {
    backend = await startBackend((_req, res, _body, n) => setTimeout(() => {
      if (failing) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer ${n}`);
    }, 300));
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: 3000 } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 1, staleIfErrorSeconds: 600 } } } },
      }],
    }, { now: () => clock.now });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });

  it('eight concurrent requests on an expired entry make one call to the failing backend and all get the stale answer; so does the next burst', async () => {
    const path = `${gateway.dataUrl}/prod/stale/1`;
    const first = await call(path);
    clock.now += 5000;
    failing = true;
    for (let round = 0; round < 2; round++) {
      const calls = backend.calls;
      const answers = await Promise.all(Array.from({ length: 8 }, () => call(path)));
      assert.ok(answers.every((answer) => answer.status === 200 && answer.text === first.text), answers.map((answer) => `${answer.status} ${String(answer.headers['cache-status'])}`).join(' | '));
      assert.equal(backend.calls - calls, 1, `round ${round}: ${backend.calls - calls} calls to the failing backend for 8 concurrent requests`);
    }
  });
});
