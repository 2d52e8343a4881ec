/**
 * `--workers 2` with the memory store: the threads share one bucket per limit (issue 17,
 * gateway/throttle-shared.ts), so the process admits exactly the limit, whichever thread each
 * connection lands on — not twice it, nor a per-thread share; SIGHUP reaches every thread and
 * new limits take effect on all of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { call } from '../helpers/http.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));

describe('cachegate start --workers 2: shared throttling and reload', () => {
  it('the two threads together admit exactly the burst; a SIGHUP reload with a new limit reaches both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-workers-throttle-'));
    const config = join(dir, 'cachegate.yaml');
    const text = (burst: number, extra = '') => `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apis:
  - id: api
    resources:
      /x: { GET: { integration: { type: MOCK, body: x } } }
${extra}    stages: { prod: { methodSettings: { "*/*": { throttlingRateLimit: 0.001, throttlingBurstLimit: ${burst} } } } }
`;
    writeFileSync(config, text(4));
    const child = spawn(process.execPath, [BIN, 'start', '--config', config, '--workers', '2', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const waitFor = (pattern: RegExp, count = 1) => new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => (output.match(new RegExp(pattern, 'g')) ?? []).length >= count && (clearInterval(timer), resolve()), 50);
      child.once('exit', (code) => (clearInterval(timer), reject(new Error(`exited ${code}: ${output}`))));
    });
    try {
      await waitFor(/2 workers/);
      const [, dataUrl] = /on (http:\/\/[\d.:]+) \(admin/.exec(output)!;
      // Fresh connections, all at once: the kernel hands them to whichever thread accepts first, so both take tokens.
      const burstOf = async (path: string, count: number) => {
        const answers = await Promise.all(Array.from({ length: count }, () => call(`${dataUrl}${path}`, { headers: { connection: 'close' } })));
        const statuses = answers.map((answer) => answer.status);
        assert.ok(statuses.every((status) => status === 200 || status === 429), `${statuses}`);
        return statuses.filter((status) => status === 200).length;
      };
      // One bucket of 4 for both threads (each holding 4 would admit up to 8; a per-thread share of 2 only 2 on one thread).
      assert.equal(await burstOf('/prod/x', 10), 4);

      // New limits on reload: a new, full bucket of 1 — one request in all, not one per thread.
      writeFileSync(config, text(1, '      /y: { GET: { integration: { type: MOCK, body: y } } }\n'));
      child.kill('SIGHUP');
      await waitFor(/config reloaded/, 2);
      assert.equal(await burstOf('/prod/x', 10), 1);
      // Every thread serves the new route (a 404 would be a thread that missed the reload), under its own bucket of 1.
      const after = await Promise.all(Array.from({ length: 6 }, () => call(`${dataUrl}/prod/y`, { headers: { connection: 'close' } })));
      assert.deepEqual(after.map((answer) => answer.status).sort(), [200, 429, 429, 429, 429, 429], 'a worker missed the reload');
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, output);
    }
  });
});
