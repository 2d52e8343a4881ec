import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, rawExchange } from '../helpers/http.js';
import type { Gateway } from '../../src/gateway/gateway.js';

const mock = (body: string, statusCode = 200) => ({ integration: { type: 'MOCK', statusCode, headers: { 'content-type': 'text/plain' }, body } });

describe('data plane', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      apis: [
        {
          id: 'first',
          resources: {
            '/pets': { GET: mock('first:pets'), ANY: mock('first:pets:any') },
            '/pets/{petId}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/backend/pets/{petId}` } } },
            '/slow': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/slow`, timeoutMs: 300 } } },
            '/down': { GET: { integration: { type: 'HTTP_PROXY', uri: 'http://127.0.0.1:1/nothing' } } },
          },
          stages: { prod: {}, dev: {} },
        },
        { id: 'second', host: 'second.example', resources: { '/pets': { GET: mock('second:pets') } }, stages: { prod: {} } },
        { id: 'Third', resources: { '/pets': { GET: mock('third:pets') } }, stages: { v1: {} } },
      ],
    });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  describe('choosing the API by Host', () => {
    it('uses the first API for an unknown host', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets`)).text, 'first:pets');
    });
    it('uses an API\'s own host, with or without port', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets`, { headers: { host: 'second.example' } })).text, 'second:pets');
      assert.equal((await call(`${gateway.dataUrl}/prod/pets`, { headers: { host: `SECOND.example:${port}` } })).text, 'second:pets');
    });
    it('uses {apiId}.execute-api.* as on AWS', async () => {
      const answer = await call(`${gateway.dataUrl}/v1/pets`, { headers: { host: 'third.execute-api.us-east-1.amazonaws.com' } });
      assert.equal(answer.text, 'third:pets');
    });
  });

  describe('routing', () => {
    it('answers 404 JSON for an unknown stage or resource', async () => {
      for (const path of ['/staging/pets', '/prod/cats', '/prod', '/']) {
        const answer = await call(`${gateway.dataUrl}${path}`);
        assert.equal(answer.status, 404, path);
        assert.match(answer.headers['content-type'] as string, /application\/json/);
        assert.equal(typeof answer.json().message, 'string');
      }
    });
    it('answers 405 JSON with Allow for a method the resource lacks', async () => {
      const answer = await call(`${gateway.dataUrl}/prod/pets/1`, { method: 'DELETE' });
      assert.equal(answer.status, 405);
      assert.equal(answer.headers.allow, 'GET');
      assert.match(answer.json().message, /DELETE/);
    });
    it('serves other methods from ANY, and an exact method first', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets`, { method: 'POST', body: 'x' })).text, 'first:pets:any');
      assert.equal((await call(`${gateway.dataUrl}/prod/pets`)).text, 'first:pets');
    });
    it('answers HEAD from the GET method without a body', async () => {
      const answer = await call(`${gateway.dataUrl}/prod/pets/5`, { method: 'HEAD' });
      assert.equal(answer.status, 200);
      assert.equal(answer.text, '');
    });
    it('passes decoded path parameters into the integration URI', async () => {
      const answer = await call(`${gateway.dataUrl}/prod/pets/a%20b?x=1`);
      assert.equal(answer.status, 200);
      assert.equal(answer.json().path, '/backend/pets/a%20b?x=1');
    });
    it('gives every answer a request id', async () => {
      const answer = await call(`${gateway.dataUrl}/prod/pets`);
      assert.match(answer.headers['x-amzn-requestid'] as string, /^[0-9a-f-]{36}$/);
    });
  });

  describe('integration failures', () => {
    it('answers 504 JSON when the integration times out', async () => {
      backend.handler = (_req, res) => setTimeout(() => res.end('late'), 1500);
      const answer = await call(`${gateway.dataUrl}/prod/slow`);
      assert.equal(answer.status, 504);
      assert.equal(answer.json().message, 'Endpoint request timed out');
    });
    it('answers 502 JSON when the integration is unreachable', async () => {
      const answer = await call(`${gateway.dataUrl}/prod/down`);
      assert.equal(answer.status, 502);
      assert.match(answer.headers['content-type'] as string, /application\/json/);
    });
  });

  describe('malformed requests get a 4xx and the server keeps serving', () => {
    const exchange = (bytes: string) => rawExchange(port, bytes);
    it('400 for bad percent-encoding in the path or query', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets/%zz`)).status, 400);
      assert.equal((await call(`${gateway.dataUrl}/prod/pets/%E0%A4%A`)).status, 400);
      assert.equal((await call(`${gateway.dataUrl}/prod/pets?x=%`)).status, 400);
    });
    it('400 for a malformed request line', async () => {
      assert.match(await exchange('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 /);
      assert.match(await exchange('GET /prod/pets HTTP/9.9\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 (400|505) /);
    });
    it('400 for an absolute-form target', async () => {
      assert.match(await exchange('GET http://evil.example/prod/pets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 /);
    });
    it('414 for an oversized URL', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets?q=${'a'.repeat(9000)}`)).status, 414);
      assert.match(await exchange(`GET /prod/pets?q=${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 414 /);
    });
    it('431 for oversized headers', async () => {
      assert.match(await exchange(`GET /prod/pets HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    });
    it('400 for conflicting Content-Length and Transfer-Encoding (smuggling shape)', async () => {
      const answer = await exchange('POST /prod/pets HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
      assert.match(answer, /^HTTP\/1\.1 400 /);
    });
    it('still answers normally afterwards', async () => {
      assert.equal((await call(`${gateway.dataUrl}/prod/pets`)).status, 200);
    });
  });
});
