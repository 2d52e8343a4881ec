/**
 * Attack pass on the `--workers N` features (issue 17): cross-thread fill leases
 * (stores/shared/leases.ts, cache/flow.ts followLease) and the shared throttle table, by a
 * reviewer who did not write them.
 *
 * Two gateways in this one thread, attached to one SharedStoreBuffers (store and lease table), are
 * two gateway threads as far as the leases are concerned (FillLeases is a view of shared memory;
 * the owner is diagnostic only) — and a test can pick which "thread" each request lands on, which
 * the kernel decides under a real `--workers 2`.
 *
 * 1. A leader whose shareable answer cannot reach the store (key-too-long: never stored) held its
 *    key's lease anyway: a miss of that key on another thread waited for the leader's whole call,
 *    found nothing in the store, then made its own call — its latency doubled, and the backend
 *    still got two calls (a local waiter gets the leader's entry from memory; a remote one cannot).
 * 2. An answer that is the leader's own (a Vary-named field spelled ambiguously, `X_Lang`: the
 *    policy sets ownAnswer at admit) says nothing about the key, and on its own thread marks no
 *    hit-for-pass. Released as `unshareable`, it made every other thread whose miss followed the
 *    lease mark the key hit-for-pass: any caller could switch off coalescing of a hot key on the
 *    other threads (each concurrent miss there then calls the integration on its own).
 * 3. A background revalidation (stale-while-revalidate) whose call failed or timed out released
 *    its lease as `unshareable`: a miss of the key on another thread that waited for it took that
 *    as "the integration answered" and got a whole new timeout for its own call — against a
 *    hanging backend, a 504 long after its own integration timeout (SPEC §7 Guarantees: "a
 *    hanging backend doubles no wait").
 * 4. (Fixed after the pass: the leader records its entry's storedAt in the lease slot, and a
 *    follower serves exactly that entry.) An answer stored but never fresh to a reader — `Cache-Control: no-cache`
 *    (validate on every use), an answer aged past its max-age upstream — is shared with the
 *    leader's waiters on its own thread (collapsed), but a waiter on another thread reads the store
 *    after the lease and finds nothing it may serve as fresh: it waited for the whole call and then
 *    makes its own. Every concurrent burst of such a key: callers on the other thread take twice the
 *    backend's time and the backend gets one call per thread anyway (a convoy; worse than no lease).
 * 5. A leader whose caller hung up had its integration call cut as soon as no waiter on its own
 *    thread was left — waiters on other threads did not count. Any caller could lead a hot key,
 *    hang up just before the answer, and release every caller of that key on the other threads to
 *    the integration at once, each with what was left of its timeout: a stampede, and 504s.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createSharedMemory, memoryArenaBytes } from '../../src/cache/stores/index.js';
import { MAX_CACHE_KEY_LENGTH } from '../../src/cache/limits.js';
import { validateConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two gateways ("threads") sharing one off-heap store and lease table. */
async function twoThreads(raw: unknown): Promise<[Gateway, Gateway]> {
  const load = () => validateConfig(raw, { source: '<test>', baseDir: process.cwd() });
  const first = load();
  const shared = createSharedMemory(memoryArenaBytes(first.config));
  const options = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, sharedMemory: shared };
  const one = await Gateway.start(first, options);
  const two = await Gateway.start(load(), options);
  return [one, two];
}

/**
 * Two threads of one httpCache API (`id`) in front of a backend that answers every path after
 * `delayMs` with a JSON body naming its call, and `headers`.
 */
async function slowHttpCacheThreads(id: string, headers: (call: number) => Record<string, string>, delayMs: number): Promise<{ gateways: [Gateway, Gateway]; backend: CountingBackend }> {
  const backend = await startBackend((req, res, _body, n) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers(n) });
      res.end(JSON.stringify({ path: req.url, call: n }));
    }, delayMs);
  });
  const gateways = await twoThreads({
    httpCaches: { std: { capacityBytes: 1 << 20 } },
    apis: [{ id, resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } } }, stages: { prod: {} } }],
  });
  return { gateways, backend };
}

/** A leader's request, then 150 ms later a follower's; both must answer 200. Returns the follower's answer and how long it took. */
async function leaderThenFollower(lead: () => ReturnType<typeof call>, follow: () => ReturnType<typeof call>) {
  const leader = lead();
  await sleep(150);
  const started = Date.now();
  const follower = await follow();
  const took = Date.now() - started;
  assert.equal((await leader).status, 200);
  assert.equal(follower.status, 200);
  return { follower, took };
}

async function metric(gateway: Gateway, name: string): Promise<number> {
  const text = await gateway.metrics.registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

let backend: CountingBackend | undefined;
let gateways: Gateway[] = [];
afterEach(async () => {
  for (const gateway of gateways) await gateway.close();
  gateways = [];
  await backend?.close();
  backend = undefined;
});

describe('threads attack: a fill that cannot reach the store holds no lease', () => {
  it('a key too long to store: a miss on another thread does not wait for the leader (its call is not doubled)', async () => {
    const DELAY_MS = 800;
    backend = await startBackend((req, res, _body, n) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url, call: n }));
      }, DELAY_MS);
    });
    gateways = await twoThreads({
      apis: [{
        id: 'klong',
        resources: { '/{proxy+}': { GET: { cacheKeyParameters: ['method.request.header.X-K'], integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 } } } },
      }],
    });
    const [one, two] = gateways as [Gateway, Gateway];
    const long = 'k'.repeat(MAX_CACHE_KEY_LENGTH + 1);
    const get = (gateway: Gateway) => call(`${gateway.dataUrl}/prod/item`, { headers: { 'x-k': long, connection: 'close' } });
    const { follower, took } = await leaderThenFollower(() => get(one), () => get(two));
    assert.match(String(follower.headers['cache-status']), /key-too-long/);
    // Nothing it could find in the store: it must not have waited for the other thread's lease.
    assert.equal(await metric(two, 'cachegate_cache_lease_waits_total'), 0, 'the second thread waited for a lease whose fill could never be stored');
    assert.ok(took < DELAY_MS + 400, `the second thread's caller took ${took} ms for an ${DELAY_MS} ms backend (waited for the other thread's whole call first)`);
  });
});

describe('threads attack: an answer that is the leader\'s own marks no hit-for-pass on other threads', () => {
  it('an ambiguous Vary spelling (X_Lang) on one thread does not switch off coalescing of the URL on the other', async () => {
    const DELAY_MS = 600;
    ({ gateways, backend } = await slowHttpCacheThreads('own', () => ({ 'cache-control': 'max-age=60', vary: 'x-lang' }), DELAY_MS));
    const [one, two] = gateways as [Gateway, Gateway];
    const url = (gateway: Gateway) => `${gateway.dataUrl}/prod/hot`;
    // The attacker, on the first thread: its answer is its own (not stored, no mark there).
    const attacker = call(url(one), { headers: { host: 'api.example', x_lang: 'fr', connection: 'close' } });
    await sleep(150);
    // A normal caller on the second thread follows the attacker's lease.
    const victim = call(url(two), { headers: { host: 'api.example', 'x-lang': 'en', connection: 'close' } });
    const attacked = await attacker;
    assert.equal(attacked.status, 200);
    assert.match(String(attacked.headers['cache-status']), /vary/);
    // While the victim makes its own call, a burst of the same variant arrives on the second thread.
    await sleep(200);
    const callsBefore = backend.calls;
    const burst = await Promise.all(Array.from({ length: 6 }, () => call(url(two), { headers: { host: 'api.example', 'x-lang': 'en', connection: 'close' } })));
    assert.equal((await victim).status, 200);
    for (const answer of burst) assert.equal(answer.status, 200);
    assert.equal(await metric(two, 'cachegate_cache_hit_for_pass_total'), 0, 'the other thread marked the URL hit-for-pass from an answer that was its caller\'s own');
    assert.ok(backend.calls - callsBefore <= 2, `the burst of 6 made ${backend.calls - callsBefore} backend calls (not coalesced)`);
  });
});

describe('threads attack: a failed background revalidation gives a waiter on another thread no new timeout', () => {
  it('a hanging backend: the caller that waited for another thread\'s revalidation gets its 504 within its own timeout', async () => {
    const TIMEOUT_MS = 1_500;
    backend = await startBackend((req, res, _body, n) => {
      // The first call fills the entry (fresh 1 s, then served stale while revalidated); every later call hangs.
      if (n > 1) return;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=1, stale-while-revalidate=60' });
      res.end(JSON.stringify({ path: req.url, call: n }));
    });
    gateways = await twoThreads({
      httpCaches: { std: { capacityBytes: 1 << 20 } },
      apis: [{ id: 'swr', resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: TIMEOUT_MS } } } }, stages: { prod: {} } }],
    });
    const [one, two] = gateways as [Gateway, Gateway];
    const get = (gateway: Gateway, headers: Record<string, string> = {}) =>
      call(`${gateway.dataUrl}/prod/swr`, { headers: { host: 'api.example', connection: 'close', ...headers } });
    assert.equal((await get(one)).status, 200);
    // Past max-age=1 whatever the Date header's rounding (the entry's age counts from it, §4.2.3).
    await sleep(2_200);
    // Stale: served at once on the first thread, which revalidates in the background (and hangs).
    const stale = await get(one);
    assert.match(String(stale.headers['cache-status']), /detail=revalidating/);
    await sleep(300);
    // The second thread's caller may not be served stale: it waits for the revalidation's lease.
    const started = Date.now();
    const answer = await get(two, { 'cache-control': 'no-cache' });
    const took = Date.now() - started;
    assert.equal(answer.status, 504);
    assert.ok(took < TIMEOUT_MS + 600, `the caller's 504 came ${took} ms after its arrival, its integration timeout is ${TIMEOUT_MS} ms`);
  });
});

describe('threads attack: a stored answer that is never fresh (no-cache) and a waiter on another thread', () => {
  it('the waiter is served the fill it waited for (collapsed), not sent on a second call after the first', async () => {
    const DELAY_MS = 800;
    ({ gateways, backend } = await slowHttpCacheThreads('nc', (n) => ({ 'cache-control': 'no-cache', etag: `"v${n}"` }), DELAY_MS));
    const [one, two] = gateways as [Gateway, Gateway];
    const get = (gateway: Gateway) => call(`${gateway.dataUrl}/prod/nc`, { headers: { host: 'api.example', connection: 'close' } });
    const { follower, took } = await leaderThenFollower(() => get(one), () => get(two));
    assert.ok(took < DELAY_MS + 300, `the second thread's caller took ${took} ms for an ${DELAY_MS} ms backend (waited for the other thread's call, then made its own)`);
    assert.equal(backend.calls, 1, 'one fill for two concurrent callers');
  });
});

describe('threads attack: a leader that hangs up while another thread waits for its lease', () => {
  it('the fill goes on for the other thread\'s waiters: served once, no stampede of short-deadline calls', async () => {
    const DELAY_MS = 800;
    const TIMEOUT_MS = 1_200;
    backend = await startBackend((req, res, _body, n) => {
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url, call: n }));
      }, DELAY_MS);
      res.once('close', () => clearTimeout(timer));
    });
    gateways = await twoThreads({
      apis: [{
        id: 'gone',
        resources: { '/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}`, timeoutMs: TIMEOUT_MS } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 } } } },
      }],
    });
    const [one, two] = gateways as [Gateway, Gateway];
    // The attacker leads the hot key on the first thread and hangs up before the backend answers.
    const abort = new AbortController();
    const { request } = await import('undici');
    const attacker = request(`${one.dataUrl}/prod/hot`, { signal: abort.signal, headers: { connection: 'close' } }).then(() => 'answered', () => 'aborted');
    await sleep(100);
    // Callers of the same key on the second thread: they wait for the first thread's lease.
    const victims = Promise.all(Array.from({ length: 5 }, () => call(`${two.dataUrl}/prod/hot`, { headers: { connection: 'close' } })));
    await sleep(400);
    abort.abort();
    assert.equal(await attacker, 'aborted');
    const answers = await victims;
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200, 200], 'callers on the other thread got 504s after the leader hung up');
    assert.equal(backend.calls, 1, `${backend.calls} backend calls: the other thread's callers were released to the backend at once`);
  });
});
