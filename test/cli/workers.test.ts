import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));

describe('cachegate start --workers 2 (memory store)', () => {
  it('serves from two processes, relays a flush to both, aggregates /metrics, and stops cleanly', async () => {
    const backend = await startBackend();
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-workers-'));
    const config = join(dir, 'cachegate.yaml');
    writeFileSync(config, `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
identities: [{ name: ops, apiKey: ops-api-key-1, policy: [{ effect: Allow, action: "apigateway:*", resource: "*" }] }]
apis:
  - id: api
    resources:
      /x: { GET: { integration: { type: HTTP_PROXY, uri: "${backend.url}/x" } } }
    stages: { prod: { cacheClusterEnabled: true } }
`);
    const child = spawn(process.execPath, [BIN, 'start', '--config', config, '--workers', '2', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => /2 workers/.test(output) && (clearInterval(timer), resolve()), 50);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
      });
      const [, dataUrl, adminUrl] = /on (http:\/\/[\d.:]+) \(admin (http:\/\/[\d.:]+)\)/.exec(output)!;
      // A new connection per request: the primary hands them to the workers in turn.
      const fresh = () => call(`${dataUrl}/prod/x`, { headers: { connection: 'close' } });
      for (let i = 0; i < 6; i++) await fresh();
      assert.ok(backend.calls >= 1 && backend.calls <= 2, `one miss per worker at most, saw ${backend.calls}`);
      const metrics = (await call(`${adminUrl}/metrics`)).text;
      const count = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
      assert.equal(count('cachegate_cache_hit_count_total') + count('cachegate_cache_miss_count_total'), 6, 'both workers counted');
      const flushed = await call(`${adminUrl}/restapis/api/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': 'ops-api-key-1', connection: 'close' } });
      assert.equal(flushed.status, 202);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = backend.calls;
      const after = await Promise.all(Array.from({ length: 6 }, fresh));
      assert.ok(after.every((answer) => answer.status === 200));
      // Whichever worker answered, nothing stored before the flush was served after it.
      assert.ok(after.every((answer) => answer.json().call > before), 'no worker kept a flushed entry');
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.once('exit', resolve));
      await backend.close();
      assert.equal(code, 0, output);
    }
  });
});
