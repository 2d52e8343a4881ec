import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMockIntegration } from '../../src/integrations/mock.js';
import { integrationRequest, readAll } from './helpers.js';

describe('MOCK', () => {
  const integration = createMockIntegration({
    type: 'MOCK',
    statusCode: 418,
    headers: { 'Content-Type': 'application/json', 'X-Teapot': 'yes', 'Content-Length': '1' },
    body: '{"tea":"é"}',
  });

  it('answers the configured status, lower-cased headers and body with its real length', async () => {
    const response = await integration.invoke(integrationRequest());
    assert.equal(response.statusCode, 418);
    assert.deepEqual(response.headers, { 'content-type': 'application/json', 'x-teapot': 'yes', 'content-length': '12' });
    assert.equal((await readAll(response.body)).toString(), '{"tea":"é"}');
  });

  it('gives every answer its own header map', async () => {
    const first = await integration.invoke(integrationRequest());
    first.headers['cache-status'] = 'cachegate; hit';
    const second = await integration.invoke(integrationRequest());
    assert.equal(second.headers['cache-status'], undefined);
  });

  it('answers an empty body with content-length 0', async () => {
    const empty = createMockIntegration({ type: 'MOCK', statusCode: 204, headers: {}, body: '' });
    const response = await empty.invoke(integrationRequest());
    assert.equal(response.statusCode, 204);
    assert.equal(response.headers['content-length'], '0');
    assert.equal((await readAll(response.body)).length, 0);
  });
});
