/**
 * HTTPS (SPEC §4, issue 16) with real clients against a certificate made here with openssl (in a
 * temporary directory; no key is ever committed): undici and the AWS SDK verify it with the test's
 * CA; Alibaba's SDK (aliyun-api-gateway 1.1.6) connects too. TLS 1.2 is the floor, plain HTTP to
 * a TLS port gets nothing, the certificate is replaced without a restart, and AppCode / API-key
 * auth over plain HTTP on a non-loopback address is warned about at start.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { APIGatewayClient, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { loadConfigFile } from '../../src/config/load.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startGateway } from '../helpers/gateway.js';
import { exchange } from '../helpers/wire.js';

const require = createRequire(import.meta.url);
const AlibabaClient = (require('aliyun-api-gateway') as { Client: new (key: string, secret: string) => { get(url: string, opts?: object): Promise<unknown> } }).Client;

/** A self-signed certificate for 127.0.0.1 and localhost, valid one day. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

function peerCertificateCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(String(cn));
    });
    socket.on('error', reject);
  });
}

describe('HTTPS listeners', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-tls-'));
  let gateway: Gateway;
  let first: { cert: string; key: string };
  let ca: Buffer;

  const config = (tls: { cert: string; key: string }) => ({
    gateway: { tls },
    identities: [{ name: 'admin', accessKeyId: 'AKIDTLS', secretAccessKey: 'secret-tls', apiKey: 'admin-key-tls', policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: '*' }] }],
    apps: [{ id: '1001', appKey: 'tls-app', appSecret: 'tls-secret' }],
    cachePlugins: { p: { duration: 60 } },
    apis: [{
      id: 'shop',
      resources: {
        '/hello': { GET: { integration: { type: 'MOCK', headers: { 'content-type': 'application/json' }, body: '{"hello":"tls"}' } } },
        '/products': { GET: { cachePlugin: 'p', integration: { type: 'MOCK', headers: { 'content-type': 'application/json' }, body: '{"products":[]}' } } },
      },
      stages: { prod: { cacheClusterEnabled: true } },
    }],
  });

  before(async () => {
    first = makeCertificate(dir, 'first');
    ca = readFileSync(first.cert);
    gateway = await startGateway(config(first), { baseDir: dir });
  });
  after(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both listeners speak HTTPS; undici verifies the certificate with the test CA', async () => {
    assert.match(gateway.dataUrl, /^https:\/\//);
    assert.match(gateway.adminUrl, /^https:\/\//);
    const dispatcher = new Agent({ connect: { ca } });
    const data = await request(`${gateway.dataUrl}/prod/hello`, { dispatcher });
    assert.equal(data.statusCode, 200);
    assert.deepEqual(await data.body.json(), { hello: 'tls' });
    const health = await request(`${gateway.adminUrl}/healthz`, { dispatcher });
    assert.equal(health.statusCode, 200);
    await health.body.dump();
    await dispatcher.close();
  });

  it('the AWS SDK drives the admin API over HTTPS', async () => {
    const client = new APIGatewayClient({
      endpoint: gateway.adminUrl, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTLS', secretAccessKey: 'secret-tls' },
      requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca }) }),
    });
    const apis = await client.send(new GetRestApisCommand({}));
    assert.deepEqual(apis.items?.map((api) => api.id), ['shop']);
    client.destroy();
  });

  it("Alibaba's SDK calls a signed, plug-in-cached method over HTTPS", async () => {
    // Note: aliyun-api-gateway 1.1.6 turns certificate verification off for every request
    // (rejectUnauthorized = false in lib/client.js), so it accepts this self-signed certificate.
    const client = new AlibabaClient('tls-app', 'tls-secret');
    assert.deepEqual(await client.get(`${gateway.dataUrl}/prod/products`, { headers: { accept: 'application/json' } }), { products: [] });
  });

  it('TLS 1.2 is the floor: a TLS 1.1 client is refused and the gateway keeps serving', async () => {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = tlsConnect({ port: Number(new URL(gateway.dataUrl).port), host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
      socket.once('secureConnect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    assert.ok(refused, 'a TLS 1.1 handshake succeeded');
    const answer = await exchange(Number(new URL(gateway.dataUrl).port), ['GET /prod/hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'], { tls: true });
    assert.deepEqual(answer.statuses, [200]);
  });

  it('plain HTTP to the TLS port gets no HTTP answer and no crash', async () => {
    const answer = await exchange(Number(new URL(gateway.dataUrl).port), ['GET /prod/hello HTTP/1.1\r\nHost: a\r\n\r\n'], { timeoutMs: 2_000 });
    assert.deepEqual(answer.statuses, []);
    assert.ok(answer.closedByServer);
  });

  it('a reload re-reads the certificate files: new handshakes get the new certificate', async () => {
    const port = Number(new URL(gateway.dataUrl).port);
    assert.equal(await peerCertificateCn(port), 'first');
    const second = makeCertificate(dir, 'second');
    // Same file names, new contents: what a certificate renewal does.
    execFileSync('cp', [second.cert, first.cert]);
    execFileSync('cp', [second.key, first.key]);
    const file = join(dir, 'cachegate.json');
    require('node:fs').writeFileSync(file, JSON.stringify(config(first)));
    await gateway.reload(loadConfigFile(file));
    assert.equal(await peerCertificateCn(port), 'second');
  });

  it('a missing certificate file is a config error naming it', async () => {
    await assert.rejects(startGateway(config({ cert: 'missing.pem', key: 'missing-key.pem' }), { baseDir: dir }), (error: { lines(): string[] }) => {
      assert.match(error.lines().join('\n'), /gateway\.tls\.cert: file not found: .*missing\.pem/);
      return true;
    });
  });
});

describe('plain-HTTP warning', () => {
  it('API keys or AppCodes over plain HTTP on a non-loopback address are warned about at start; loopback or TLS is quiet', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const raw = {
      identities: [{ name: 'k', apiKey: 'key-12345678', policy: [] }],
      apps: [{ id: '1', appCode: 'code-1' }],
      apis: [{ id: 'a', resources: { '/x': { GET: { integration: { type: 'MOCK' } } } }, stages: { prod: {} } }],
    };
    const open = await startGateway(raw, { logger, listen: { host: '0.0.0.0', port: 0 } });
    await open.close();
    const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => /plain HTTP/.test(entry.msg));
    assert.equal(warnings.length, 1, lines.join('\n'));
    assert.equal(warnings[0].listener, 'data');
    assert.match(warnings[0].msg, /API keys .* and AppCodes/);
    lines.length = 0;
    const quiet = await startGateway(raw, { logger });
    await quiet.close();
    assert.equal(lines.filter((line) => /plain HTTP/.test(line)).length, 0);
  });
});
