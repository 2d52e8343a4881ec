/**
 * Attack pass on the RFC 9111 `httpCache` policy (issue 14), by a reviewer who did not write it:
 * hostile requests through a real gateway and a real backend on loopback sockets.
 *
 * - Vary matched on what the caller sent, while the backend saw something else: a header the
 *   caller declares hop-by-hop (`Connection: Accept`) never reaches the backend, and the
 *   `X-Forwarded-For` the backend sees is the gateway's, not the caller's.
 * - A caller's own validators (`If-None-Match: *`, a future `If-Modified-Since`) answered 304 by
 *   the backend refreshed the stale stored entry, pinning outdated content for everyone.
 * - With a store whose delete fails (Redis gone between two commands), dropping a ninth
 *   variant's oldest left an unhandled promise rejection (a crash under Node's default).
 * - Invalidation keyed the re-encoded URL; a Host that is no URL authority gave a 500.
 * - X-Forwarded-Port/Prefix/… and `_` spellings reached the backend unkeyed.
 * - One caller's own conditionals/Range/Authorization marked a URL hit-for-pass for everyone.
 * - With Redis down, Vary answers were not shared with the waiters they match.
 * - A Vary-named field on several lines or spelled with `_` was matched unlike backends read it.
 * And what held: hostile times, stale-while-revalidate over a hanging backend, 304 + Set-Cookie,
 * ranges. docs/notes/attack-httpcache.md has the list with commits.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { CacheEntry } from '../../src/cache/entry.js';
import { CACHE_ENTRY_VERSION } from '../../src/cache/entry.js';
import { MAX_VARIANTS_PER_URL, VariantStore } from '../../src/cache/policies/http/variants.js';
import { MemoryStore } from '../../src/cache/stores/memory.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { redisSkip, RedisServer } from '../helpers/redis.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A GET with raw header lines (spellings and repeats kept), optionally from another loopback address. */
function get(url: string, lines: readonly [string, string][], localAddress?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const raw = [['Host', new URL(url).host], ...lines].flat();
    const req = httpRequest(url, { headers: raw as unknown as Record<string, string>, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A config with one API, `id`, whose greedy route reaches `backendUrl` through the httpCache `std` (1 MiB). */
function httpCacheConfig(id: string, backendUrl: string, options: { cache?: Record<string, unknown>; timeoutMs?: number; store?: Record<string, unknown> } = {}) {
  const integration = { type: 'HTTP_PROXY', uri: `${backendUrl}/{proxy}`, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
  return {
    ...(options.store ? { store: options.store } : {}),
    httpCaches: { std: { capacityBytes: 1 << 20, ...options.cache } },
    apis: [{ id, resources: { '/{proxy+}': { ANY: { httpCache: 'std', integration } } }, stages: { prod: {} } }],
  };
}

describe('httpCache attack: Vary matched on what the backend did not see', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url!.startsWith('/accept')) {
        // Content negotiation: JSON for those who ask for it, HTML otherwise.
        const json = (req.headers.accept ?? '').includes('application/json');
        res.writeHead(200, { vary: 'Accept', 'cache-control': 'max-age=600', 'content-type': json ? 'application/json' : 'text/html' });
        res.end(json ? '{"kind":"json"}' : '<html>kind=html</html>');
        return;
      }
      // Per-client content chosen by the address the gateway reports (geo-IP, rate notices, …).
      res.writeHead(200, { vary: 'X-Forwarded-For', 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`for ${req.headers['x-forwarded-for'] ?? '(none)'}`);
    });
    gateway = await startGateway(httpCacheConfig('hv', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  for (const connection of ['Accept', 'accept', 'close, Accept', 'keep-alive,  ACCEPT ']) {
    it(`a header the caller lists in Connection (${JSON.stringify(connection)}) cannot poison the variant it names`, async () => {
      const url = `${gateway.dataUrl}/prod/accept/${encodeURIComponent(connection)}`;
      // The attacker: Accept: application/json, but declared hop-by-hop, so the backend sees none.
      const attack = await get(url, [['Accept', 'application/json'], ['Connection', connection]]);
      assert.equal(attack.status, 200);
      // A victim asking for JSON must get JSON, not the HTML the backend made for "no Accept".
      const victim = await get(url, [['Accept', 'application/json']]);
      assert.equal(victim.text, '{"kind":"json"}', `victim got ${victim.text}`);
      assert.equal(victim.headers['content-type'], 'application/json');
    });
  }

  it('Vary: X-Forwarded-For never hands one client\'s answer to another client', async () => {
    const url = `${gateway.dataUrl}/prod/ip/page`;
    const first = await get(url, [], '127.0.0.2');
    assert.equal(first.text, 'for 127.0.0.2');
    const second = await get(url, [], '127.0.0.3');
    assert.equal(second.text, 'for 127.0.0.3', `127.0.0.3 got ${second.text}`);
    // Nor can a caller claim another's address to read its variant.
    const spoof = await get(url, [['X-Forwarded-For', '127.0.0.2']], '127.0.0.4');
    assert.ok(!spoof.text.startsWith('for 127.0.0.2') || spoof.text.endsWith('127.0.0.4'), `spoofer got ${spoof.text}`);
  });
});

describe('httpCache attack: caller validators refreshing a stale entry', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };
  /** The backend's current representation, per path. */
  const version = new Map<string, number>();
  const lastModified = new Map<string, string>();

  before(async () => {
    // Behaves like Express's `fresh`: If-None-Match `*` or a listed current ETag → 304; else an
    // If-Modified-Since not older than Last-Modified → 304.
    backend = await startBackend((req, res) => {
      const path = req.url!;
      const v = version.get(path) ?? 1;
      const etagOnly = path.startsWith('/etag');
      const etag = `"v${v}"`;
      const modified = lastModified.get(path)!;
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      const headers: Record<string, string> = { 'cache-control': 'max-age=10', 'content-type': 'text/plain' };
      if (etagOnly) headers.etag = etag;
      else headers['last-modified'] = modified;
      let fresh = false;
      if (inm !== undefined) fresh = inm === '*' || inm.split(',').some((tag) => tag.trim() === etag);
      else if (ims !== undefined && !etagOnly) fresh = Date.parse(ims) >= Date.parse(modified);
      if (fresh) {
        res.writeHead(304, headers).end();
        return;
      }
      res.writeHead(200, headers).end(`version ${v}`);
    });
    gateway = await startGateway(httpCacheConfig('hc', backend.url, { cache: { heuristicFraction: 0 } }), { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const cases: { name: string; path: string; validators: (modified: string) => [string, string][] }[] = [
    { name: 'If-None-Match: *', path: '/etag/star', validators: () => [['If-None-Match', '*']] },
    { name: 'If-None-Match: * (Last-Modified entry)', path: '/lm/star', validators: () => [['If-None-Match', '*']] },
    { name: 'a future If-Modified-Since', path: '/lm/future', validators: () => [['If-Modified-Since', new Date(Date.now() + 3600_000).toUTCString()]] },
  ];
  for (const { name, path, validators } of cases) {
    it(`${name} from one caller does not make an outdated entry fresh for everyone`, async () => {
      clock.now = Date.now() - 20_000;
      const modified = new Date(Date.now() - 60_000).toUTCString();
      lastModified.set(path, modified);
      version.set(path, 1);
      const url = `${gateway.dataUrl}/prod${path}`;
      assert.equal((await get(url, [])).text, 'version 1');
      assert.equal((await get(url, [])).text, 'version 1', 'a hit while fresh');
      // The backend's representation changes; the entry goes stale.
      version.set(path, 2);
      lastModified.set(path, new Date(Date.now() - 1000).toUTCString());
      clock.now = Date.now();
      const attack = await get(url, validators(modified));
      assert.ok(attack.status === 304 || attack.status === 200, `attacker got ${attack.status}`);
      // Everyone else must now get version 2.
      const victim = await get(url, []);
      assert.equal(victim.text, 'version 2', `after the attacker's conditional request a victim got "${victim.text}"`);
    });
  }

  for (const [name, validators, status] of [
    ['its own matching ETag', [['If-None-Match', '"v7"']], 304],
    ['another ETag', [['If-None-Match', '"v6"']], 200],
    ['none', [], 200],
  ] as [string, [string, string][], number][]) {
    it(`a revalidation confirmed by the backend refreshes the entry (caller validators: ${name})`, async () => {
      clock.now = Date.now() - 20_000;
      const path = `/etag/plain/${encodeURIComponent(name)}`;
      lastModified.set(path, new Date(Date.now() - 60_000).toUTCString());
      version.set(path, 7);
      const url = `${gateway.dataUrl}/prod${path}`;
      assert.equal((await get(url, [])).text, 'version 7');
      clock.now = Date.now();
      const calls = backend.calls;
      const revalidated = await get(url, validators);
      assert.equal(revalidated.status, status);
      if (status === 200) assert.equal(revalidated.text, 'version 7');
      assert.equal(backend.calls, calls + 1);
      // The entry's validator went upstream (the caller's own, when it sent one, goes as it is).
      assert.equal(backend.seen.at(-1)!.headers['if-none-match'], validators[0]?.[1] ?? '"v7"');
      // The entry was confirmed by the backend: fresh again, served without a call.
      assert.equal((await get(url, [])).text, 'version 7');
      assert.equal(backend.calls, calls + 1);
    });
  }
});

describe('httpCache attack: store failures while dropping variants', () => {
  it('a failing delete of a dropped variant is no unhandled rejection', async () => {
    const inner = new MemoryStore({ now: Date.now });
    const space = 'space';
    inner.configureStage(space, 1 << 20);
    // A store that loses its connection after a successful write (Redis killed mid-request).
    const failing = Object.create(inner) as MemoryStore;
    failing.delete = () => Promise.reject(new Error('store unavailable'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const now = Date.now();
      for (let i = 0; i <= MAX_VARIANTS_PER_URL; i++) {
        const store = new VariantStore(failing, ['Accept-Language', `l${i}`], Date.now);
        const entry: CacheEntry = {
          version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['vary', 'accept-language']], body: Buffer.from(`l${i}`),
          storedAt: now, staleAt: now + 60_000, deleteAt: now + 120_000,
        };
        await store.set(space, 'url', entry);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled.map(String), []);
  });
});

describe('httpCache attack: unsafe methods with hostile Host values', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end(`call ${backend.calls}`);
        return;
      }
      res.writeHead(201, { location: '/items/2', 'content-type': 'text/plain' }).end('created');
    });
    gateway = await startGateway(httpCacheConfig('hh', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  for (const host of ['a b', 'x:y:z', 'a%zz', '[::1', 'h\u00e9']) {
    it(`a POST with Host ${JSON.stringify(host)} gets the backend's answer and still invalidates its URL`, async () => {
      const port = Number(new URL(gateway.dataUrl).port);
      const send = (method: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method, path: '/prod/items/1', headers: { host }, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end();
      });
      const stored = await send('GET');
      assert.equal(stored.status, 200);
      assert.equal((await send('GET')).text, stored.text, 'a hit under that Host');
      const posted = await send('POST');
      assert.equal(posted.status, 201, `POST answered ${posted.status} ${posted.text}`);
      assert.notEqual((await send('GET')).text, stored.text, 'the POST invalidated the URL under its Host');
    });
  }
});

describe('httpCache attack: unsafe methods on URLs that WHATWG URL would re-encode', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end(`call ${backend.calls}`);
        return;
      }
      res.writeHead(204).end();
    });
    gateway = await startGateway(httpCacheConfig('he', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const port = () => Number(new URL(gateway.dataUrl).port);
  const send = (method: string, path: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: port(), method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });

  for (const path of ['/prod/a%7Bb%7D', '/prod/a%22b', '/prod/a%60b', '/prod/a%20b', '/prod/a%5Eb', '/prod/a%7Cb', "/prod/q?x='1'", '/prod/q?x=%22', '/prod/q?a=b%20c', "/prod/a'b", '/prod/a%3Cb%3E', '/prod/q?x="1"', '/prod/q?x=<a>', '/prod/q?x=`{}`', '/prod/q?x=%2', '/prod/q?#']) {
    it(`a DELETE of ${path} invalidates what a GET of it stored`, async () => {
      const stored = await send('GET', path);
      if (stored.status !== 200) return; // a spelling the gateway refuses is no cache entry
      assert.equal((await send('GET', path)).text, stored.text, 'a hit');
      const deleted = await send('DELETE', path);
      assert.equal(deleted.status, 204);
      assert.notEqual((await send('GET', path)).text, stored.text, `the DELETE of ${path} left the stored answer`);
    });
  }
});

describe('httpCache attack: X-Forwarded-* beyond for/host/proto, and underscore spellings', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  /** What a framework behind a trusted proxy reads (Spring, Symfony, Rails: port, prefix, scheme, server, ssl); WSGI/CGI map `_` to `-`. */
  const readsForwarded = (headers: Record<string, string | string[] | undefined>) => Object.entries(headers)
    .filter(([name]) => { const n = name.replace(/_/g, '-'); return (n.startsWith('x-forwarded-') || n === 'forwarded') && name !== 'x-forwarded-for' && name !== 'x-forwarded-proto'; })
    .map(([name, value]) => `${name}=${String(value)}`).sort().join(';');

  before(async () => {
    backend = await startBackend((req, res) => {
      // A redirect built from the forwarded fields the framework trusts.
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end(`links use [${readsForwarded(req.headers)}]`);
    });
    gateway = await startGateway(httpCacheConfig('hx', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const attacks: [string, string][] = [
    ['X-Forwarded-Port', '1337'], ['X-Forwarded-Prefix', '//evil.example'], ['X-Forwarded-Scheme', 'javascript'],
    ['X-Forwarded-Server', 'evil.example'], ['X-Forwarded-Ssl', 'on'], ['x-forwarded-uri', '/admin'],
    ['X_Forwarded_Host', 'evil.example'], ['x_forwarded_for', '10.0.0.1'], ['X-Forwarded_Host', 'evil.example'], ['FORWARDED', 'host=evil.example'],
  ];
  for (const [name, value] of attacks) {
    it(`${name} from a caller never reaches the backend of a cached method`, async () => {
      const url = `${gateway.dataUrl}/prod/page/${encodeURIComponent(name)}`;
      const attack = await get(url, [[name, value]]);
      assert.equal(attack.text, 'links use []', `the backend read ${attack.text}`);
      const victim = await get(url, []);
      assert.equal(victim.text, 'links use []');
    });
  }
});

describe('httpCache attack: one caller\'s own request conditions switching coalescing off for everyone', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      // A slow, cacheable page, as a browser revalidation, a range or a no-store request finds it.
      setTimeout(() => {
        if (req.headers['if-none-match'] === '"x"') return res.writeHead(304, { etag: '"x"' }).end();
        if (req.headers.range === 'bytes=0-0') return res.writeHead(206, { 'content-range': 'bytes 0-0/4', etag: '"x"' }).end('p');
        res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"x"', 'content-type': 'text/plain' }).end('page');
      }, 150);
    });
    gateway = await startGateway(httpCacheConfig('hp', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const own: [string, [string, string][]][] = [
    ['If-None-Match (a browser revalidating)', [['If-None-Match', '"x"']]],
    ['Range', [['Range', 'bytes=0-0']]],
    ['Cache-Control: no-store', [['Cache-Control', 'no-store']]],
    ['Authorization', [['Authorization', 'Bearer mine']]],
  ];
  for (const [name, lines] of own) {
    it(`a request with ${name} does not stop the next concurrent misses from coalescing`, async () => {
      const url = `${gateway.dataUrl}/prod/hot/${encodeURIComponent(name)}`;
      await get(url, lines);
      const calls = backend.calls;
      const bodies = await Promise.all(Array.from({ length: 6 }, () => get(url, [])));
      for (const body of bodies) assert.equal(body.text, 'page');
      assert.equal(backend.calls - calls, 1, `${backend.calls - calls} backend calls for 6 concurrent misses`);
    });
  }
});

describe('httpCache attack: Redis killed, Vary answers still shared with the callers they match', { skip: redisSkip() }, () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let redis: RedisServer;

  before(async () => {
    backend = await startBackend((req, res) => {
      setTimeout(() => res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=600', 'content-type': 'text/plain' })
        .end(`lang ${req.headers['accept-language'] ?? '-'}`), 200);
    });
    redis = await RedisServer.start();
    gateway = await startGateway(httpCacheConfig('hr', backend.url, { store: { type: 'redis', url: redis.url, timeoutMs: 200 } }));
  });
  after(async () => {
    await gateway?.close();
    await backend?.close();
    await redis?.stop();
  });

  it('concurrent callers of one variant make one backend call and wait no longer than caching off would', async () => {
    await redis.kill();
    const url = `${gateway.dataUrl}/prod/down`;
    // Warm up the outage (the first calls find the store unreachable).
    await get(`${url}/warm`, [['Accept-Language', 'en']]);
    const calls = backend.calls;
    const bodies = await Promise.all(Array.from({ length: 5 }, () => get(url, [['Accept-Language', 'en']])));
    for (const body of bodies) assert.equal(body.text, 'lang en');
    // One call: the waiters were answered by the leader (sent on after it, each would take twice
    // the backend's time: slower than caching off, against SPEC §7).
    assert.equal(backend.calls - calls, 1, `${backend.calls - calls} backend calls for 5 concurrent callers of one variant`);
    // Another variant still gets its own answer.
    const others = await Promise.all([get(url, [['Accept-Language', 'fr']]), get(url, [['Accept-Language', 'en']])]);
    assert.deepEqual(others.map((other) => other.text), ['lang fr', 'lang en']);
  });
});

describe('httpCache attack: a Vary-named header spelled with underscores (WSGI/CGI backends read it as the same)', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((req, res) => {
      // As a CGI/WSGI server maps names to HTTP_ACCEPT_LANGUAGE: `_` and `-` alike, the last line wins.
      let language = '-';
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase().replace(/_/g, '-') === 'accept-language') language = req.rawHeaders[i + 1]!;
      res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end(`lang ${language}`);
    });
    gateway = await startGateway(httpCacheConfig('hu', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const attacks: [string, [string, string][], [string, string][]][] = [
    ['Accept_Language alone', [['Accept_Language', 'fr']], []],
    ['accept_language after Accept-Language', [['Accept-Language', 'en'], ['accept_language', 'fr']], [['Accept-Language', 'en']]],
    ['ACCEPT_LANGUAGE, victim with none', [['ACCEPT_LANGUAGE', 'xx']], []],
  ];
  for (const [name, attack, victim] of attacks) {
    it(`${name}: the victim gets the answer for its own Accept-Language`, async () => {
      const url = `${gateway.dataUrl}/prod/u/${encodeURIComponent(name)}`;
      await get(url, attack);
      const answer = await get(url, victim);
      assert.equal(answer.text, `lang ${victim[0]?.[1] ?? '-'}`, `victim ${JSON.stringify(victim)} got ${answer.text}`);
    });
  }
});

describe('httpCache attack: a Vary-named field split over several lines', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

  before(async () => {
    backend = await startBackend((req, res) => {
      // Node keeps the first User-Agent line only (as Lambda's `headers` keeps the last of any field).
      const ua = req.headers['user-agent'] ?? '';
      res.writeHead(200, { vary: 'User-Agent', 'cache-control': 'max-age=600', 'content-type': 'text/plain' })
        .end(ua.includes('Chrome/') ? 'page for chrome' : 'unsupported browser');
    });
    gateway = await startGateway(httpCacheConfig('hs', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('a User-Agent split at its comma does not poison the variant of the whole User-Agent', async () => {
    const url = `${gateway.dataUrl}/prod/ua`;
    const [head, tail] = chrome.split(', ') as [string, string];
    const attack = await get(url, [['User-Agent', head], ['User-Agent', tail]]);
    assert.equal(attack.text, 'unsupported browser');
    const victim = await get(url, [['User-Agent', chrome]]);
    assert.equal(victim.text, 'page for chrome', `a Chrome user got "${victim.text}"`);
  });
});

describe('httpCache attack: hostile times and a hanging backend behind stale-while-revalidate', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };
  let inFlight = 0;
  let maxInFlight = 0;
  let hang = false;

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url!.startsWith('/times')) {
        res.writeHead(200, {
          age: '99999999999999999999', date: 'Thu, 01 Jan 1970 00:00:00 GMT', expires: 'Fri, 31 Dec 9999 23:59:59 GMT',
          'last-modified': 'Mon, 01 Jan 0001 00:00:00 GMT', 'content-type': 'text/plain',
        }).end('times');
        return;
      }
      if (hang) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        res.on('close', () => inFlight--);
        return; // never answers: the integration times out
      }
      res.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=1, stale-while-revalidate=600', 'content-type': 'text/plain' }).end('swr');
    });
    gateway = await startGateway(httpCacheConfig('ht', backend.url, { timeoutMs: 300 }), { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('Age 10^20, Date 1970, Expires 9999, Last-Modified year 1: answered, an integral Age, nothing stored as fresh', async () => {
    clock.now = Date.now();
    const url = `${gateway.dataUrl}/prod/times`;
    const first = await get(url, []);
    assert.equal(first.status, 200);
    assert.match(String(first.headers.age ?? '0'), /^\d+$/);
    const calls = backend.calls;
    const second = await get(url, []);
    assert.equal(second.status, 200);
    assert.equal(backend.calls, calls + 1, 'an answer that aged past any lifetime is not served from the cache');
  });

  it('many stale hits of every variant make at most one background call at a time to a hanging backend', async () => {
    clock.now = Date.now() - 10_000;
    const url = `${gateway.dataUrl}/prod/swr`;
    const languages = ['en', 'fr', 'de', 'it'];
    for (const language of languages) assert.equal((await get(url, [['Accept-Language', language]])).text, 'swr');
    hang = true;
    clock.now = Date.now();
    const started = Date.now();
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(languages.flatMap((language) => [get(url, [['Accept-Language', language]]), get(url, [['Accept-Language', language]])]));
      for (const answer of answers) assert.equal(answer.text, 'swr');
    }
    assert.ok(Date.now() - started < 2000, 'stale answers did not wait for the backend');
    assert.ok(maxInFlight <= 1, `${maxInFlight} background calls at once`);
    hang = false;
  });
});

describe('httpCache attack: a 304 that would change dangerous stored headers', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.now() };

  before(async () => {
    backend = await startBackend((req, res) => {
      const extra: Record<string, string | string[]> = req.url!.endsWith('/public') ? { 'cache-control': 'public, max-age=10' } : { 'cache-control': 'max-age=10' };
      if (req.headers['if-none-match'] === '"a"') {
        res.writeHead(304, { ...extra, etag: '"a"', 'set-cookie': ['session=first-caller'], 'x-updated': 'yes' }).end();
        return;
      }
      res.writeHead(200, { ...extra, etag: '"a"', 'content-type': 'text/plain' }).end('body');
    });
    gateway = await startGateway(httpCacheConfig('h3', backend.url), { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  for (const path of ['/prod/c/private', '/prod/c/public']) {
    it(`a 304 with Set-Cookie never gives that cookie to later callers (${path})`, async () => {
      clock.now = Date.now() - 20_000;
      const url = `${gateway.dataUrl}${path}`;
      assert.equal((await get(url, [])).text, 'body');
      clock.now = Date.now();
      const revalidated = await get(url, []);
      assert.equal(revalidated.text, 'body');
      const later = await get(url, []);
      assert.equal(later.text, 'body');
      assert.equal(later.headers['set-cookie'], undefined, 'a later caller got the 304\'s cookie');
      assert.equal(later.headers['content-length'], '4');
    });
  }
});

describe('httpCache attack: ranges and HEAD served from a stored entry', () => {
  let backend: CountingBackend;
  let gateway: Gateway;

  before(async () => {
    backend = await startBackend((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"r1"', 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', 'content-type': 'text/plain' }).end('0123456789');
    });
    gateway = await startGateway(httpCacheConfig('hg', backend.url));
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const cases: [string, [string, string][], number, string][] = [
    ['bytes=3-5', [['Range', 'bytes=3-5']], 206, '345'],
    ['suffix', [['Range', 'bytes=-3']], 206, '789'],
    ['suffix past the start', [['Range', 'bytes=-99999999999999999999']], 206, '0123456789'],
    ['end past the end', [['Range', 'bytes=8-99999999999999999999']], 206, '89'],
    ['leading zeros', [['Range', 'bytes=0000000000000000000000003-4']], 206, '34'],
    ['start past the end', [['Range', 'bytes=10-']], 416, ''],
    ['suffix 0', [['Range', 'bytes=-0']], 416, ''],
    ['first > last', [['Range', 'bytes=5-2']], 200, '0123456789'],
    ['several ranges', [['Range', 'bytes=0-0,2-3']], 200, '0123456789'],
    ['other unit', [['Range', 'items=0-1']], 200, '0123456789'],
    ['negative', [['Range', 'bytes=-1-2']], 200, '0123456789'],
    ['If-Range strong match', [['Range', 'bytes=0-1'], ['If-Range', '"r1"']], 206, '01'],
    ['If-Range weak', [['Range', 'bytes=0-1'], ['If-Range', 'W/"r1"']], 200, '0123456789'],
    ['If-Range other', [['Range', 'bytes=0-1'], ['If-Range', '"r0"']], 200, '0123456789'],
    ['If-Range date', [['Range', 'bytes=0-1'], ['If-Range', 'Mon, 01 Jan 2024 00:00:00 GMT']], 206, '01'],
    ['If-Range bad date', [['Range', 'bytes=0-1'], ['If-Range', 'Mon, 01 Jan 2024 00:00:00 UTC']], 200, '0123456789'],
    ['If-None-Match wins over Range', [['Range', 'bytes=0-1'], ['If-None-Match', '"r1"']], 304, ''],
  ];
  it('answers each range from the stored bytes, or the whole entry', async () => {
    const url = `${gateway.dataUrl}/prod/bytes`;
    await get(url, []);
    const calls = backend.calls;
    for (const [name, lines, status, body] of cases) {
      const answer = await get(url, lines);
      assert.equal(answer.status, status, name);
      assert.equal(answer.text, body, name);
      if (status === 206) assert.equal(answer.headers['content-range'], `bytes ${'0123456789'.indexOf(body)}-${'0123456789'.indexOf(body) + body.length - 1}/10`, name);
    }
    assert.equal(backend.calls, calls, 'all from the cache');
  });
});
