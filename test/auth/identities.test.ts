import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IdentityConfig } from '../../src/config/schema.js';
import { IdentityRegistry, type AuthResult } from '../../src/auth/identities.js';
import { ACCESS_KEY_ID, REGION, SECRET, SIGNED_AT, signedRequest } from './signing.js';

const identities: IdentityConfig[] = [
  {
    name: 'admin',
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET,
    apiKey: 'admin-api-key-0001',
    policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: ['*'] }],
  },
  {
    name: 'reader',
    apiKey: 'reader-api-key-0002',
    policy: [{ effect: 'Allow', action: ['apigateway:GET'], resource: ['*'] }],
  },
];

const registry = new IdentityRegistry(identities, REGION);
const now = SIGNED_AT.getTime();
const plain = (rawHeaders: string[]) => ({ method: 'GET', rawUrl: '/restapis', rawHeaders, body: undefined });

function identityName(result: AuthResult): string | undefined {
  return result.kind === 'identity' ? result.identity.name : undefined;
}

describe('IdentityRegistry', () => {
  it('looks identities up by access key id and by api key', () => {
    assert.equal(registry.byAccessKeyId(ACCESS_KEY_ID)?.name, 'admin');
    assert.equal(registry.byAccessKeyId('AKIDNOPE'), undefined);
    assert.equal(registry.byApiKey('reader-api-key-0002')?.name, 'reader');
    assert.equal(registry.byApiKey('reader-api-key-0003'), undefined);
  });

  it('authenticates a known x-api-key', async () => {
    const result = await registry.authenticate(plain(['Host', 'h', 'X-Api-Key', 'reader-api-key-0002']), 'apigateway', now);
    assert.equal(identityName(result), 'reader');
    assert.equal(result.kind === 'identity' && result.via, 'apiKey');
  });

  it('rejects an unknown, empty or repeated x-api-key with 403 FORBIDDEN', async () => {
    for (const rawHeaders of [['x-api-key', 'nope-nope-nope'], ['x-api-key', ''], ['x-api-key', 'reader-api-key-0002', 'x-api-key', 'reader-api-key-0002']]) {
      assert.deepEqual(await registry.authenticate(plain(rawHeaders), 'apigateway', now), { kind: 'rejected', code: 'FORBIDDEN' });
    }
  });

  it('is anonymous with neither SigV4 nor x-api-key (other Authorization schemes included)', async () => {
    assert.deepEqual(await registry.authenticate(plain(['Host', 'h']), 'apigateway', now), { kind: 'anonymous' });
    assert.deepEqual(await registry.authenticate(plain(['Authorization', 'APPCODE abc']), 'execute-api', now), { kind: 'anonymous' });
  });

  it('authenticates SigV4 and prefers it over x-api-key', async () => {
    const request = await signedRequest({ path: '/restapis' });
    const result = await registry.authenticate({ ...request, rawHeaders: [...request.rawHeaders, 'x-api-key', 'reader-api-key-0002'] }, 'apigateway', now);
    assert.equal(identityName(result), 'admin');
    assert.equal(result.kind === 'identity' && result.via, 'sigv4');
  });

  it('does not fall back to x-api-key when the SigV4 signature is bad', async () => {
    const request = await signedRequest({ path: '/restapis', secret: 'wrong' });
    const result = await registry.authenticate({ ...request, rawHeaders: [...request.rawHeaders, 'x-api-key', 'admin-api-key-0001'] }, 'apigateway', now);
    assert.equal(result.kind, 'rejected');
    assert.equal(result.kind === 'rejected' && result.code, 'INVALID_SIGNATURE');
  });

  it('checks the SigV4 service and the registry region', async () => {
    const request = await signedRequest({ path: '/prod/pets/1', service: 'execute-api' });
    assert.equal(identityName(await registry.authenticate(request, 'execute-api', now)), 'admin');
    assert.equal((await registry.authenticate(request, 'apigateway', now)).kind, 'rejected');
    const euRegistry = new IdentityRegistry(identities, 'eu-west-1');
    assert.equal((await euRegistry.authenticate(request, 'execute-api', now)).kind, 'rejected');
    assert.equal((await registry.authenticate(request, 'execute-api', now + 20 * 60_000)).kind, 'rejected');
  });

  it('can(): applies the compiled policy; anonymous may do nothing', () => {
    const admin = registry.byAccessKeyId(ACCESS_KEY_ID);
    const reader = registry.byApiKey('reader-api-key-0002');
    const stage = 'arn:aws:apigateway:us-east-1::/restapis/petstore/stages/prod';
    assert.equal(registry.can(admin, 'apigateway:DELETE', stage), true);
    assert.equal(registry.can(reader, 'apigateway:get', stage), true);
    assert.equal(registry.can(reader, 'apigateway:DELETE', stage), false);
    assert.equal(registry.can(undefined, 'apigateway:GET', stage), false);
  });

  it('refuses duplicate access key ids and api keys', () => {
    assert.throws(() => new IdentityRegistry([identities[0]!, { ...identities[0]!, name: 'copy', apiKey: undefined }], REGION), /accessKeyId/);
    assert.throws(() => new IdentityRegistry([identities[1]!, { ...identities[1]!, name: 'copy' }], REGION), /identities\[1\]\.apiKey/);
  });
});
