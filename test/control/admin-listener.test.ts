/**
 * Issue 13's lesser findings on the admin listener: bodies are not read before the caller is
 * authenticated (or beyond a small bound), all admin bodies in flight are bounded, `Host` must
 * name the listener (DNS rebinding), and every answer carries `x-amzn-RequestId`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { BodyBudget, MAX_UNVERIFIED_BODY_BYTES } from '../../src/control/admin-body.js';
import { GatewayError } from '../../src/errors.js';
import { call, rawExchange } from '../helpers/http.js';
import { ADMIN, ADMIN_API_KEY, REGION, startHarness, type Harness } from './rest/harness.js';

/** Sends a request head announcing `declared` body bytes plus only `sent` of them; resolves with what the server answered (it must not wait for the rest). */
function partialPost(port: number, path: string, headers: Record<string, string>, declared: number, sent = 1024, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms: the server waited for the body`));
    }, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (headEnd > 0 && length !== undefined && text.length >= headEnd + 4 + Number(length)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', (error) => (chunks.length ? undefined : reject(error)));
    const head = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Length: ${declared}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    socket.write(head);
    socket.write(Buffer.alloc(sent, 0x61));
  });
}

async function sign(url: URL, method: string, body: Buffer, extraHeaders: Record<string, string> = {}) {
  // applyChecksum false: like the AWS SDK and CLI for API Gateway, no x-amz-content-sha256 unless given.
  const signer = new SignatureV4({ service: 'apigateway', region: REGION, credentials: ADMIN, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign({
    method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, 'content-type': 'application/json', ...extraHeaders }, body,
  });
  return signed.headers as Record<string, string>;
}

describe('admin listener: bodies, hosts and request ids', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startHarness({ gateway: { adminHosts: ['admin.example.internal'] } });
    port = Number(new URL(h.gateway.adminUrl).port);
  });
  after(() => h.close());

  it('an anonymous POST announcing 16 MB is refused from its headers, before its body arrives', async () => {
    const answer = await partialPost(port, '/restapis?mode=import', {}, 16 * 1024 * 1024);
    assert.match(answer, /^HTTP\/1\.1 403/);
    assert.match(answer, /MissingAuthenticationTokenException/);
    assert.match(answer, /connection: close/i);
  });

  it('a wrong API key or an unknown SigV4 access key is refused before the body too', async () => {
    assert.match(await partialPost(port, '/restapis?mode=import', { 'x-api-key': 'not-a-key-at-all' }, 16 * 1024 * 1024), /^HTTP\/1\.1 403/);
    const forged = 'AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20240101/us-east-1/apigateway/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + '0'.repeat(64);
    const answer = await partialPost(port, '/restapis?mode=import', { authorization: forged, 'x-amz-date': '20240101T000000Z' }, 16 * 1024 * 1024);
    assert.match(answer, /^HTTP\/1\.1 403/);
    assert.match(answer, /UnrecognizedClientException/);
  });

  it('a known access key without a signed payload hash may send at most MAX_UNVERIFIED_BODY_BYTES before it is verified', async () => {
    const url = new URL(`${h.gateway.adminUrl}/restapis`);
    const big = Buffer.from(JSON.stringify({ name: 'x'.repeat(MAX_UNVERIFIED_BODY_BYTES) }));
    const tooBig = await call(url.href, { method: 'POST', headers: await sign(url, 'POST', big), body: big });
    assert.equal(tooBig.status, 413, tooBig.text.slice(0, 200));
    assert.equal(tooBig.headers['x-amzn-errortype'], 'RequestEntityTooLargeException');
    // The same size with a signed x-amz-content-sha256 is verified first, then read and checked.
    const hash = createHash('sha256').update(big).digest('hex');
    const accepted = await call(url.href, { method: 'POST', headers: await sign(url, 'POST', big, { 'x-amz-content-sha256': hash }), body: big });
    assert.equal(accepted.status, 201, accepted.text.slice(0, 200));
    await call(`${h.gateway.adminUrl}/restapis/${accepted.json().id}`, { method: 'DELETE', headers: { 'x-api-key': ADMIN_API_KEY } });
    // A body that is not the one whose hash was signed is refused.
    const swapped = Buffer.from(JSON.stringify({ name: 'y'.repeat(MAX_UNVERIFIED_BODY_BYTES) }));
    const forged = await call(url.href, { method: 'POST', headers: await sign(url, 'POST', big, { 'x-amz-content-sha256': hash }), body: swapped });
    assert.equal(forged.status, 403, forged.text.slice(0, 200));
    assert.equal(forged.headers['x-amzn-errortype'], 'InvalidSignatureException');
  });

  it('an authenticated body over 16 MiB is 413 from its declared length', async () => {
    const answer = await partialPost(port, '/restapis?mode=import', { 'x-api-key': ADMIN_API_KEY }, 16 * 1024 * 1024 + 1);
    assert.match(answer, /^HTTP\/1\.1 413/);
  });

  it('Host must name the admin listener: IP literals, localhost and gateway.adminHosts pass; other names get 421 JSON', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', 'admin.example.internal', 'console.localhost:9']) {
      const raw = await rawExchange(port, `GET /metrics HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(raw, /^HTTP\/1\.1 200/, host);
    }
    for (const host of ['attacker.example', `attacker.example:${port}`, 'localhost.attacker.example', '127.0.0.1.nip.io']) {
      for (const path of ['/metrics', '/restapis', '/console']) {
        const raw = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${ADMIN_API_KEY}\r\nConnection: close\r\n\r\n`);
        assert.match(raw, /^HTTP\/1\.1 421/, `${host} ${path}`);
        assert.match(raw, /x-amzn-errortype: MisdirectedRequestException/i);
        assert.match(raw, /"message":"This admin listener does not answer for host/);
      }
    }
  });

  it('every admin answer carries x-amzn-RequestId, errors included, each one different', async () => {
    const answers = await Promise.all([
      call(`${h.gateway.adminUrl}/restapis`, { headers: { 'x-api-key': ADMIN_API_KEY } }),
      call(`${h.gateway.adminUrl}/restapis`),
      call(`${h.gateway.adminUrl}/restapis/nope`, { headers: { 'x-api-key': ADMIN_API_KEY } }),
      call(`${h.gateway.adminUrl}/restapis/petstore/stages/prod`, { method: 'POST', headers: { 'x-api-key': ADMIN_API_KEY } }),
      call(`${h.gateway.adminUrl}/metrics`),
      call(`${h.gateway.adminUrl}/console`),
      call(`${h.gateway.adminUrl}/restapis/%zz`, { headers: { 'x-api-key': ADMIN_API_KEY } }),
    ]);
    assert.deepEqual(answers.map((answer) => answer.status), [200, 403, 404, 405, 200, 200, 400]);
    const ids = answers.map((answer) => answer.headers['x-amzn-requestid']);
    for (const id of ids) assert.match(String(id), /^[0-9a-f-]{36}$/);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('BodyBudget: a bound on all admin bodies in flight', () => {
  let server: Server;
  let budget: BodyBudget;
  const outcomes: string[] = [];
  before(async () => {
    budget = new BodyBudget(100_000);
    server = createServer((req, res) => {
      budget.read(req, 80_000).then(
        (read) => {
          // Held until the handler is done: the next request sees these bytes counted.
          setTimeout(() => {
            read.release();
            res.end('ok');
          }, 200);
        },
        (error: GatewayError) => {
          outcomes.push(error.code);
          res.writeHead(error.spec.status, { connection: 'close' }).end(error.code);
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('past the total, a request is refused with ADMIN_BUSY (503) and the budget returns to zero', async () => {
    const { port } = server.address() as { port: number };
    const body = Buffer.alloc(70_000, 0x62);
    const statuses = await Promise.all([0, 1].map(() => call(`http://127.0.0.1:${port}/`, { method: 'POST', body }).then((a) => a.status, () => 0)));
    assert.deepEqual(statuses.sort(), [200, 503]);
    assert.deepEqual(outcomes, ['ADMIN_BUSY']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(budget.bytesHeld, 0);
  });

  it('one body over its own bound is 413 without touching the total', async () => {
    const { port } = server.address() as { port: number };
    const answer = await call(`http://127.0.0.1:${port}/`, { method: 'POST', body: Buffer.alloc(90_000) });
    assert.equal(answer.status, 413);
    assert.equal(budget.bytesHeld, 0);
  });
});
