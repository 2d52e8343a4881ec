import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifySigV4, type SigV4Options, type SignedRequest } from '../../src/auth/sigv4.js';
import { ACCESS_KEY_ID, REGION, SECRET, SIGNED_AT, signedRequest, withHeader } from './signing.js';

const options = (overrides: Partial<SigV4Options> = {}): SigV4Options => ({
  service: 'apigateway',
  region: REGION,
  now: SIGNED_AT.getTime(),
  secretFor: (id) => (id === ACCESS_KEY_ID ? SECRET : undefined),
  ...overrides,
});

async function expectOk(request: SignedRequest, overrides?: Partial<SigV4Options>) {
  assert.deepEqual(await verifySigV4(request, options(overrides)), { ok: true, accessKeyId: ACCESS_KEY_ID });
}

async function expectFailure(request: SignedRequest, code: string, messageIncludes?: string, overrides?: Partial<SigV4Options>) {
  const result = await verifySigV4(request, options(overrides));
  assert.ok(result && !result.ok, `expected ${code}, got ${JSON.stringify(result)}`);
  assert.equal(result.code, code);
  if (messageIncludes !== undefined) assert.match(result.message ?? '', new RegExp(messageIncludes, 'i'));
}

const minutes = (n: number) => n * 60_000;

describe('verifySigV4: valid requests', () => {
  it('accepts a signed GET', async () => {
    await expectOk(await signedRequest({ path: '/restapis' }));
  });

  it('accepts a signed PATCH with a JSON body (and its x-amz-content-sha256)', async () => {
    const body = JSON.stringify({ patchOperations: [{ op: 'replace', path: '/~1pets~1{petId}/GET/caching/enabled', value: 'true' }] });
    await expectOk(await signedRequest({ method: 'PATCH', path: '/restapis/petstore/stages/prod', body, headers: { 'content-type': 'application/json' } }));
  });

  it('accepts a body signed without x-amz-content-sha256 (the body is hashed instead)', async () => {
    await expectOk(await signedRequest({ method: 'POST', path: '/restapis', body: '{"name":"x"}', applyChecksum: false }));
  });

  it('accepts execute-api signatures when execute-api is expected', async () => {
    const request = await signedRequest({ path: '/prod/pets/123', service: 'execute-api', region: 'eu-west-1' });
    await expectOk(request, { service: 'execute-api', region: 'eu-west-1' });
  });

  it('ignores headers that were not signed', async () => {
    const request = await signedRequest({ path: '/restapis' });
    const rawHeaders = [...request.rawHeaders, 'User-Agent', 'curl/8', 'X-Forwarded-For', '10.0.0.1', 'Cache-Control', 'max-age=0'];
    await expectOk({ ...request, rawHeaders });
  });

  it('accepts header names in any case and values with extra inner spaces (canonicalised)', async () => {
    const request = await signedRequest({ path: '/restapis', headers: { 'x-note': 'a b' } });
    const rawHeaders = request.rawHeaders.map((entry, i) => (i % 2 === 0 ? entry.toUpperCase() : entry));
    await expectOk({ ...request, rawHeaders: withHeader(rawHeaders, 'x-note', 'a    b') });
  });

  it('accepts a signed header sent as repeated lines, joined with "," as SigV4 requires', async () => {
    const request = await signedRequest({ path: '/restapis', headers: { 'x-tag': 'a,b' } });
    const rawHeaders = [...withHeader(request.rawHeaders, 'x-tag', 'a'), 'X-Tag', 'b'];
    await expectOk({ ...request, rawHeaders });
    const swapped = [...withHeader(request.rawHeaders, 'x-tag', 'b'), 'X-Tag', 'a'];
    await expectFailure({ ...request, rawHeaders: swapped }, 'INVALID_SIGNATURE');
  });

  it('accepts skew up to 15 minutes either way', async () => {
    const request = await signedRequest({ path: '/restapis' });
    await expectOk(request, { now: SIGNED_AT.getTime() + minutes(14) });
    await expectOk(request, { now: SIGNED_AT.getTime() - minutes(14) });
  });
});

describe('verifySigV4: paths (double encoding) and queries', () => {
  for (const path of [
    '/restapis/x/stages/prod/cache/data',
    '/restapis/pet%20store/resources/%7BpetId%7D',
    '/restapis/petstore/stages/~1pets~1%7BpetId%7D',
    '/restapis/a%2Fb/stages/%E2%9C%93',
    '/prod/pets/{petId}/with space',
    '/',
  ]) {
    it(`verifies ${path}`, async () => {
      const request = await signedRequest({ path });
      await expectOk(request);
    });
  }

  it('fails when the path differs from the signed one', async () => {
    const request = await signedRequest({ path: '/restapis/petstore' });
    await expectFailure({ ...request, rawUrl: '/restapis/petstore2' }, 'INVALID_SIGNATURE');
  });

  it('accepts repeated and unsorted query keys, in any order on the wire', async () => {
    const request = await signedRequest({ path: '/restapis/petstore/resources', query: { limit: '25', embed: ['methods', 'integration'], 'a key': 'x y+z', empty: '' } });
    await expectOk(request);
    const reordered = '/restapis/petstore/resources?embed=integration&a%20key=x%20y%2Bz&limit=25&empty&embed=methods';
    await expectOk({ ...request, rawUrl: reordered });
  });

  it('fails when a query value is changed or added', async () => {
    const request = await signedRequest({ path: '/restapis', query: { limit: '25' } });
    await expectFailure({ ...request, rawUrl: '/restapis?limit=500' }, 'INVALID_SIGNATURE');
    await expectFailure({ ...request, rawUrl: '/restapis?limit=25&position=x' }, 'INVALID_SIGNATURE');
  });

  it('answers malformed percent-encoding in the query with BAD_PERCENT_ENCODING', async () => {
    const request = await signedRequest({ path: '/restapis' });
    await expectFailure({ ...request, rawUrl: '/restapis?limit=%ZZ' }, 'BAD_PERCENT_ENCODING');
  });
});

describe('verifySigV4: tampering and wrong credentials', () => {
  it('rejects a signature made with another secret', async () => {
    await expectFailure(await signedRequest({ path: '/restapis', secret: 'not-the-secret' }), 'INVALID_SIGNATURE');
  });

  it('rejects a tampered body against x-amz-content-sha256', async () => {
    const request = await signedRequest({ method: 'POST', path: '/restapis', body: '{"name":"a"}' });
    await expectFailure({ ...request, body: Buffer.from('{"name":"b"}') }, 'INVALID_SIGNATURE', 'x-amz-content-sha256');
  });

  it('rejects a tampered body when no x-amz-content-sha256 was sent', async () => {
    const request = await signedRequest({ method: 'POST', path: '/restapis', body: '{"name":"a"}', applyChecksum: false });
    await expectFailure({ ...request, body: Buffer.from('{"name":"b"}') }, 'INVALID_SIGNATURE');
  });

  it('rejects a changed signed header, a missing one, a changed method and host', async () => {
    const request = await signedRequest({ path: '/restapis', headers: { 'x-tenant': 'blue' } });
    await expectFailure({ ...request, rawHeaders: withHeader(request.rawHeaders, 'x-tenant', 'red') }, 'INVALID_SIGNATURE');
    const withoutTenant = request.rawHeaders.filter((_, i, all) => all[i - (i % 2)] !== 'x-tenant');
    await expectFailure({ ...request, rawHeaders: withoutTenant }, 'INVALID_SIGNATURE', "'x-tenant' is missing");
    await expectFailure({ ...request, method: 'DELETE' }, 'INVALID_SIGNATURE');
    await expectFailure({ ...request, rawHeaders: withHeader(request.rawHeaders, 'host', 'evil.example:9090') }, 'INVALID_SIGNATURE');
  });

  it('rejects an unknown access key with UNRECOGNIZED_CLIENT', async () => {
    await expectFailure(await signedRequest({ path: '/restapis', accessKeyId: 'AKIDUNKNOWN' }), 'UNRECOGNIZED_CLIENT');
  });

  it('rejects a scope for another service or region, saying which', async () => {
    await expectFailure(await signedRequest({ path: '/restapis', service: 'execute-api' }), 'INVALID_SIGNATURE', "service: 'apigateway', not 'execute-api'");
    await expectFailure(await signedRequest({ path: '/restapis', region: 'eu-west-1' }), 'INVALID_SIGNATURE', "region: 'us-east-1', not 'eu-west-1'");
  });

  it('rejects requests signed more than 15 minutes in the past or future with REQUEST_EXPIRED', async () => {
    const request = await signedRequest({ path: '/restapis' });
    await expectFailure(request, 'REQUEST_EXPIRED', undefined, { now: SIGNED_AT.getTime() + minutes(16) });
    await expectFailure(request, 'REQUEST_EXPIRED', undefined, { now: SIGNED_AT.getTime() - minutes(16) });
  });
});

describe('verifySigV4: what is and is not SigV4', () => {
  it('returns undefined for anonymous and non-SigV4 requests', async () => {
    const base = { method: 'GET', rawUrl: '/restapis?x=1', body: undefined };
    assert.equal(await verifySigV4({ ...base, rawHeaders: ['Host', 'h'] }, options()), undefined);
    assert.equal(await verifySigV4({ ...base, rawHeaders: ['Authorization', 'APPCODE abc'] }, options()), undefined);
    assert.equal(await verifySigV4({ ...base, rawHeaders: ['Authorization', 'Bearer abc'] }, options()), undefined);
    assert.equal(await verifySigV4({ ...base, rawUrl: '/restapis?%ZZ', rawHeaders: [] }, options()), undefined);
  });

  it('rejects malformed Authorization headers with INVALID_SIGNATURE', async () => {
    const request = await signedRequest({ path: '/restapis' });
    const auth = request.headers.authorization!;
    const cases: Array<[string, string]> = [
      ['AWS4-HMAC-SHA256', 'Credential'],
      ['AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240506/us-east-1/apigateway/aws4_request', 'SignedHeaders'],
      [auth.replace(/Credential=[^,]+/, 'Credential=AKIDEXAMPLE/20240506/us-east-1/apigateway'), 'Credential must be'],
      [auth.replace(/Signature=\w+/, 'Signature=XYZ'), 'hex'],
      [auth.replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256'), 'Unsupported signing algorithm'],
      [auth.replace('AWS4-HMAC-SHA256', 'aws4-hmac-sha256'), 'Unsupported signing algorithm'],
      [auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-content-sha256;x-amz-date'), "'Host' must be"],
      [auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=host;x-amz-content-sha256'), "'x-amz-date' must be"],
      [auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=Host;x-amz-date'), 'lowercase'],
      [auth.replace(/Credential=AKIDEXAMPLE\/\d{8}/, 'Credential=AKIDEXAMPLE/20240507'), 'Date in Credential scope'],
    ];
    for (const [value, message] of cases)
      await expectFailure({ ...request, rawHeaders: withHeader(request.rawHeaders, 'authorization', value) }, 'INVALID_SIGNATURE', message);
  });

  it('rejects a missing or malformed x-amz-date, and several Authorization headers', async () => {
    const request = await signedRequest({ path: '/restapis' });
    const noDate = request.rawHeaders.filter((_, i, all) => all[i - (i % 2)] !== 'x-amz-date');
    await expectFailure({ ...request, rawHeaders: noDate }, 'INVALID_SIGNATURE', 'X-Amz-Date');
    await expectFailure({ ...request, rawHeaders: withHeader(request.rawHeaders, 'x-amz-date', '20241340T000000Z') }, 'INVALID_SIGNATURE', 'YYYYMMDDTHHMMSSZ');
    await expectFailure({ ...request, rawHeaders: [...request.rawHeaders, 'Authorization', request.headers.authorization!] }, 'INVALID_SIGNATURE', 'more than one');
  });

  it('rejects a signed Date header and unsigned payloads as unsupported', async () => {
    const withDate = await signedRequest({ path: '/restapis', headers: { date: 'Mon, 06 May 2024 07:08:09 GMT' } });
    const auth = withDate.headers.authorization!.replace('SignedHeaders=', 'SignedHeaders=date;');
    await expectFailure({ ...withDate, rawHeaders: withHeader(withDate.rawHeaders, 'authorization', auth) }, 'INVALID_SIGNATURE', "'Date' header");
    const unsigned = await signedRequest({ path: '/restapis', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    await expectFailure(unsigned, 'INVALID_SIGNATURE', 'unsigned');
  });
});

describe('verifySigV4: presigned URLs (query authentication)', () => {
  it('accepts a valid presigned URL within its lifetime', async () => {
    const request = await signedRequest({ path: '/restapis/petstore', query: { embed: ['a', 'b'] }, presignSeconds: 300 });
    assert.match(request.rawUrl, /X-Amz-Signature=/);
    await expectOk(request);
    await expectOk(request, { now: SIGNED_AT.getTime() + 299_000 });
  });

  it('rejects an expired, tampered or wrongly-keyed presigned URL', async () => {
    const request = await signedRequest({ path: '/restapis/petstore', presignSeconds: 300 });
    await expectFailure(request, 'REQUEST_EXPIRED', undefined, { now: SIGNED_AT.getTime() + 301_000 });
    await expectFailure(request, 'REQUEST_EXPIRED', undefined, { now: SIGNED_AT.getTime() - minutes(16) });
    await expectFailure({ ...request, rawUrl: request.rawUrl.replace('X-Amz-Expires=300', 'X-Amz-Expires=3000') }, 'INVALID_SIGNATURE');
    await expectFailure({ ...request, rawUrl: request.rawUrl.replace('X-Amz-Expires=300', 'X-Amz-Expires=999999') }, 'INVALID_SIGNATURE', 'X-Amz-Expires');
    await expectFailure({ ...request, rawUrl: `${request.rawUrl}&extra=1` }, 'INVALID_SIGNATURE');
    await expectFailure({ ...request, rawUrl: request.rawUrl.replace(/&X-Amz-Signature=\w+/, '') }, 'INVALID_SIGNATURE', 'presigned URL needs');
    await expectFailure(await signedRequest({ path: '/restapis/petstore', presignSeconds: 300, secret: 'other' }), 'INVALID_SIGNATURE');
    await expectFailure(await signedRequest({ path: '/restapis/petstore', presignSeconds: 300, accessKeyId: 'AKIDOTHER' }), 'UNRECOGNIZED_CLIENT');
  });
});
