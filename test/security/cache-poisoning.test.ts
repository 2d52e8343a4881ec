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
const READER_KEY = 'reader-api-key-0123456789';

/**
 * A backend that reads the *last* occurrence of everything, as many frameworks do: the last raw line
 * of a header, the last value of a query parameter with `;` as a separator too, names compared
 * case-insensitively (ASP.NET, PHP's getenv on some servers). Answers with what it read.
 */
const lastValueHandler: BackendHandler = (req, res) => {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
  const query: Record<string, string> = {};
  const search = (req.url ?? '').split('?')[1] ?? '';
  for (const pair of search.split(/[&;]/)) {
    if (pair === '') continue;
    const [name, value = ''] = pair.split('=');
    query[decodeURIComponent(name!.replace(/\+/g, ' ')).toLowerCase()] = decodeURIComponent(value.replace(/\+/g, ' '));
  }
  const text = JSON.stringify({ ua: headers['user-agent'], auth: headers.authorization, lang: headers['accept-language'], type: query.type });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

/** A vulnerable application: answers with its URL, the call number and every header it saw. */
const reflectingHandler: BackendHandler = (req, res, body, call) => {
  if (req.url?.startsWith('/last')) return lastValueHandler(req, res, body, call);
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
      identities: [
        { name: 'ops', apiKey: OPS_KEY, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] },
        // Allowed to invalidate anything but /admin (the README's example of a Deny).
        { name: 'reader', apiKey: READER_KEY, policy: [
          { effect: 'Allow', action: 'execute-api:*', resource: '*' },
          { effect: 'Deny', action: 'execute-api:InvalidateCache', resource: 'arn:aws:execute-api:*:*:shop/prod/GET/admin*' },
        ] },
      ],
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
          '/admin/{item}': { GET: proxy('/admin/{item}') },
          '/last': { GET: proxy('/last', { cacheKeyParameters: ['method.request.header.User-Agent', 'method.request.header.Authorization', 'method.request.header.Accept-Language', 'method.request.querystring.type'] }) },
          '/items': { GET: proxy('/items'), POST: proxy('/items') },
          '/search': { POST: proxy('/search', { cacheKeyParameters: ['method.request.body'] }) },
          '/fn': { GET: { integration: { type: 'FUNCTION', handler: `${join(process.cwd(), 'test/fixtures/functions/echo.mjs')}#handler` } } },
        },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 }, 'search/POST': { cachingEnabled: true } } } },
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

    it('%2F in a path is refused, so it never collides with a deeper path (one spelling per resource)', async () => {
      assert.equal(statusOf(await rawGet('/prod/pets/a%2Fb')), 400);
      const deeper = await call(url('/prod/pets/a/b'));
      assert.equal(deeper.status, 404, 'no resource /pets/{petId}/b');
      assert.equal(backend.seen.length, 0);
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
      // Sent on as the key holds it: the value `a&department=x`, its delimiters escaped.
      assert.equal(lastSeen().url, '/users?type=a%26department%3Dx');
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
    // Refused rather than resolved: see router.ts canonicalRequestPath (README "Decisions").
    it('/prod/pets/../admin, %2e%2e and dot segments in a greedy path are 400, never reaching a backend', async () => {
      for (const target of ['/prod/pets/../admin', '/prod/pets/%2e%2e', '/prod/files/../../admin', '/prod/files/%2e%2e/%2E%2e/admin', '/prod/files/a/.']) {
        assert.equal(statusOf(await rawGet(target)), 400, target);
      }
      assert.equal(backend.seen.length, 0);
    });

    it('a stage of .. is not a stage', async () => {
      assert.equal(statusOf(await rawGet('/../prod/admin')), 400);
      assert.equal(statusOf(await rawGet('/prod/../prod/admin')), 400);
      assert.equal(backend.seen.length, 0);
    });

    it('dots that are not a whole segment are ordinary characters', async () => {
      assert.equal(statusOf(await rawGet('/prod/files/..a/b.../.c')), 200);
      assert.equal(lastSeen().url, '/files/..a/b.../.c');
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

  describe('repeated and respelled keyed inputs (issue 13 defect 3)', () => {
    const last = (headers = '', query = '') => rawGet(`/prod/last${query}`, headers);
    const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

    it('a repeated keyed singleton header (User-Agent, Authorization) is refused with 400 JSON and reaches nobody', async () => {
      for (const name of ['User-Agent', 'Authorization']) {
        const attack = await last(`${name}: alice\r\n${name}: evil\r\n`);
        assert.equal(statusOf(attack), 400, `${name}: ${attack.slice(0, 200)}`);
        assert.match(attack, /content-type: application\/json/i);
        assert.match(bodyOf(attack).message, new RegExp(name, 'i'));
      }
      assert.equal(backend.seen.length, 0);
      const victim = await last('User-Agent: alice\r\nAuthorization: alice\r\n');
      assert.deepEqual({ ua: bodyOf(victim).ua, auth: bodyOf(victim).auth }, { ua: 'alice', auth: 'alice' });
    });

    it('a repeated keyed list header reaches the backend as the one line the key holds', async () => {
      const attack = await last('Accept-Language: en\r\nAccept-Language: evil\r\n');
      assert.equal(statusOf(attack), 200);
      assert.equal(bodyOf(attack).lang, 'en, evil');
      assert.deepEqual(backend.seen[0]!.headers['accept-language'], 'en, evil');
      const victim = await last('Accept-Language: en\r\n');
      assert.doesNotMatch(victim, /cache-status: [^\r]*hit/i, 'the clean request shares the attacker\'s entry');
      assert.equal(bodyOf(victim).lang, 'en');
    });

    it('`;` in an unkeyed parameter cannot smuggle a keyed one to a backend that splits on `;`', async () => {
      const attack = await last('', '?type=admin&utm=x;type=evil');
      assert.equal(bodyOf(attack).type, 'admin');
      assert.equal(lastSeen().url, '/last?type=admin&utm=x%3Btype%3Devil');
      const victim = await last('', '?type=admin');
      assert.match(victim, /cache-status: [^\r]*hit/i);
      assert.equal(bodyOf(victim).type, 'admin');
    });

    it('a keyed name in another case is keyed too, so a case-insensitive backend cannot be fed a second value', async () => {
      const attack = await last('', '?type=admin&Type=evil');
      assert.equal(statusOf(attack), 200);
      const victim = await last('', '?type=admin');
      assert.equal(bodyOf(victim).type, 'admin');
    });

    it('keyed query values reach the backend in the one spelling the key holds (%61, +, %20, hex case)', async () => {
      for (const spelling of ['?type=%61+b', '?type=a%20b', '?%74ype=a%20b', '?type=%61%20%62']) {
        await last('', spelling);
        assert.equal(lastSeen().url, '/last?type=a%20b', spelling);
      }
      assert.equal(backend.seen.length, 1, 'one key, one backend call');
    });
  });

  describe('one canonical path for routing, authorization and keys (issue 13 defect 4)', () => {
    const refresh = (target: string) => rawGet(target, `Cache-Control: max-age=0\r\nx-api-key: ${READER_KEY}\r\n`);

    it('a Deny on InvalidateCache holds for every spelling of the denied path', async () => {
      await call(url('/prod/admin/x'));
      for (const spelling of ['/prod/admin/x', '/prod/%61dmin/x', '/prod/%61%64min/%78', '/prod/admin/x/', '/prod/adm%69n/x']) {
        const answer = await refresh(spelling);
        assert.equal(statusOf(answer), 200, spelling);
        assert.match(answer, /warning: 199/i, `${spelling} was not treated as unauthorised`);
        assert.match(answer, /cache-status: [^\r]*hit/i, `${spelling} refreshed a denied entry`);
      }
      assert.equal(backend.seen.length, 1);
    });

    it('a HEAD cannot refresh the GET entry a Deny on the GET ARN protects', async () => {
      await call(url('/prod/admin/y'));
      const head = await rawExchange(port, `HEAD /prod/%61dmin/y HTTP/1.1\r\nHost: shop.test\r\nCache-Control: max-age=0\r\nx-api-key: ${READER_KEY}\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(head), 200);
      assert.match(head, /warning: 199/i);
      assert.equal(backend.seen.length, 1, 'the HEAD refreshed the denied GET entry');
    });

    it('the identity may still refresh what it is not denied, in any spelling', async () => {
      await call(url('/prod/pets/1'));
      const answer = await refresh('/prod/p%65ts/%31');
      assert.doesNotMatch(answer, /warning: 199/i);
      assert.equal(backend.seen.length, 2);
    });

    it('dot-segments, empty segments and encoded slashes are refused with 400 JSON before routing', async () => {
      for (const target of ['/prod/pets/../admin', '/prod/pets/%2e%2e/admin', '/prod/./admin', '/prod/files/a/%2E/b', '/prod//admin', '/prod/files/a//b', '/prod/pets/a%2Fb', '/prod/files/a%2fb', '/../prod/admin', '/prod/pets//']) {
        const answer = await rawGet(target);
        assert.equal(statusOf(answer), 400, target);
        assert.match(answer, /"message":"Request path must not/, target);
      }
      assert.equal(backend.seen.length, 0);
    });
  });

  describe('keyed bodies before authentication (SPEC §7, MAX_KEYED_BODY_BYTES_BEFORE_AUTH = 64 KiB)', () => {
    const post = (bytes: number, headers: Record<string, string> = {}) =>
      call(url('/prod/search'), { method: 'POST', body: Buffer.alloc(bytes, 0x61), headers: { 'content-type': 'text/plain', ...headers } });

    it('an anonymous caller cannot make the gateway hold more than 64 KiB of a keyed body: 413 JSON, nothing forwarded', async () => {
      const refused = await post(64 * 1024 + 1);
      assert.equal(refused.status, 413);
      assert.match(String(refused.headers['content-type']), /application\/json/);
      assert.ok(typeof refused.json().message === 'string');
      assert.equal(backend.seen.length, 0);
      assert.equal((await post(64 * 1024)).status, 200, 'up to the bound is served');
    });

    it('a caller known by its x-api-key (checked from headers alone) may send a keyed body up to 10 MB', async () => {
      const answer = await post(256 * 1024, { 'x-api-key': READER_KEY });
      assert.equal(answer.status, 200);
      assert.equal(lastSeen().body.length, 256 * 1024);
      const unknownKey = await post(256 * 1024, { 'x-api-key': 'not-a-key' });
      assert.equal(unknownKey.status, 413);
    });

    it('the Content-Type of a keyed body is keyed with it: the same bytes read another way are another entry', async () => {
      await post(10, { 'content-type': 'application/json' });
      const form = await post(10, { 'content-type': 'application/x-www-form-urlencoded' });
      assert.doesNotMatch(String(form.headers['cache-status']), /hit/);
      assert.equal(lastSeen().headers['content-type'], 'application/x-www-form-urlencoded');
      assert.equal(backend.seen.length, 2);
    });
  });
});
