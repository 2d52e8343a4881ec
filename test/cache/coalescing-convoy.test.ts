/**
 * Issue 13, defect 1 (the coalescing convoy), through HTTP with a real backend: an answer that
 * cannot be shared must not queue callers one at a time behind a leader, no wait may outlast the
 * waiter's own integration timeout, and a key known to be unshareable is not coalesced at all
 * (hit-for-pass) until a storable answer clears it. Also issue 16: a 502/504 of a cache-enabled
 * method carries Cache-Status.
 *
 * Timing bounds here are deliberately loose (several times what a correct gateway needs, half of
 * what the convoy took), so a loaded machine cannot fail them and the convoy cannot pass them.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, type Answer } from '../helpers/http.js';

describe('coalescing without a convoy (issue 13, defect 1)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let running = 0;
  let maxRunning = 0;
  /** Backend answers by path: `cookie` (200 ms, Set-Cookie), `hang` (never), `ok` (200 ms, storable). */
  let cookieAnswers = true;
  const url = (path: string) => `${gateway.dataUrl}${path}`;
  const HANG_TIMEOUT_MS = 1500;

  before(async () => {
    backend = await startBackend((req, res, _body, n) => {
      if (req.url?.startsWith('/hang')) return; // never answers
      running++;
      maxRunning = Math.max(maxRunning, running);
      setTimeout(() => {
        running--;
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (req.url?.startsWith('/cookie') && cookieAnswers) headers['set-cookie'] = `session=${n}`;
        if (req.url?.startsWith('/fail')) return res.destroy();
        res.writeHead(200, headers).end(`answer ${n}`);
      }, 200);
    });
    const proxy = (timeoutMs = 5000) => ({ GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs } } });
    gateway = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/{proxy+}': proxy(), '/hang/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/hang/{id}`, timeoutMs: HANG_TIMEOUT_MS } } } },
        stages: {
          prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 60 } } },
          dev: { cacheClusterEnabled: false },
        },
      }],
    });
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
  });
  beforeEach(() => {
    running = maxRunning = 0;
    cookieAnswers = true;
  });

  /** Sends `n` requests at once; resolves with each answer and how long it took. */
  const burst = (n: number, path: string) => Promise.all(Array.from({ length: n }, async () => {
    const started = Date.now();
    const answer = await call(url(path));
    return { answer, ms: Date.now() - started };
  }));
  const slowest = (timed: { ms: number }[]) => Math.max(...timed.map((t) => t.ms));

  it('30 concurrent requests to a 200 ms Set-Cookie answer finish about as fast as on an uncached stage', async () => {
    const uncached = await burst(30, '/dev/cookie/a');
    const cached = await burst(30, '/prod/cookie/a');
    assert.ok(cached.every(({ answer }) => answer.status === 200), 'every caller is answered');
    assert.equal(new Set(cached.map(({ answer }) => answer.text)).size, 30, 'each caller got its own (unshared) answer');
    // The convoy took 30 × 200 ms = 6 s for the last caller (0.26 s uncached).
    assert.ok(slowest(cached) < 4000, `slowest cached ${slowest(cached)} ms vs uncached ${slowest(uncached)} ms`);
    assert.ok(maxRunning > 1, 'the waiters of an unshareable answer went to the backend together');
  });

  it('remembers an unshareable key (hit-for-pass): the next burst is not coalesced at all, and a storable answer clears the mark', async () => {
    await burst(2, '/prod/cookie/b');
    running = maxRunning = 0;
    const calls = backend.calls;
    const passed = await burst(10, '/prod/cookie/b');
    assert.equal(backend.calls, calls + 10);
    assert.ok(passed.every(({ answer }) => answer.headers['cache-status'] === 'cachegate; fwd=uri-miss; detail=set-cookie'));
    assert.equal(maxRunning, 10, 'all ten at once: nobody waited for a leader');
    const metrics = (await call(`${gateway.adminUrl}/metrics`)).text;
    assert.match(metrics, /cachegate_cache_hit_for_pass_total\{api="api",stage="prod"\} [1-9]/);

    cookieAnswers = false; // the backend now answers without Set-Cookie: storable
    const stored = await call(url('/prod/cookie/b'));
    assert.equal(stored.headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
    assert.match(String((await call(url('/prod/cookie/b'))).headers['cache-status']), /^cachegate; hit/);
    await gateway.flushStage('api', 'prod');
    const calls2 = backend.calls;
    const coalesced = await burst(5, '/prod/cookie/b');
    assert.equal(backend.calls, calls2 + 1, 'coalesced again after the storable answer');
    assert.equal(coalesced.filter(({ answer }) => answer.headers['cache-status'] === 'cachegate; fwd=uri-miss; collapsed').length, 4);
  });

  it('a hanging backend: every caller gets its own 504 at its own deadline, never a multiple of the timeout', async () => {
    const timed = await Promise.all([0, 150, 300, 450].map(async (delay) => {
      await new Promise((resolve) => setTimeout(resolve, delay));
      const started = Date.now();
      const answer = await call(url('/prod/hang/1'));
      return { answer, ms: Date.now() - started };
    }));
    for (const { answer, ms } of timed) {
      assert.equal(answer.status, 504);
      assert.equal(answer.json().message !== undefined, true);
      // The convoy answered at 1, 2, 3, 4 × the timeout.
      // (900 ms of slack for a loaded machine; the convoy's second caller needed 2 × 1500 − 150 ms.)
      assert.ok(ms < HANG_TIMEOUT_MS + 900, `answered after ${ms} ms with a ${HANG_TIMEOUT_MS} ms timeout`);
    }
    // The leader's 504 releases the waiters, each then calling with what is left of its own time
    // (its own 504 says integration-timeout); a waiter whose time ends first says collapsed.
    const statuses = timed.map(({ answer }) => String(answer.headers['cache-status']));
    assert.ok(statuses.every((status) => /^cachegate; fwd=uri-miss; (collapsed; )?detail=integration-timeout$/.test(status)), String(statuses));
  });

  it('a waiter released by a failed leader goes on its own and the key stops coalescing', async () => {
    const answers = await burst(4, '/prod/fail/1');
    assert.ok(answers.every(({ answer }) => answer.status === 502));
    assert.ok(answers.every(({ ms }) => ms < 3000));
    assert.ok(answers.every(({ answer }) => /^cachegate; fwd=uri-miss; detail=integration-(unreachable|bad-response)$/.test(String(answer.headers['cache-status']))), String(answers.map(({ answer }) => answer.headers['cache-status'])));
  });

  it('a 502 from an unreachable integration carries Cache-Status (issue 16)', async () => {
    const down = await startGateway({
      apis: [{
        id: 'api',
        resources: { '/x': { GET: { integration: { type: 'HTTP_PROXY', uri: 'http://127.0.0.1:1/x', timeoutMs: 2000 } } } },
        stages: { prod: { cacheClusterEnabled: true } },
      }],
    });
    try {
      const answer: Answer = await call(`${down.dataUrl}/prod/x`);
      assert.equal(answer.status, 502);
      assert.equal(answer.headers['cache-status'], 'cachegate; fwd=uri-miss; detail=integration-unreachable');
    } finally {
      await down.close();
    }
  });
});
