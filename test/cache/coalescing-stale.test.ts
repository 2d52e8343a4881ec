/**
 * SPEC §7 through HTTP: request coalescing, stale-while-revalidate, stale-if-error and
 * conditional requests answered from the cache. The clock is injected; the backend counts calls
 * and how many run at once.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

describe('beyond AWS: coalescing, stale serving, conditional requests', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: 1_800_000_000_000 };
  let running = 0;
  let maxRunning = 0;
  const url = (path: string) => `${gateway.dataUrl}${path}`;
  /** Answers after `ms`, tracking how many backend calls overlap. */
  const slow = (ms: number, status = 200, headers: Record<string, string> = {}) => {
    backend.handler = (_req, res, _body, n) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      setTimeout(() => {
        running--;
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`answer ${n}`);
      }, ms);
    };
  };

  before(async () => {
    backend = await startBackend();
    const proxy = (path: string, timeoutMs = 2000) => ({ GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}`, timeoutMs } } });
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/plain': proxy('/plain'), '/swr': proxy('/swr'), '/sie': proxy('/sie', 300), '/down': { GET: { integration: { type: 'HTTP_PROXY', uri: 'http://127.0.0.1:1/x' } } } },
        stages: {
          prod: {
            cacheClusterEnabled: true,
            methodSettings: {
              '*/*': { cacheTtlInSeconds: 10 },
              'swr/GET': { staleWhileRevalidateSeconds: 30 },
              'sie/GET': { staleIfErrorSeconds: 60 },
            },
          },
        },
      }],
    }, { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    await gateway.flushStage('api', 'prod');
    backend.calls = 0;
    running = maxRunning = 0;
  });

  describe('request coalescing', () => {
    it('makes one integration call for concurrent misses of one key; the others get the same answer', async () => {
      slow(200);
      const answers = await Promise.all(Array.from({ length: 10 }, () => call(url('/prod/plain'))));
      assert.equal(backend.calls, 1);
      assert.ok(answers.every((answer) => answer.status === 200 && answer.text === 'answer 1'));
      const statuses = answers.map((answer) => answer.headers['cache-status']);
      assert.equal(statuses.filter((status) => status === 'cachegate; fwd=uri-miss; stored').length, 1);
      assert.equal(statuses.filter((status) => status === 'cachegate; fwd=uri-miss; collapsed').length, 9);
    });

    it('does not share an answer that may not be stored: the waiters go to the integration together, each for its own answer', async () => {
      // Issue 13: they used to go one at a time (a convoy); an unshareable answer now releases them all at once.
      slow(100, 503);
      const answers = await Promise.all(Array.from({ length: 5 }, () => call(url('/prod/plain'))));
      assert.ok(answers.every((answer) => answer.status === 503));
      assert.equal(backend.calls, 5);
      assert.ok(maxRunning > 1, 'waiters were released together');
      assert.equal(new Set(answers.map((answer) => answer.text)).size, 5, 'each caller got its own answer');
    });

    it('releases the waiters when the leader fails: each goes on its own', async () => {
      let first = true;
      backend.handler = (_req, res, _body, n) => {
        if (first) {
          first = false;
          setTimeout(() => res.destroy(), 100);
        } else {
          res.end(`answer ${n}`);
        }
      };
      const answers = await Promise.all(Array.from({ length: 4 }, () => call(url('/prod/plain'))));
      assert.equal(answers.filter((answer) => answer.status === 502).length, 1, 'the leader saw the failure');
      assert.equal(answers.filter((answer) => answer.status === 200).length, 3, 'every waiter got an answer of its own');
      assert.equal(backend.calls, 4);
    });
  });

  describe('stale-while-revalidate', () => {
    it('serves the stale entry at once and refreshes it once in the background', async () => {
      slow(0);
      await call(url('/prod/swr'));
      clock.now += 15_000; // 5 s past the 10 s TTL, within the 30 s window
      slow(150);
      const stale = await Promise.all([call(url('/prod/swr')), call(url('/prod/swr')), call(url('/prod/swr'))]);
      assert.ok(stale.every((answer) => answer.text === 'answer 1'));
      assert.match(stale[0]!.headers['cache-status'] as string, /^cachegate; hit; ttl=-5; detail=revalidating$/);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(backend.calls, 2, 'one background refresh');
      const fresh = await call(url('/prod/swr'));
      assert.equal(fresh.text, 'answer 2');
      assert.match(fresh.headers['cache-status'] as string, /^cachegate; hit; ttl=10$/);
    });

    it('goes to the integration once the window has passed', async () => {
      slow(0);
      await call(url('/prod/swr'));
      clock.now += 41_000;
      const answer = await call(url('/prod/swr'));
      assert.equal(answer.text, 'answer 2');
      assert.equal(answer.headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    });
  });

  describe('stale-if-error', () => {
    it('serves the stale entry when the integration answers 5xx, times out, or is down', async () => {
      slow(0);
      await call(url('/prod/sie'));
      clock.now += 20_000;
      slow(0, 503);
      const on503 = await call(url('/prod/sie'));
      assert.equal(on503.status, 200);
      assert.equal(on503.text, 'answer 1');
      assert.equal(on503.headers['cache-status'], 'cachegate; hit; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error');
      slow(1000);
      const onTimeout = await call(url('/prod/sie'));
      assert.equal(onTimeout.text, 'answer 1');
      assert.match(onTimeout.headers['cache-status'] as string, /detail=stale-if-error/);
      slow(0);
      const recovered = await call(url('/prod/sie'));
      assert.match(recovered.text, /^answer \d$/);
      assert.notEqual(recovered.text, 'answer 1');
    });

    it('does not serve stale beyond the window', async () => {
      slow(0);
      await call(url('/prod/sie'));
      clock.now += 71_000;
      slow(0, 503);
      assert.equal((await call(url('/prod/sie'))).status, 503);
    });

    it('without a window, a failure is the caller\'s answer', async () => {
      slow(0);
      await call(url('/prod/plain'));
      clock.now += 11_000;
      slow(0, 500);
      assert.equal((await call(url('/prod/plain'))).status, 500);
    });
  });

  describe('conditional requests', () => {
    it('revalidates an expired entry with the backend: a 304 refreshes it without a body transfer', async () => {
      let bodies = 0;
      backend.handler = (req, res) => {
        if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304, { etag: '"v1"', 'x-revalidated': 'yes' }).end();
        bodies++;
        res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' }).end('the body');
      };
      await call(url('/prod/plain'));
      await call(url('/prod/plain')); // a hit: the entry's replay headers are built
      clock.now += 11_000; // past the 10 s TTL; no stale window on this method
      const revalidated = await call(url('/prod/plain'));
      assert.equal(revalidated.status, 200);
      assert.equal(revalidated.text, 'the body');
      assert.equal(revalidated.headers['cache-status'], 'cachegate; fwd=stale; fwd-status=304; stored; detail=revalidated');
      assert.equal(revalidated.headers['x-revalidated'], 'yes', 'headers updated from the 304');
      assert.equal(backend.seen.at(-1)!.headers['if-none-match'], '"v1"');
      assert.equal(bodies, 1, 'the body crossed the wire once');
      const hit = await call(url('/prod/plain'));
      assert.match(hit.headers['cache-status'] as string, /^cachegate; hit; ttl=10$/);
      assert.equal(hit.headers['x-revalidated'], 'yes', 'hits replay the updated headers');
      assert.equal(backend.calls, 2);
    });

    it('refetches when the backend says the entry changed', async () => {
      let version = 1;
      backend.handler = (req, res) => {
        const etag = `"v${version}"`;
        if (req.headers['if-none-match'] === etag) return res.writeHead(304, { etag }).end();
        res.writeHead(200, { etag }).end(`version ${version}`);
      };
      await call(url('/prod/plain'));
      version = 2;
      clock.now += 11_000;
      const changed = await call(url('/prod/plain'));
      assert.equal(changed.text, 'version 2');
      assert.equal(changed.headers['cache-status'], 'cachegate; fwd=stale; stored');
    });


    it('answers If-None-Match and If-Modified-Since with 304 from the cache', async () => {
      const lastModified = new Date(clock.now - 60_000).toUTCString();
      slow(0, 200, { etag: '"v1"', 'last-modified': lastModified });
      await call(url('/prod/plain'));
      const byTag = await call(url('/prod/plain'), { headers: { 'if-none-match': 'W/"v0", "v1"' } });
      assert.equal(byTag.status, 304);
      assert.equal(byTag.text, '');
      assert.equal(byTag.headers.etag, '"v1"');
      const byDate = await call(url('/prod/plain'), { headers: { 'if-modified-since': new Date(clock.now).toUTCString() } });
      assert.equal(byDate.status, 304);
      const changed = await call(url('/prod/plain'), { headers: { 'if-none-match': '"v0"' } });
      assert.equal(changed.status, 200);
      assert.equal(changed.text, 'answer 1');
      assert.equal(backend.calls, 1);
    });
  });
});
