/**
 * SIGHUP reload with a real process (SPEC §8, issue 15): `cachegate start --config F`, edit F,
 * `kill -HUP`. An unchanged stage's cache entry is still a hit after the reload; a new resource
 * appears; an invalid edit leaves traffic exactly as it was and its errors in the log; a stage whose
 * cache size changed starts over (SPEC §5).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cachegate-reload-'));

function configText(backend: string, { toys = false, devSize = '0.5', ttl = 300 } = {}): string {
  return `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apis:
  - id: shop
    resources:
      /pets/{petId}: { GET: { integration: { type: HTTP_PROXY, uri: "${backend}/pets/{petId}" } } }
${toys ? `      /toys/{toyId}: { GET: { integration: { type: HTTP_PROXY, uri: "${backend}/toys/{toyId}" } } }\n` : ''}    stages:
      prod: { cacheClusterEnabled: true, methodSettings: { "*/*": { cacheTtlInSeconds: ${ttl} } } }
      dev: { cacheClusterEnabled: true, cacheClusterSize: "${devSize}" }
`;
}

describe('SIGHUP reloads the config file', () => {
  let backend: CountingBackend;
  let child: ChildProcess;
  let output = '';
  let dataUrl = '';
  const file = join(dir, 'cachegate.yaml');

  /** Waits until the process has logged `pattern` `count` times in all. */
  const logged = (pattern: RegExp, count: number) => new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if ((output.match(new RegExp(pattern, 'g')) ?? []).length >= count) return resolve();
      if (Date.now() - started > 10_000) return reject(new Error(`not logged: ${pattern}\n${output}`));
      setTimeout(check, 20);
    };
    check();
  });
  const cacheStatus = async (path: string) => (await call(`${dataUrl}${path}`)).headers['cache-status'];

  before(async () => {
    backend = await startBackend();
    writeFileSync(file, configText(backend.url));
    child = spawn(process.execPath, [BIN, 'start', '--config', file, '--log-level', 'info'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await logged(/serving .* on http/, 1);
    dataUrl = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
  });
  after(async () => {
    const exit = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exit;
    await backend.close();
  });

  it('a valid edit: the unchanged stage keeps its entry (hit), the new resource appears, the resized stage starts over', async () => {
    await call(`${dataUrl}/prod/pets/1`);
    await call(`${dataUrl}/dev/pets/1`);
    assert.match(String(await cacheStatus('/prod/pets/1')), /hit/);
    assert.match(String(await cacheStatus('/dev/pets/1')), /hit/);
    assert.equal((await call(`${dataUrl}/prod/toys/1`)).status, 404);

    writeFileSync(file, configText(backend.url, { toys: true, devSize: '1.6' }));
    child.kill('SIGHUP');
    await logged(/config reloaded/, 1);

    const calls = backend.calls;
    assert.match(String(await cacheStatus('/prod/pets/1')), /hit/, 'the unchanged stage lost its cache');
    assert.equal(backend.calls, calls);
    assert.match(String(await cacheStatus('/dev/pets/1')), /fwd=/, 'a new cache size is a new, empty cache (SPEC §5)');
    const toys = await call(`${dataUrl}/prod/toys/1`);
    assert.equal(toys.status, 200);
    assert.equal(toys.json().path, '/toys/1');
  });

  it('an invalid edit: the running config stays, traffic is as it was, the errors are in the log', async () => {
    writeFileSync(file, configText(backend.url, { toys: false, ttl: 4000 }));
    child.kill('SIGHUP');
    await logged(/config not reloaded/, 1);
    assert.match(output, /cacheTtlInSeconds: must be 0\.\.3600, got 4000/);
    assert.match(String(await cacheStatus('/prod/pets/1')), /hit/);
    assert.equal((await call(`${dataUrl}/prod/toys/1`)).status, 200, 'the invalid file removed a resource');
  });

  it('a file that cannot be parsed is refused the same way, and the process keeps serving', async () => {
    writeFileSync(file, 'apis: [ {');
    child.kill('SIGHUP');
    await logged(/config not reloaded/, 2);
    assert.equal((await call(`${dataUrl}/prod/pets/1`)).status, 200);
    assert.equal(child.exitCode, null);
  });
});
