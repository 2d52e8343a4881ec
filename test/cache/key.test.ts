/** Cache keys: which requests share an entry and which never do (SPEC §5 "Cache key"). */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { buildCacheKey, canonicalJson, compileKeyPlan, keyRequest, parseJsonPath, type KeyParts, type KeyPlan } from '../../src/cache/key.js';
import { GatewayError } from '../../src/errors.js';
import type { HttpMethod } from '../../src/config/schema.js';

function request(parts: Partial<KeyParts> = {}): KeyParts {
  return { method: 'GET', pathParameters: {}, rawQuery: '', headers: {}, ...parts };
}

/** Key of `GET ?query` under a plan. */
function queryKey(plan: KeyPlan, rawQuery: string): string {
  return buildCacheKey(plan, request({ rawQuery }));
}

const typeInKey = compileKeyPlan('GET', '/users', ['method.request.querystring.type']);

describe('cache key: method and namespace', () => {
  it('answers HEAD from the GET entry, and keys the method of an ANY route', () => {
    const plan = compileKeyPlan('ANY', '/fn', []);
    const key = (method: HttpMethod) => buildCacheKey(plan, request({ method }));
    assert.equal(key('HEAD'), key('GET'));
    assert.notEqual(key('POST'), key('GET'));
    assert.notEqual(key('PUT'), key('POST'));
  });

  it('separates resources, and shares entries between resources with one cacheNamespace', () => {
    const pets = compileKeyPlan('GET', '/pets', []);
    const animals = compileKeyPlan('GET', '/animals', []);
    assert.notEqual(buildCacheKey(pets, request()), buildCacheKey(animals, request()));
    const shared = ['method.request.querystring.type'];
    const a = compileKeyPlan('GET', '/pets', shared, 'catalogue');
    const b = compileKeyPlan('GET', '/animals', shared, 'catalogue');
    assert.equal(queryKey(a, 'type=dog'), queryKey(b, 'type=dog'));
    assert.notEqual(queryKey(a, 'type=dog'), queryKey(b, 'type=cat'));
  });

  it('does not depend on the order cacheKeyParameters are listed in', () => {
    const one = compileKeyPlan('GET', '/p', ['method.request.header.Accept', 'method.request.querystring.b', 'method.request.querystring.a'], 'ns');
    const two = compileKeyPlan('GET', '/p', ['method.request.querystring.a', 'method.request.querystring.b', 'method.request.header.accept'], 'ns');
    const parts = request({ rawQuery: 'a=1&b=2', headers: { accept: 'text/html' } });
    assert.equal(buildCacheKey(one, parts), buildCacheKey(two, parts));
  });
});

describe('cache key: path parameters', () => {
  it('always keys every path parameter, listed or not (safer than AWS)', () => {
    const plan = compileKeyPlan('GET', '/pets/{petId}/toys/{toyId}', []);
    const key = (petId: string, toyId: string) => buildCacheKey(plan, request({ pathParameters: { petId, toyId } }));
    assert.notEqual(key('1', '2'), key('1', '3'));
    assert.notEqual(key('1', '2'), key('2', '1'));
    assert.equal(key('1', '2'), key('1', '2'));
  });

  it('keys a greedy {proxy+} path, slashes included, and cannot be fooled by separators in values', () => {
    const plan = compileKeyPlan('GET', '/{a}/{proxy+}', []);
    const key = (a: string, proxy: string) => buildCacheKey(plan, request({ pathParameters: { a, proxy } }));
    assert.notEqual(key('x', 'y/z'), key('x/y', 'z'));
    assert.notEqual(key('1:a', 'b'), key('1', 'a:b'));
    assert.notEqual(key('x|p5:proxy1:y', 'z'), key('x', 'y'));
  });

  it('tells an absent path parameter from an empty one', () => {
    const plan = compileKeyPlan('GET', '/pets/{petId}', []);
    assert.notEqual(buildCacheKey(plan, request({ pathParameters: {} })), buildCacheKey(plan, request({ pathParameters: { petId: '' } })));
  });
});

describe('cache key: query strings', () => {
  it('ignores parameters outside the key (SPEC §5: department B is served from department A)', () => {
    assert.equal(queryKey(typeInKey, 'type=admin&department=A'), queryKey(typeInKey, 'type=admin&department=B'));
    assert.equal(queryKey(typeInKey, 'department=A&type=admin'), queryKey(typeInKey, 'type=admin'));
    assert.notEqual(queryKey(typeInKey, 'type=admin'), queryKey(typeInKey, 'type=user'));
  });

  it('never lets an encoded separator imitate a real one: a=b&c is not a=b%26c', () => {
    const plan = compileKeyPlan('GET', '/q', ['method.request.querystring.a', 'method.request.querystring.c']);
    assert.notEqual(queryKey(plan, 'a=b&c'), queryKey(plan, 'a=b%26c'));
    assert.notEqual(queryKey(plan, 'a=b%3Dc'), queryKey(plan, 'a=b&c='));
    assert.notEqual(queryKey(typeInKey, 'type=a%26type%3Db'), queryKey(typeInKey, 'type=a&type=b'));
  });

  it('decodes once, form-style: percent-encoding variants and + are the same value', () => {
    assert.equal(queryKey(typeInKey, 'type=%61dmin'), queryKey(typeInKey, 'type=admin'));
    assert.equal(queryKey(typeInKey, '%74ype=admin'), queryKey(typeInKey, 'type=admin'));
    assert.equal(queryKey(typeInKey, 'type=a+b'), queryKey(typeInKey, 'type=a%20b'));
    assert.notEqual(queryKey(typeInKey, 'type=a%2Bb'), queryKey(typeInKey, 'type=a+b'));
    assert.equal(queryKey(typeInKey, 'type=caf%C3%A9'), queryKey(typeInKey, 'type=café'));
    // Decoded once only: %2561 is the text "%61", not "a".
    assert.notEqual(queryKey(typeInKey, 'type=%2561dmin'), queryKey(typeInKey, 'type=admin'));
  });

  it('keeps bytes that are not UTF-8 apart from the replacement character', () => {
    assert.notEqual(queryKey(typeInKey, 'type=%FF'), queryKey(typeInKey, 'type=%EF%BF%BD'));
    assert.notEqual(queryKey(typeInKey, 'type=%FF'), queryKey(typeInKey, 'type=%FE'));
  });

  it('never throws on invalid percent-encoding, and keeps it apart from any decoded value', () => {
    for (const raw of ['type=%', 'type=%Z', 'type=%ZZ', 'type=%E0%A4%A', 'type=100%', '%=x', 'type=%u0061']) {
      assert.doesNotThrow(() => queryKey(typeInKey, raw), raw);
    }
    assert.notEqual(queryKey(typeInKey, 'type=%ZZ'), queryKey(typeInKey, 'type=%25ZZ'));
    assert.equal(queryKey(typeInKey, 'type=%ZZ'), queryKey(typeInKey, 'type=%ZZ'));
    assert.notEqual(queryKey(typeInKey, 'type=%ZZ'), queryKey(typeInKey, 'type=%ZY'));
  });

  it('tells an absent parameter from a present but empty one', () => {
    const absent = queryKey(typeInKey, '');
    assert.notEqual(queryKey(typeInKey, 'type='), absent);
    assert.notEqual(queryKey(typeInKey, 'type'), absent);
    assert.equal(queryKey(typeInKey, 'type'), queryKey(typeInKey, 'type='));
    assert.equal(queryKey(typeInKey, 'other=1'), absent);
    assert.equal(queryKey(typeInKey, '&&'), absent);
  });

  it('keys every value of a repeated parameter, in order', () => {
    const multi = compileKeyPlan('GET', '/q', ['method.request.multivaluequerystring.tag']);
    assert.notEqual(queryKey(multi, 'tag=a&tag=b'), queryKey(multi, 'tag=b&tag=a'));
    assert.notEqual(queryKey(multi, 'tag=a&tag=a'), queryKey(multi, 'tag=a'));
    assert.equal(queryKey(multi, 'tag=a&x=1&tag=b'), queryKey(multi, 'tag=a&tag=b'));
    // A single-value querystring parameter sees every value too: the backend does.
    assert.notEqual(queryKey(typeInKey, 'type=a&type=b'), queryKey(typeInKey, 'type=c&type=b'));
  });

  it('compares parameter names case-sensitively, but keys a keyed name in another case apart (never as absent)', () => {
    // A backend comparing names case-insensitively would read TYPE as type: it must split entries.
    assert.notEqual(queryKey(typeInKey, 'TYPE=admin'), queryKey(typeInKey, ''));
    assert.notEqual(queryKey(typeInKey, 'TYPE=admin'), queryKey(typeInKey, 'type=admin'));
    assert.notEqual(queryKey(typeInKey, 'type=admin&Type=x'), queryKey(typeInKey, 'type=admin'));
  });
});

describe('keyRequest: what the integration receives is what the key holds', () => {
  const plan = compileKeyPlan('GET', '/q', ['method.request.querystring.type', 'method.request.header.Accept-Language', 'method.request.header.User-Agent', 'method.request.header.Cookie']);
  const inputs = (rawQuery: string, rawHeaders: string[] = [], unkeyedQuery: 'forward' | 'strip' = 'forward') =>
    keyRequest(plan, { method: 'GET', pathParameters: {}, rawQuery, rawHeaders, unkeyedQuery });

  it('sends keyed pairs first, in one encoding, and unkeyed pairs re-encoded (no `;` or `=` survives)', () => {
    const { forwarded } = inputs('utm=x;type=evil&type=%61+b&b=c%2bd');
    assert.equal(forwarded.query, 'type=a%20b&utm=x%3Btype%3Devil&b=c%2Bd');
    assert.equal(inputs('utm=1&type=a', [], 'strip').forwarded.query, 'type=a');
    assert.equal(inputs('type', []).forwarded.query, 'type=');
  });

  it('one spelling per key: spellings that share a key send the same bytes', () => {
    const spellings = ['type=a%20b', 'type=a+b', '%74ype=a%20b', 'type=%61%20%62', 'x=1&type=a+b'];
    const sent = new Set(spellings.map((query) => inputs(query, [], 'strip')));
    assert.equal(new Set([...sent].map((request) => request.key)).size, 1);
    assert.equal(new Set([...sent].map((request) => request.forwarded.query)).size, 1);
  });

  it('joins a repeated list header into the one line it keys, Cookie with `; `', () => {
    const { key, forwarded } = inputs('', ['Accept-Language', 'en', 'accept-language', 'fr', 'Cookie', 'a=1', 'COOKIE', 'b=2', 'X-Other', 'dropped']);
    assert.deepEqual(forwarded.rawHeaders, ['accept-language', 'en, fr', 'cookie', 'a=1; b=2']);
    assert.equal(key, inputs('', ['accept-language', 'en, fr', 'cookie', 'a=1; b=2']).key);
  });

  it('refuses a repeated single-value keyed header with a 400 GatewayError', () => {
    assert.throws(() => inputs('', ['User-Agent', 'a', 'user-agent', 'b']), (error: unknown) =>
      error instanceof GatewayError && error.spec.status === 400 && /user-agent/.test(error.message));
    // Repeated but not keyed: not forwarded, not refused.
    assert.doesNotThrow(() => inputs('', ['Referer', 'a', 'Referer', 'b']));
  });

  it('refuses a JSON body with a duplicate member name when JSON paths are keyed (a backend may read the other one)', () => {
    const plan = compileKeyPlan('POST', '/s', ['method.request.body.$.id']);
    const send = (json: string) => keyRequest(plan, { method: 'POST', pathParameters: {}, rawQuery: '', rawHeaders: [], body: Buffer.from(json), unkeyedQuery: 'forward' });
    for (const json of ['{"id":1,"id":2}', '{"id":1,"\\u0069d":2}', '{"a":{"x":1,"x":[2]},"id":3}']) {
      assert.throws(() => send(json), (error: unknown) => error instanceof GatewayError && error.spec.status === 400, json);
    }
    for (const json of ['{"id":1,"x":{"id":2}}', '[{"id":1},{"id":2}]', '{"id":"a,\\"id\\":2"}', 'not json {"id":1,"id":2}']) {
      assert.doesNotThrow(() => send(json), json);
    }
  });

  it('keys Content-Type and Content-Encoding with a keyed body', () => {
    const body = compileKeyPlan('POST', '/s', ['method.request.body']);
    const key = (type: string) => keyRequest(body, { method: 'POST', pathParameters: {}, rawQuery: '', rawHeaders: ['Content-Type', type], body: Buffer.from('a=1'), unkeyedQuery: 'forward' }).key;
    assert.notEqual(key('application/json'), key('application/x-www-form-urlencoded'));
  });
});

describe('cache key: headers', () => {
  const plan = compileKeyPlan('GET', '/h', ['method.request.header.X-Lang']);
  const key = (headers: IncomingHttpHeaders) => buildCacheKey(plan, request({ headers }));

  it('keys listed headers by case-insensitive name, and ignores the others', () => {
    assert.notEqual(key({ 'x-lang': 'en' }), key({ 'x-lang': 'fr' }));
    assert.equal(key({ 'x-lang': 'en', 'user-agent': 'a' }), key({ 'x-lang': 'en', 'user-agent': 'b' }));
  });

  it('tells an absent header from an empty one, and a joined value from several', () => {
    assert.notEqual(key({}), key({ 'x-lang': '' }));
    assert.notEqual(key({ 'x-lang': ['en', 'fr'] }), key({ 'x-lang': 'en, fr' }));
    assert.notEqual(key({ 'x-lang': ['en', 'fr'] }), key({ 'x-lang': ['fr', 'en'] }));
  });
});

describe('cache key: request body', () => {
  it('keys the whole body by hash when method.request.body is listed', () => {
    const plan = compileKeyPlan('POST', '/search', ['method.request.body']);
    const key = (body?: Buffer) => buildCacheKey(plan, request({ method: 'POST', body }));
    assert.equal(key(Buffer.from('{"q":1}')), key(Buffer.from('{"q":1}')));
    assert.notEqual(key(Buffer.from('{"q":1}')), key(Buffer.from('{"q":2}')));
    assert.notEqual(key(undefined), key(Buffer.alloc(0)));
    assert.ok(key(Buffer.alloc(100_000, 'x')).length < 200, 'a large body adds a fixed-size hash');
  });

  it('keys the canonical JSON at a JSON path, so member order and other members do not split entries', () => {
    const plan = compileKeyPlan('POST', '/search', ['method.request.body.$.filter']);
    const key = (json: string) => buildCacheKey(plan, request({ method: 'POST', body: Buffer.from(json) }));
    assert.equal(key('{"filter":{"a":1,"b":[1,2]},"page":1}'), key('{"page":2, "filter":{"b":[1,2],"a":1}}'));
    assert.notEqual(key('{"filter":{"a":1}}'), key('{"filter":{"a":2}}'));
    assert.notEqual(key('{"filter":null}'), key('{}'), 'null is not absent');
    assert.notEqual(key('{"filter":"1"}'), key('{"filter":1}'));
  });

  it('follows nested members and array indexes', () => {
    const plan = compileKeyPlan('POST', '/orders', ['method.request.body.items[0].sku', 'method.request.body.$.customer.id']);
    const key = (json: string) => buildCacheKey(plan, request({ method: 'POST', body: Buffer.from(json) }));
    const base = key('{"customer":{"id":7},"items":[{"sku":"a"},{"sku":"b"}]}');
    assert.equal(base, key('{"items":[{"sku":"a"},{"sku":"z"}],"customer":{"id":7,"name":"x"}}'));
    assert.notEqual(base, key('{"customer":{"id":8},"items":[{"sku":"a"}]}'));
    assert.notEqual(base, key('{"customer":{"id":7},"items":[{"sku":"b"}]}'));
    assert.notEqual(key('{"items":{"0":{"sku":"a"}}}'), key('{"items":[{"sku":"a"}]}'), 'an index needs an array');
  });

  it('keys a body that is not JSON whole, so two such bodies never share an entry', () => {
    const plan = compileKeyPlan('POST', '/search', ['method.request.body.filter']);
    const key = (text: string) => buildCacheKey(plan, request({ method: 'POST', body: Buffer.from(text) }));
    assert.doesNotThrow(() => key('not json'));
    assert.notEqual(key('not json'), key('not json either'));
    assert.notEqual(key('not json'), key('{}'));
  });

  it('parses JSON paths as written in cacheKeyParameters, and rejects malformed ones at compile time', () => {
    assert.deepEqual(parseJsonPath('$.a.b'), ['a', 'b']);
    assert.deepEqual(parseJsonPath('a.b'), ['a', 'b']);
    assert.deepEqual(parseJsonPath('items[2].sku'), ['items', 2, 'sku']);
    assert.deepEqual(parseJsonPath('$[items][0]'), ['items', 0]);
    assert.equal(parseJsonPath('a..b'), undefined);
    assert.equal(parseJsonPath('a[x'), undefined);
    assert.throws(() => compileKeyPlan('POST', '/x', ['method.request.body.a..b']), /malformed JSON path/);
  });

  it('writes canonical JSON with members sorted at every depth', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}');
  });
});

describe('cache key: collision-proof', () => {
  it('gives different keys to any two different requests (randomised over separator-heavy values)', () => {
    const plan = compileKeyPlan(
      'ANY',
      '/{a}/{b}',
      ['method.request.querystring.q', 'method.request.multivaluequerystring.m', 'method.request.header.x-h', 'method.request.header.x-i'],
    );
    const alphabet = ['', '|', ':', '*', '~', '-', '1', '0', '2:', '|p', 'q1:', '#', '&', '=', '%', '+', ' ', 'a', 'é'];
    let seed = 7;
    const random = (n: number) => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) % n);
    const value = () => Array.from({ length: random(4) }, () => alphabet[random(alphabet.length)]).join('');
    const maybe = (make: () => string) => (random(4) === 0 ? undefined : make());
    const seen = new Map<string, string>();
    for (let i = 0; i < 20_000; i++) {
      const a = maybe(value);
      const b = maybe(value);
      const q = Array.from({ length: random(3) }, value);
      const m = Array.from({ length: random(3) }, value);
      const h = maybe(value);
      const hi = maybe(value);
      const method = random(2) === 0 ? 'GET' : 'POST';
      const rawQuery = [...q.map((v) => `q=${encodeURIComponent(v)}`), ...m.map((v) => `m=${encodeURIComponent(v)}`)].join('&');
      const headers: IncomingHttpHeaders = {};
      if (h !== undefined) headers['x-h'] = h;
      if (hi !== undefined) headers['x-i'] = hi;
      const pathParameters: Record<string, string> = {};
      if (a !== undefined) pathParameters.a = a;
      if (b !== undefined) pathParameters.b = b;
      const key = buildCacheKey(plan, { method, pathParameters, rawQuery, headers });
      const identity = JSON.stringify([method, a ?? null, b ?? null, q, m, h ?? null, hi ?? null]);
      const before = seen.get(key);
      if (before !== undefined) assert.equal(before, identity, `one key for two requests: ${key}`);
      seen.set(key, identity);
    }
  });
});
