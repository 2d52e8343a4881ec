/**
 * Second attack pass on the keyed inputs (issue 13 defects 3 and 4, by a reviewer who did not
 * write them), through real sockets. Each probe is an attacker request followed by a clean one:
 * the clean caller must never get a body shaped by input outside its key (SPEC §7).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type BackendHandler, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { stringToSign } from '../../src/auth/apps.js';
import { call } from '../helpers/http.js';

const OPS_KEY = 'ops-api-key-attack-0123456789';
const READER_KEY = 'reader-api-key-attack-0123456789';

/**
 * Compares query names case-insensitively character by character, as Java's
 * `String.equalsIgnoreCase` / `CASE_INSENSITIVE_ORDER` do (toUpperCase, then toLowerCase, per
 * char), and reads the last value. Answers with what it read and the body bytes it got (hex).
 */
const javaStyleHandler: BackendHandler = (req, res, body) => {
  const fold = (name: string) => [...name].map((char) => {
    const upper = char.toUpperCase();
    return (upper.length === 1 ? upper : char).toLowerCase();
  }).join('');
  const query: Record<string, string> = {};
  for (const pair of ((req.url ?? '').split('?')[1] ?? '').split('&')) {
    if (pair === '') continue;
    const [name, value = ''] = pair.split('=');
    query[fold(decodeURIComponent(name!))] = decodeURIComponent(value);
  }
  const text = JSON.stringify({ sort: query.sort, kind: query.kind, body: body.toString('hex') });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

describe('attack pass: keyed inputs', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const url = (path: string) => `${gateway.dataUrl}${path}`;
  const proxy = (path: string, extra: Record<string, unknown> = {}) => ({ ...extra, integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });

  before(async () => {
    backend = await startBackend(javaStyleHandler);
    gateway = await startGateway({
      identities: [
        { name: 'ops', apiKey: OPS_KEY, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] },
        { name: 'reader', apiKey: READER_KEY, policy: [
          { effect: 'Allow', action: 'execute-api:*', resource: '*' },
          { effect: 'Deny', action: 'execute-api:InvalidateCache', resource: 'arn:aws:execute-api:*:*:atk/prod/GET/admin*' },
        ] },
      ],
      apis: [{
        id: 'atk',
        resources: {
          '/list': { GET: proxy('/list', { cacheKeyParameters: ['method.request.querystring.sort', 'method.request.querystring.kind'] }) },
          '/search': { POST: proxy('/search', { cacheKeyParameters: ['method.request.body.filter'] }) },
          '/items': { POST: proxy('/items', { cacheForwarding: 'keyed-only' }) },
          '/admin/{id}': { GET: proxy('/admin/{id}', { cacheNamespace: 'shared' }) },
          '/pub/{id}': { GET: proxy('/pub/{id}', { cacheNamespace: 'shared' }) },
        },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: {
          '*/*': { cacheTtlInSeconds: 300 }, 'search/POST': { cachingEnabled: true }, 'items/POST': { cachingEnabled: true },
        } } },
      }],
    });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(async () => {
    backend.seen.length = 0;
    const flushed = await call(`${gateway.adminUrl}/restapis/atk/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': OPS_KEY } });
    assert.equal(flushed.status, 202);
  });

  // Found: only ASCII case variants (`Sort`) were keyed; `ſort` (U+017F) and `\u212Aind` (Kelvin
  // sign) fold to `sort`/`kind` in Java-style case-insensitive lookups and were unkeyed.
  for (const [variant, name] of [['%C5%BFort', 'sort'], ['%E2%84%AAind', 'kind'], ['%C5%BF%4Frt', 'sort']] as const) {
    it(`a non-ASCII case variant of a keyed query name (${variant}) cannot poison the clean entry`, async () => {
      const attack = await call(url(`/prod/list?sort=name&kind=public&${variant}=EVIL`));
      assert.equal(attack.status, 200);
      const victim = await call(url('/prod/list?sort=name&kind=public'));
      assert.equal(victim.json()[name], name === 'sort' ? 'name' : 'public', `the clean caller got ${victim.text}`);
    });
  }

  // Found: invalid UTF-8 in a keyed JSON value decoded to U+FFFD, so different bytes shared an entry.
  it('keyed JSON values that differ only in invalid UTF-8 bytes are different entries', async () => {
    const post = (bytes: Buffer) => call(url('/prod/search'), { method: 'POST', body: bytes, headers: { 'content-type': 'application/json' } });
    const attacker = Buffer.concat([Buffer.from('{"filter":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const clean = Buffer.concat([Buffer.from('{"filter":"'), Buffer.from([0xfe]), Buffer.from('"}')]);
    assert.equal((await post(attacker)).status, 200);
    const victim = await post(clean);
    assert.equal(victim.status, 200);
    assert.equal(victim.json().body, clean.toString('hex'), 'the clean caller got the answer to other bytes');
    const replacement = await post(Buffer.from('{"filter":"\uFFFD"}', 'utf8'));
    assert.equal(replacement.json().body, Buffer.from('{"filter":"\uFFFD"}', 'utf8').toString('hex'));
  });

  // Found: a keyed JSON value nested ~30k deep overflowed canonicalJson's recursion: 500 and an error log.
  it('a keyed JSON value nested too deeply is a 400 JSON answer, not an internal error', async () => {
    const deep = `{"filter":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const answer = await call(url('/prod/search'), { method: 'POST', body: deep, headers: { 'content-type': 'application/json' } });
    assert.equal(answer.status, 400, answer.text);
    assert.equal(typeof answer.json().message, 'string');
    assert.equal(backend.seen.length, 0);
  });

  // Found: `cacheForwarding: keyed-only` stripped unkeyed query parameters but still forwarded an
  // unkeyed body of a cached POST, which then shaped the entry every other caller got.
  it('with cacheForwarding: keyed-only an unkeyed body of a cached POST never reaches the integration', async () => {
    const attack = await call(url('/prod/items'), { method: 'POST', body: 'EVIL', headers: { 'content-type': 'text/plain' } });
    assert.equal(attack.status, 200);
    assert.equal(backend.seen[0]!.body.length, 0, 'the unkeyed body reached the integration');
    assert.equal(backend.seen[0]!.headers['content-type'], undefined);
    const victim = await call(url('/prod/items'), { method: 'POST', body: 'clean', headers: { 'content-type': 'text/plain' } });
    assert.match(String(victim.headers['cache-status']), /hit/);
    assert.ok(!victim.text.includes(Buffer.from('EVIL').toString('hex')));
  });

  // Found: with two resources in one cacheNamespace (shared entries), an identity denied
  // InvalidateCache on admin* refreshed the admin entry through the other resource's ARN.
  it('a Deny on InvalidateCache holds for an entry shared through cacheNamespace', async () => {
    await call(url('/prod/admin/1'));
    const refresh = await call(url('/prod/pub/1'), { headers: { 'cache-control': 'max-age=0', 'x-api-key': READER_KEY } });
    assert.equal(refresh.status, 200);
    assert.match(String(refresh.headers.warning), /unauthorized/, 'the refresh was authorised');
    assert.equal(backend.seen.length, 1, 'the shared entry was refreshed');
    const allowed = await call(url('/prod/pub/1'), { headers: { 'cache-control': 'max-age=0', 'x-api-key': OPS_KEY } });
    assert.match(String(allowed.headers.warning), /unauthorized/, 'an identity without InvalidateCache is refused too');
  });
});

// Found: the Alibaba StringToSign decoded the path form-style, so `+` and `%20` signed alike
// although in a path `+` is a literal plus: a captured signature for `/prod/a%20b` was accepted
// for the other resource `/prod/a+b`.
describe('attack pass: Alibaba signatures bind the resource', () => {
  it('two different paths never share a StringToSign', () => {
    const headers = { 'x-ca-key': 'k' };
    assert.notEqual(stringToSign({ method: 'GET', rawUrl: '/prod/a+b', headers }), stringToSign({ method: 'GET', rawUrl: '/prod/a%20b', headers }));
  });
});
