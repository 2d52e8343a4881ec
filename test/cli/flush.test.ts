import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));

/** Runs the CLI without blocking this process (the gateway under test lives here). */
function cachegate(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('cachegate flush', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      identities: [
        { name: 'ops', apiKey: 'ops-api-key-1', accessKeyId: 'AKIDFLUSH', secretAccessKey: 'flush-secret', policy: [{ effect: 'Allow', action: 'apigateway:DELETE', resource: '*' }] },
        { name: 'reader', apiKey: 'reader-key-1', policy: [{ effect: 'Allow', action: 'apigateway:GET', resource: '*' }] },
      ],
      apis: [{ id: 'shop', resources: { '/x': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/x` } } } }, stages: { prod: { cacheClusterEnabled: true } } }],
    });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  const cached = async () => {
    await call(`${gateway.dataUrl}/prod/x`);
    return (await call(`${gateway.dataUrl}/prod/x`)).headers['cache-status'];
  };

  it('flushes a stage with an API key, then the next request misses', async () => {
    assert.match(String(await cached()), /hit/);
    const result = await cachegate(['flush', '--api', 'shop', '--stage', 'prod', '--admin', gateway.adminUrl, '--api-key', 'ops-api-key-1']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /flushed the cache of shop\/prod/);
    assert.equal((await call(`${gateway.dataUrl}/prod/x`)).headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
  });

  it('signs with SigV4 from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', async () => {
    assert.match(String(await cached()), /hit/);
    const result = await cachegate(['flush', '--api', 'shop', '--stage', 'prod', '--admin', gateway.adminUrl], { AWS_ACCESS_KEY_ID: 'AKIDFLUSH', AWS_SECRET_ACCESS_KEY: 'flush-secret' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await call(`${gateway.dataUrl}/prod/x`)).headers['cache-status'], 'cachegate; fwd=uri-miss; stored');
  });

  it('reports a refusal, an unknown stage or no credentials in one line with exit 1', async () => {
    const refused = await cachegate(['flush', '--api', 'shop', '--stage', 'prod', '--admin', gateway.adminUrl, '--api-key', 'reader-key-1']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr.trim(), /^cachegate: flush failed: 403 .*not authorized/);
    const unknown = await cachegate(['flush', '--api', 'shop', '--stage', 'nope', '--admin', gateway.adminUrl, '--api-key', 'ops-api-key-1']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404/);
    const anonymous = await cachegate(['flush', '--api', 'shop', '--stage', 'prod', '--admin', gateway.adminUrl]);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /no credentials/);
    assert.equal(anonymous.stderr.trim().split('\n').length, 1);
  });
});
