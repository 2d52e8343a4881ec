/**
 * Hostile input against the stage cache, through real sockets (docs/security.md "Cache poisoning"
 * and "Cache deception"). The backend is deliberately naive: it reflects every header it receives
 * into the body, as an application that builds absolute links from X-Forwarded-Host would. A probe
 * passes when the attacker's marker never reaches the backend or a stored entry, and when no two
 * different resources share an entry.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type BackendHandler, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, rawExchange } from '../helpers/http.js';

const EVIL = 'evil.example';
const OPS_KEY = 'ops-api-key-0123456789';

/** A vulnerable application: answers with its URL, the call number and every header it saw. */
const reflectingHandler: BackendHandler = (req, res, _body, call) => {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = value;
  const extra: Record<string, string | string[]> = {};
  if (req.url?.startsWith('/cookie')) extra['set-cookie'] = ['session=s3cr3t; HttpOnly'];
  if (req.url?.startsWith('/vary-star')) extra.vary = '*';
  if (req.url?.startsWith('/vary-other')) extra.vary = 'X-Evil';
  const text = JSON.stringify({ url: req.url, call, headers });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
};

describe('hostile input: cache poisoning and deception', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const url = (path: string) => `${gateway.dataUrl}${path}`;
  const proxy = (path: string, extra: Record<string, unknown> = {}) => ({ ...extra, integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });
  /** Raw GET on a fresh connection (undici would normalise dot segments before sending). */
  const rawGet = async (target: string, headers = '') => rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: shop.test\r\n${headers}Connection: close\r\n\r\n`);
  const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  const lastSeen = () => backend.seen[backend.seen.length - 1]!;

  before(async () => {
    backend = await startBackend(reflectingHandler);
    gateway = await startGateway({
      identities: [{ name: 'ops', apiKey: OPS_KEY, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] }],
      apis: [{
        id: 'shop',
        resources: {
          '/pets': { GET: proxy('/pets') },
          '/Pets': { GET: proxy('/Pets') },
          '/pets/{petId}': { GET: proxy('/pets/{petId}') },
          '/users': { GET: proxy('/users', { cacheKeyParameters: ['method.request.querystring.type'] }) },
          '/private': { GET: proxy('/private', { cacheKeyParameters: ['method.request.header.Authorization'] }) },
          '/me': { GET: proxy('/me') },
          '/cookie': { GET: proxy('/cookie') },
          '/vary-star': { GET: proxy('/vary-star') },
          '/vary-other': { GET: proxy('/vary-other') },
          '/files/{proxy+}': { GET: proxy('/files/{proxy+}') },
          '/admin': { GET: proxy('/admin') },
          '/items': { GET: proxy('/items'), POST: proxy('/items') },
          '/fn': { GET: { integration: { type: 'FUNCTION', handler: `${join(process.cwd(), 'test/fixtures/functions/echo.mjs')}#handler` } } },
        },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    backend.seen.length = 0;
    const flushed = await call(`${gateway.adminUrl}/restapis/shop/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': OPS_KEY } });
    assert.equal(flushed.status, 202);
  });

  /** First the attacker, then a victim without the header: the victim must not get the attacker's marker. */
  async function probeUnkeyedHeader(path: string, name: string, value: string): Promise<void> {
    const poisoned = await call(url(path), { headers: { [name]: value } });
    assert.equal(poisoned.status, 200);
    // X-Forwarded-For/-Proto are the gateway's own; nothing the caller sent may show through.
    assert.ok(!JSON.stringify(lastSeen().headers).includes(value), `${name} reached the backend of a cached method`);
    if (!name.toLowerCase().startsWith('x-forwarded-')) assert.equal(lastSeen().headers[name.toLowerCase()], undefined);
    assert.ok(!poisoned.text.includes(value), `${name} changed the body`);
    const victim = await call(url(path));
    assert.match(String(victim.headers['cache-status']), /hit/, 'the victim is served the entry');
    assert.ok(!victim.text.includes(value), `${name} poisoned the entry`);
  }

  describe('unkeyed headers never reach a cached backend', () => {
    const probes: [string, string][] = [
      ['X-Forwarded-Host', EVIL],
      ['X-Forwarded-Scheme', 'nothttps'],
      ['X-Forwarded-Proto', 'nothttps'],
      ['X-Original-URL', '/admin'],
      ['X-Rewrite-URL', '/admin'],
      ['X-HTTP-Method-Override', 'DELETE'],
      ['X-Host', EVIL],
      ['Forwarded', `host=${EVIL};proto=http`],
      ['Accept-Language', 'xx-EVIL'],
    ];
    for (const [name, value] of probes) {
      it(`${name}: ${value}`, () => probeUnkeyedHeader(`/prod/pets/${name.toLowerCase()}`, name, value));
    }

    it('the Host header cannot poison an entry through X-Forwarded-Host (HTTP_PROXY)', async () => {
      // One API and no `host`: every Host routes here, so Host is attacker-chosen and not keyed.
      const attack = await rawExchange(port, `GET /prod/pets/host-probe HTTP/1.1\r\nHost: ${EVIL}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(attack), 200);
      assert.ok(!JSON.stringify(lastSeen().headers).includes(EVIL), `the backend saw the caller's Host: ${JSON.stringify(lastSeen().headers)}`);
      const victim = await call(url('/prod/pets/host-probe'));
      assert.ok(!victim.text.includes(EVIL), 'Host poisoned the entry');
    });

    it('the Host header cannot poison an entry through the Lambda event (FUNCTION)', async () => {
      const attack = await rawExchange(port, `GET /prod/fn HTTP/1.1\r\nHost: ${EVIL}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(attack), 200);
      const victim = await call(url('/prod/fn'));
      assert.match(String(victim.headers['cache-status']), /hit/);
      assert.ok(!victim.text.includes(EVIL), `Host poisoned the entry: ${victim.text.slice(0, 300)}`);
    });

    it('a fat GET body is neither forwarded nor keyed', async () => {
      const fat = await call(url('/prod/items'), { method: 'GET', body: 'evil=1&callback=alert(1)', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(fat.status, 200);
      assert.equal(lastSeen().body.length, 0, 'the GET body reached the backend');
      assert.equal(lastSeen().headers['content-type'], undefined);
      const victim = await call(url('/prod/items'));
      assert.match(String(victim.headers['cache-status']), /hit/, 'same key with or without a body');
      assert.ok(!victim.text.includes('alert'));
    });

    it('X-HTTP-Method-Override does not turn a GET into a POST at the backend', async () => {
      await call(url('/prod/items'), { headers: { 'X-HTTP-Method-Override': 'POST' } });
      assert.equal(lastSeen().method, 'GET');
    });
  });

  describe('Authorization and cookies', () => {
    it('Authorization on an unkeyed cached method never reaches the backend', async () => {
      const first = await call(url('/prod/me'), { headers: { Authorization: 'Bearer alice-token' } });
      assert.equal(first.status, 200);
      assert.equal(lastSeen().headers.authorization, undefined);
      const bob = await call(url('/prod/me'), { headers: { Authorization: 'Bearer bob-token' } });
      assert.match(String(bob.headers['cache-status']), /hit/);
      assert.ok(!bob.text.includes('alice'), 'one caller\'s credentials ended up in another\'s answer');
    });

    it('keyed Authorization reaches the backend and splits entries per caller', async () => {
      const alice = await call(url('/prod/private'), { headers: { Authorization: 'Bearer alice-token' } });
      assert.equal(lastSeen().headers.authorization, 'Bearer alice-token');
      const bob = await call(url('/prod/private'), { headers: { Authorization: 'Bearer bob-token' } });
      assert.doesNotMatch(String(bob.headers['cache-status']), /hit/);
      assert.ok(bob.text.includes('bob-token') && !bob.text.includes('alice-token'));
      const anonymous = await call(url('/prod/private'));
      assert.ok(!anonymous.text.includes('token'), 'an anonymous caller got a keyed entry');
      const aliceAgain = await call(url('/prod/private'), { headers: { Authorization: 'Bearer alice-token' } });
      assert.match(String(aliceAgain.headers['cache-status']), /hit/);
      assert.equal(aliceAgain.text, alice.text);
    });

    it('a response with Set-Cookie is returned but not stored', async () => {
      const first = await call(url('/prod/cookie'));
      assert.equal(String(first.headers['set-cookie']), 'session=s3cr3t; HttpOnly');
      assert.match(String(first.headers['cache-status']), /detail=set-cookie/);
      const second = await call(url('/prod/cookie'));
      assert.equal(second.headers['set-cookie']?.toString(), 'session=s3cr3t; HttpOnly', 'the second caller got its own answer');
      assert.doesNotMatch(String(second.headers['cache-status']), /hit/);
      assert.equal(backend.seen.length, 2);
    });
  });

  describe('Vary from the backend', () => {
    it('Vary: * is returned but not stored', async () => {
      const first = await call(url('/prod/vary-star'));
      assert.match(String(first.headers['cache-status']), /detail=vary-star/);
      await call(url('/prod/vary-star'));
      assert.equal(backend.seen.length, 2);
    });

    it('Vary on an unkeyed header is stored, and that header never reaches the backend', async () => {
      // README "The stage cache": the integration only sees keyed headers, so the body cannot vary on X-Evil.
      await call(url('/prod/vary-other'), { headers: { 'X-Evil': 'payload' } });
      assert.equal(lastSeen().headers['x-evil'], undefined);
      const victim = await call(url('/prod/vary-other'));
      assert.match(String(victim.headers['cache-status']), /hit/);
      assert.ok(!victim.text.includes('payload'));
    });
  });

  describe('case and percent-encoding variants', () => {
    it('/Pets and /pets are different resources with different entries', async () => {
      const lower = await call(url('/prod/pets'));
      const upper = await call(url('/prod/Pets'));
      assert.equal(lower.json().url, '/pets');
      assert.equal(upper.json().url, '/Pets');
      assert.doesNotMatch(String(upper.headers['cache-status']), /hit/);
    });

    it('a stage name is case-sensitive', async () => {
      const answer = await call(url('/PROD/pets'));
      assert.equal(answer.status, 404);
      assert.equal(backend.seen.length, 0);
    });

    it('an encoded unreserved character names the same resource and the backend sees the same URL', async () => {
      const plain = await call(url('/prod/pets/1'));
      const encoded = await call(url('/prod/pets/%31'));
      assert.match(String(encoded.headers['cache-status']), /hit/);
      assert.equal(encoded.json().url, plain.json().url);
      assert.equal(backend.seen.length, 1);
    });

    it('%2F in a path parameter stays one segment and never collides with a deeper path', async () => {
      const encoded = await call(url('/prod/pets/a%2Fb'));
      assert.equal(encoded.status, 200);
      assert.equal(lastSeen().url, '/pets/a%2Fb');
      const deeper = await call(url('/prod/pets/a/b'));
      assert.equal(deeper.status, 404, 'no resource /pets/{petId}/b');
      assert.equal(backend.seen.length, 1);
    });

    it('query parameter names are case-sensitive: ?Type does not get the ?type entry', async () => {
      const keyed = await call(url('/prod/users?type=admin'));
      const other = await call(url('/prod/users?Type=admin'));
      assert.doesNotMatch(String(other.headers['cache-status']), /hit/);
      assert.notEqual(other.json().call, keyed.json().call);
    });

    it('an encoded & inside a keyed value does not collide with two parameters', async () => {
      const split = await call(url('/prod/users?type=a&department=x'));
      const glued = await call(url('/prod/users?type=a%26department=x'));
      assert.doesNotMatch(String(glued.headers['cache-status']), /hit/);
      assert.notEqual(glued.json().call, split.json().call);
      assert.equal(lastSeen().url, '/users?type=a%26department=x');
    });

    it('an encoded keyed value shares the entry of its decoded form (one value, one entry)', async () => {
      await call(url('/prod/users?type=admin'));
      const encoded = await call(url('/prod/users?type=%61dmin'));
      assert.match(String(encoded.headers['cache-status']), /hit/);
    });

    it('malformed percent-encoding is 400 and never reaches the backend', async () => {
      for (const target of ['/prod/pets/%zz', '/prod/pets/%', '/prod/users?type=%g1']) {
        const answer = await rawGet(target);
        assert.equal(statusOf(answer), 400, target);
      }
      assert.equal(backend.seen.length, 0);
    });

    it('invalid UTF-8 in a path (%ff, overlong %c0%af) is 400', async () => {
      for (const target of ['/prod/pets/%ff', '/prod/pets/%c0%af', '/prod/files/%ed%a0%80']) {
        assert.equal(statusOf(await rawGet(target)), 400, target);
      }
      assert.equal(backend.seen.length, 0);
    });

    it('raw non-ASCII bytes in the request target are 400 and the gateway keeps serving', async () => {
      const answer = await rawExchange(port, Buffer.concat([Buffer.from('GET /prod/pets/'), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')]));
      assert.equal(statusOf(answer), 400, answer.slice(0, 80));
      // The gateway is still up.
      assert.equal((await call(url('/prod/pets'))).status, 200);
    });
  });

  describe('path traversal and dot segments', () => {
    it('/prod/pets/../admin does not reach /admin', async () => {
      const answer = await rawGet('/prod/pets/../admin');
      assert.equal(statusOf(answer), 404);
      assert.equal(backend.seen.length, 0);
    });

    it('%2e%2e as a path parameter is sent escaped, never as a dot segment', async () => {
      const answer = await rawGet('/prod/pets/%2e%2e');
      assert.equal(statusOf(answer), 200);
      assert.equal(lastSeen().url, '/pets/%2E%2E');
    });

    it('dot segments inside a greedy path are escaped for the backend', async () => {
      assert.equal(statusOf(await rawGet('/prod/files/../../admin')), 200);
      assert.equal(lastSeen().url, '/files/%2E%2E/%2E%2E/admin');
      assert.equal(statusOf(await rawGet('/prod/files/%2e%2e/%2E%2e/admin')), 200);
      assert.equal(lastSeen().url, '/files/%2E%2E/%2E%2E/admin');
      assert.ok(backend.seen.every((seen) => seen.url.startsWith('/files/')));
    });

    it('a stage of .. is not a stage', async () => {
      assert.equal(statusOf(await rawGet('/../prod/admin')), 404);
      assert.equal(statusOf(await rawGet('/prod/../prod/admin')), 404);
      assert.equal(backend.seen.length, 0);
    });
  });

  describe('cache deception', () => {
    it('/pets/1/x.css is not a resource (no entry, no backend call)', async () => {
      const answer = await call(url('/prod/pets/1/x.css'), { headers: { Authorization: 'Bearer alice-token' } });
      assert.equal(answer.status, 404);
      assert.equal(backend.seen.length, 0);
    });

    it('/pets/1;x.css and /pets/1%3bx.css are the pet "1;x.css", never /pets/1, and carry no credentials', async () => {
      await call(url('/prod/pets/1'));
      const semicolon = await call(url('/prod/pets/1;x.css'), { headers: { Authorization: 'Bearer alice-token', Cookie: 'session=alice' } });
      assert.doesNotMatch(String(semicolon.headers['cache-status']), /hit/, 'served the /pets/1 entry');
      assert.equal(lastSeen().url, '/pets/1%3Bx.css');
      assert.equal(lastSeen().headers.authorization, undefined);
      assert.equal(lastSeen().headers.cookie, undefined);
      const encoded = await call(url('/prod/pets/1%3bx.css'));
      assert.match(String(encoded.headers['cache-status']), /hit/, 'the same decoded pet id, the same backend URL');
      assert.ok(!encoded.text.includes('alice'));
      assert.equal(backend.seen.length, 2);
    });

    it('a POST is not cached whatever its path looks like', async () => {
      await call(url('/prod/items?x.css'), { method: 'POST', body: '{}' });
      await call(url('/prod/items?x.css'), { method: 'POST', body: '{}' });
      assert.equal(backend.seen.filter((seen) => seen.method === 'POST').length, 2);
    });
  });

  describe('HEAD and GET', () => {
    it('HEAD fills the GET entry without a body and a later GET gets the whole body', async () => {
      const head = await call(url('/prod/pets/7'), { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      assert.equal(lastSeen().method, 'GET');
      const get = await call(url('/prod/pets/7'));
      assert.match(String(get.headers['cache-status']), /hit/);
      assert.equal(get.json().url, '/pets/7');
      assert.equal(Number(get.headers['content-length']), Buffer.byteLength(get.text));
    });

    it('a HEAD hit carries no body bytes that could desync a kept-alive connection', async () => {
      await call(url('/prod/pets/8'));
      const raw = await rawExchange(port, 'HEAD /prod/pets/8 HTTP/1.1\r\nHost: a\r\n\r\nGET /prod/pets/8 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      const responses = raw.split(/(?=HTTP\/1\.1 \d{3} )/);
      assert.equal(responses.length, 2, raw);
      assert.ok(responses[0]!.endsWith('\r\n\r\n'), 'the HEAD answer ends with its headers');
      assert.ok(responses[1]!.includes('"url":"/pets/8"'));
    });
  });

  describe('injection into the backend request', () => {
    it('CRLF in a path parameter cannot add a header at the backend', async () => {
      const answer = await rawGet('/prod/pets/1%0d%0aX-Injected:%20yes%0d%0a');
      assert.equal(statusOf(answer), 200);
      assert.equal(lastSeen().headers['x-injected'], undefined);
      assert.equal(lastSeen().url, '/pets/1%0D%0AX-Injected%3A%20yes%0D%0A');
    });

    it('CRLF in a greedy path and in the query cannot add a header either', async () => {
      assert.equal(statusOf(await rawGet('/prod/files/a%0d%0aX-Injected:%20yes')), 200);
      assert.equal(lastSeen().headers['x-injected'], undefined);
      assert.equal(statusOf(await rawGet('/prod/users?type=a%0d%0aX-Injected:%20yes')), 200);
      assert.equal(lastSeen().headers['x-injected'], undefined);
    });
  });

  describe('many query parameters', () => {
    it('1,500 parameters under the URL limit are answered and key only what is keyed', async () => {
      const many = Array.from({ length: 1500 }, (_, i) => `${i.toString(36)}=`).join('&');
      const target = `/prod/users?type=bulk&${many}`;
      assert.ok(target.length < 8192);
      const first = await call(url(target));
      assert.equal(first.status, 200);
      const second = await call(url('/prod/users?type=bulk'));
      assert.match(String(second.headers['cache-status']), /hit/, 'unkeyed parameters never split entries');
    });

    it('a query string over 8 KiB is 414', async () => {
      const answer = await call(url(`/prod/users?${'a=1&'.repeat(2100)}`));
      assert.equal(answer.status, 414);
      assert.equal(backend.seen.length, 0);
    });
  });
});
