/**
 * SIGHUP reload attacked (SPEC §8: "validated first; an invalid file leaves the running config in
 * place"): a reload is applied whole or not at all, and what it keeps still obeys the admin API.
 * - A reload whose APIs are applied but whose state file cannot be written used to leave a
 *   half-applied config: the file's new APIs served, its revoked API key still accepted, its new
 *   throttle not enforced (finding, fixed).
 * - A reload that changes `apps` or `cachePlugins` rebuilt the plug-in policy, which forgot the
 *   plug-in cache spaces created before: FlushStageCache then left those entries served (finding, fixed),
 *   and forgot the X-Ca-Nonce records: a signed request captured before the reload could be replayed
 *   after it, within its 15-minute window (finding, fixed).
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';

const listeners = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } };

describe('SIGHUP reload is applied whole', () => {
  let backend: CountingBackend;
  const gateways: Gateway[] = [];
  before(async () => {
    backend = await startBackend();
  });
  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await backend.close();
  });

  it('a state file that cannot be written does not leave new APIs serving under the old keys and limits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-reload-sec-'));
    // The state file's directory is a regular file: every write fails (ENOTDIR), even as root.
    writeFileSync(join(dir, 'blocker'), 'not a directory');
    const file = join(dir, 'cachegate.json');
    const config = (key: string, toys: boolean, throttle?: unknown) => JSON.stringify({
      gateway: { stateFile: './blocker/state.json', ...(throttle ? { throttle } : {}) },
      identities: [{ name: key, apiKey: key, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] }],
      apis: [{
        id: 'shop',
        resources: {
          '/pets': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets` } } },
          ...(toys ? { '/toys': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/toys` } } } } : {}),
        },
        stages: { prod: {} },
      }],
    });
    writeFileSync(file, config('old-key-123456', false));
    const gateway = await Gateway.start(loadConfigFile(file), listeners);
    gateways.push(gateway);
    assert.equal((await call(`${gateway.adminUrl}/restapis`, { headers: { 'x-api-key': 'old-key-123456' } })).status, 200);

    // The operator rotates the key, adds a resource and an account limit in one edit.
    writeFileSync(file, config('new-key-123456', true, { rateLimit: 0.001, burstLimit: 2 }));
    await gateway.reload(loadConfigFile(file)).catch(() => undefined);

    const toys = (await call(`${gateway.dataUrl}/prod/toys`)).status;
    const oldKey = (await call(`${gateway.adminUrl}/restapis`, { headers: { 'x-api-key': 'old-key-123456' } })).status;
    const newKey = (await call(`${gateway.adminUrl}/restapis`, { headers: { 'x-api-key': 'new-key-123456' } })).status;
    const third = [(await call(`${gateway.dataUrl}/prod/pets`)).status, (await call(`${gateway.dataUrl}/prod/pets`)).status];
    if (toys === 200) {
      // The file's APIs serve: so must the rest of the file.
      assert.notEqual(oldKey, 200, 'the revoked API key is still accepted while the new file\'s APIs serve');
      assert.equal(newKey, 200);
      assert.equal(third[1], 429, 'the new account limit is not enforced while the new file\'s APIs serve');
    } else {
      assert.equal(oldKey, 200, 'nothing of the reload applies');
      assert.notEqual(newKey, 200);
    }
  });

  it('a reload changing apps and plug-ins keeps FlushStageCache reaching the plug-in entries cached before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-reload-sec-'));
    const file = join(dir, 'cachegate.json');
    const config = (apps: unknown[], more = false) => JSON.stringify({
      identities: [{ name: 'admin', apiKey: 'admin-key-123', policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] }],
      apps,
      cachePlugins: { shared: { varyByApp: false, duration: 300 }, ...(more ? { other: { varyByApp: false, duration: 60 } } : {}) },
      apis: [{ id: 'shop', resources: { '/news': { GET: { cachePlugin: 'shared', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/news` } } } }, stages: { prod: {} } }],
    });
    writeFileSync(file, config([{ id: '1001', appCode: 'code-a-123' }]));
    const gateway = await Gateway.start(loadConfigFile(file), listeners);
    gateways.push(gateway);
    let version = 'v1';
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(version);
    assert.equal((await call(`${gateway.dataUrl}/prod/news`)).text, 'v1');
    assert.equal((await call(`${gateway.dataUrl}/prod/news`)).headers['x-ca-caching'], 'true');

    // A new app and a new plug-in are added by SIGHUP; then the content changes and the operator flushes the stage.
    writeFileSync(file, config([{ id: '1001', appCode: 'code-a-123' }, { id: '1002', appCode: 'code-b-123' }], true));
    await gateway.reload(loadConfigFile(file));
    version = 'v2';
    const flushed = await call(`${gateway.adminUrl}/restapis/shop/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': 'admin-key-123' } });
    assert.ok(flushed.status < 300, `flush answered ${flushed.status} ${flushed.text}`);
    assert.equal((await call(`${gateway.dataUrl}/prod/news`)).text, 'v2', 'a flushed stage still serves the plug-in entry cached before the reload');
  });

  it('a reload changing apps does not let a signed request be replayed (its nonce is remembered)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-reload-sec-'));
    const file = join(dir, 'cachegate.json');
    const config = (apps: unknown[]) => JSON.stringify({
      apps,
      cachePlugins: { perApp: { varyByApp: true, duration: 300 } },
      apis: [{ id: 'shop', resources: { '/me': { GET: { cachePlugin: 'perApp', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/me` } } } }, stages: { prod: {} } }],
    });
    const appA = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };
    writeFileSync(file, config([appA]));
    const gateway = await Gateway.start(loadConfigFile(file), listeners);
    gateways.push(gateway);
    backend.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('private to 1001');
    const headers: Record<string, string> = {
      accept: 'text/plain', 'x-ca-key': appA.appKey, 'x-ca-timestamp': String(Date.now()), 'x-ca-nonce': randomUUID(),
      'x-ca-signature-method': 'HmacSHA256', 'x-ca-signature-headers': 'x-ca-key,x-ca-nonce,x-ca-signature-method,x-ca-timestamp',
    };
    const names = ['x-ca-key', 'x-ca-nonce', 'x-ca-signature-method', 'x-ca-timestamp'];
    headers['x-ca-signature'] = createHmac('sha256', appA.appSecret).update(`GET\ntext/plain\n\n\n\n${names.map((n) => `${n}:${headers[n]}\n`).join('')}/prod/me`).digest('base64');
    assert.equal((await call(`${gateway.dataUrl}/prod/me`, { headers })).status, 200);
    const first = (await call(`${gateway.dataUrl}/prod/me`, { headers })).status;
    assert.ok(first >= 400 && first < 500, `a replay is refused before the reload (${first})`);

    writeFileSync(file, config([appA, { id: '1002', appKey: 'key-b', appSecret: 'secret-b' }]));
    await gateway.reload(loadConfigFile(file));
    const replay = await call(`${gateway.dataUrl}/prod/me`, { headers });
    assert.ok(replay.status >= 400 && replay.status < 500, `a captured request replayed after the reload is served as app 1001: ${replay.text}`);
  });
});
