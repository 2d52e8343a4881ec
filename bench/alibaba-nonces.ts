/**
 * `node dist/bench/alibaba-nonces.js [--seconds 65] [--connections 16]`: issue 13 defect 5's
 * throughput claim, measured. One app sends signed requests with a fresh nonce each (what the SDKs
 * do) to a cachegate process (`cachegate start`, its own process) serving a caching plug-in's
 * hits; the req/s of the first second is compared with the req/s after 60 s of fresh nonces, when
 * every nonce of the window is on record (the old check walked them all on every request).
 * Prints one line per second and a summary; exits 1 if the late rate falls below half the early one
 * (seconds 2-6: the first second also holds start-up). `--no-nonce-limit` leaves out the
 * `nonceLimit` key, to measure a build from before it existed.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const SECONDS = option('seconds', 65);
const CONNECTIONS = option('connections', 16);
const LATE_FROM = Math.min(60, SECONDS - 5);
const BIN = fileURLToPath(new URL('../../bin/cachegate.js', import.meta.url));
const APP = { id: '1001', appKey: 'bench-key', appSecret: 'bench-secret' };

function signedHeaders(path: string): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'x-ca-key': APP.appKey,
    'x-ca-nonce': randomUUID(),
    'x-ca-stage': 'RELEASE',
    'x-ca-timestamp': String(Date.now()),
  };
  const names = ['x-ca-key', 'x-ca-nonce', 'x-ca-stage', 'x-ca-timestamp'];
  headers['x-ca-signature-headers'] = names.join(',');
  const toSign = `GET\n${headers.accept}\n\n\n\n${names.map((name) => `${name}:${headers[name]}\n`).join('')}${path}`;
  headers['x-ca-signature'] = createHmac('sha256', APP.appSecret).update(toSign).digest('base64');
  return headers;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-nonce-bench-'));
  const config = join(dir, 'cachegate.yaml');
  writeFileSync(config, `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apps: [{ id: "${APP.id}", appKey: ${APP.appKey}, appSecret: ${APP.appSecret}${args.includes('--no-nonce-limit') ? '' : ', nonceLimit: 10000000'} }]
cachePlugins: { hits: { duration: 3600 } }
apis:
  - id: bench
    resources:
      /items: { GET: { cachePlugin: hits, integration: { type: MOCK, statusCode: 200, headers: { content-type: application/json }, body: '{"ok":true}' } } }
    stages: { prod: {} }
`);
  const gateway = spawn(process.execPath, [BIN, 'start', '--config', config, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dataUrl = await new Promise<string>((resolve, reject) => {
    let output = '';
    gateway.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = /on (http:\/\/[\d.:]+) \(admin/.exec(output);
      if (match) resolve(match[1]!);
    });
    gateway.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${output}`)));
  });
  const dispatcher = new Agent({ connections: CONNECTIONS, pipelining: 1 });
  const path = '/prod/items';
  const perSecond: number[] = [];
  let count = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  const ticker = setInterval(() => {
    perSecond.push(count);
    process.stdout.write(`second ${perSecond.length}: ${count} req/s${errors ? `, ${errors} errors` : ''}\n`);
    count = 0;
  }, 1000);
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < deadline) {
      const answer = await request(`${dataUrl}${path}`, { dispatcher, headers: signedHeaders(path) });
      await answer.body.dump();
      if (answer.statusCode === 200) count++;
      else errors++;
    }
  }));
  clearInterval(ticker);
  gateway.kill('SIGTERM');
  await dispatcher.close();
  const first = perSecond[0] ?? 0;
  const early = Math.round(perSecond.slice(1, 6).reduce((sum, n) => sum + n, 0) / 5);
  const late = perSecond.slice(LATE_FROM, LATE_FROM + 5);
  const lateRate = Math.round(late.reduce((sum, n) => sum + n, 0) / Math.max(1, late.length));
  const total = perSecond.reduce((sum, n) => sum + n, 0);
  process.stdout.write(`\nsigned requests with fresh nonces, ${CONNECTIONS} connections: first second ${first} req/s, seconds 2-6 ${early} req/s; seconds ${LATE_FROM + 1}-${LATE_FROM + late.length} ${lateRate} req/s (${(lateRate / Math.max(1, early)).toFixed(2)}x of seconds 2-6); ${total} nonces on record at the end; ${errors} non-200\n`);
  process.exitCode = errors > 0 || lateRate < early / 2 ? 1 : 0;
}

void main();
