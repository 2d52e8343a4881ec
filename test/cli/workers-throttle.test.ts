/**
 * `--workers 2` with the memory store: each worker holds half of a throttling limit (README
 * decision), so the process group admits the limit, not twice it; SIGHUP reaches every worker.
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

describe('cachegate start --workers 2: throttling and reload', () => {
  it('the two workers together admit the burst once; a SIGHUP reload reaches both', async () => {
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
      // A new connection per request: the primary hands them to the workers in turn.
      const fresh = (path: string) => call(`${dataUrl}${path}`, { headers: { connection: 'close' } });
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await fresh('/prod/x')).status);
      const admitted = statuses.filter((status) => status === 200).length;
      // Each worker holds ceil(4/2) = 2 tokens: at most 4 in all (8 if each had the whole burst).
      assert.ok(admitted >= 2 && admitted <= 4, `admitted ${admitted}: ${statuses}`);
      assert.ok(statuses.every((status) => status === 200 || status === 429));

      writeFileSync(config, text(4, '      /y: { GET: { integration: { type: MOCK, body: y } } }\n'));
      child.kill('SIGHUP');
      await waitFor(/config reloaded/, 2);
      const after = await Promise.all(Array.from({ length: 4 }, () => fresh('/prod/y')));
      assert.ok(after.every((answer) => answer.status !== 404), 'a worker missed the reload');
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, output);
    }
  });
});
