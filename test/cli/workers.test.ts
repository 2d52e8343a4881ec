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

describe('cachegate start --workers 2 (memory store, threads)', () => {
  it('serves from two threads sharing one store: one fill per key, a flush seen by both, /metrics over both, clean stop', async () => {
    const backend = await startBackend();
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-workers-'));
    const config = join(dir, 'cachegate.yaml');
    writeFileSync(config, `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
identities: [{ name: ops, apiKey: ops-api-key-1, policy: [{ effect: Allow, action: "apigateway:*", resource: "*" }] }]
apis:
  - id: api
    resources:
      /x/{id}: { GET: { requestParameters: [method.request.path.id], cacheKeyParameters: [method.request.path.id], integration: { type: HTTP_PROXY, uri: "${backend.url}/x/{id}" } } }
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
      // A new connection per request: the kernel hands them to whichever thread accepts first.
      const fresh = (id: number) => call(`${dataUrl}/prod/x/${id}`, { headers: { connection: 'close' } });
      const keys = [1, 2, 3, 4, 5];
      for (const id of keys) await fresh(id);
      const filled = backend.calls;
      assert.equal(filled, keys.length, 'one backend call per key');
      const answers = await Promise.all(keys.flatMap((id) => Array.from({ length: 8 }, () => fresh(id))));
      assert.ok(answers.every((answer) => answer.status === 200));
      assert.equal(backend.calls, filled, 'every later request, on either thread, was a hit: one copy for both');
      const metrics = (await call(`${adminUrl}/metrics`, { headers: { connection: 'close' } })).text;
      const count = (name: string) => Number(new RegExp(`^${name}\\{.*\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
      assert.equal(count('cachegate_cache_hit_count_total') + count('cachegate_cache_miss_count_total'), 45, 'both threads counted');
      assert.equal(count('cachegate_cache_entries'), keys.length, 'the shared store is counted once, not per thread');
      const flushed = await call(`${adminUrl}/restapis/api/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': 'ops-api-key-1', connection: 'close' } });
      assert.equal(flushed.status, 202);
      // No wait: the flush is the shared store's, so it holds for both threads as soon as it is answered.
      const before = backend.calls;
      const after = await Promise.all(Array.from({ length: 8 }, () => fresh(1)));
      assert.ok(after.every((answer) => answer.status === 200));
      assert.ok(after.every((answer) => answer.json().call > before), 'no thread served a flushed entry');
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.once('exit', resolve));
      await backend.close();
      assert.equal(code, 0, output);
    }
  });
});
