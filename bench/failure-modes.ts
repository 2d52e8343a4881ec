/**
 * `npm run bench:failures` (or `node dist/bench/failure-modes.js`): what a failure costs, against
 * the same load with caching off (issue 13). The gateway runs in its own process
 * (failure-gateway.ts); the backend answers /k/{n} after 20 ms and /cookie/{n} after 200 ms with
 * Set-Cookie (never storable). Prints a Markdown table.
 *
 * 1. Slowest of 30 concurrent requests to one unshareable key, cached stage vs uncached stage.
 * 2. Redis down (SIGKILL) and hung (SIGSTOP): one hot key under wrk, req/s vs caching off.
 * 3. A 3-master Redis Cluster with one master killed: 1,000 keys under wrk, req/s vs caching off.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { RedisCluster, RedisServer } from '../test/helpers/redis.js';
import { benchBody } from './backend-body.js';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 3);
/** Runs per figure, cache on and off interleaved (A B A B …); the median is reported (a shared machine is noisy). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const BACKEND_MS = 20;
const COOKIE_MS = 200;
const DIST_DIR = fileURLToPath(new URL('./', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url));

function startBackend(): Promise<{ port: number; close: () => void }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/cookie/')) {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': `s=${Math.random()}` }).end('private'), COOKIE_MS);
      return;
    }
    const body = benchBody(url);
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body), BACKEND_MS);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as { port: number }).port,
    close: () => { server.close(); server.closeAllConnections(); },
  })));
}

function startGateway(backendPort: number, store: Record<string, unknown>): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(DIST_DIR, 'failure-gateway.js'), `127.0.0.1:${backendPort}`, JSON.stringify(store)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = /ready (\d+)\n/.exec(output);
      if (line) resolve({ port: Number(line[1]), child });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
}

function stopGateway(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

interface Load { rps: number; p99: string; errors: number }

/** wrk, run asynchronously: the backend lives in this process and must keep answering. */
async function wrk(url: string, keys?: { prefix: string; count: number }): Promise<Load> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION_S}s`, '--latency'];
  if (keys) args.push('-s', join(BENCH_DIR, 'random-keys.lua'), url, '--', keys.prefix, String(keys.count));
  else args.push(url);
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  await new Promise((resolve) => child.once('exit', resolve));
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?', errors };
}

/** Cache on vs off under the same load, interleaved; medians by req/s. */
async function compare(on: string, off: string, keys?: (stage: string) => { prefix: string; count: number }): Promise<[Load, Load]> {
  const ons: Load[] = [];
  const offs: Load[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    ons.push(await wrk(on, keys?.('prod')));
    offs.push(await wrk(off, keys?.('dev')));
  }
  const median = (list: Load[]) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)]!;
  return [{ ...median(ons), errors: ons.reduce((sum, load) => sum + load.errors, 0) }, { ...median(offs), errors: offs.reduce((sum, load) => sum + load.errors, 0) }];
}

async function get(url: string): Promise<void> {
  await (await request(url)).body.dump();
}

async function slowestOf30(url: string): Promise<number> {
  const times = await Promise.all(Array.from({ length: 30 }, async () => {
    const started = performance.now();
    await get(url);
    return performance.now() - started;
  }));
  return Math.max(...times);
}

const rows: string[] = [];
const row = (...cells: (string | number)[]) => rows.push(`| ${cells.join(' | ')} |`);
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '?');

const backend = await startBackend();
try {
  // 1. Unshareable key: slowest of 30 concurrent (median of 3 bursts, a fresh key each).
  {
    const { port, child } = await startGateway(backend.port, { type: 'memory' });
    const cached: number[] = [];
    const uncached: number[] = [];
    for (let i = 0; i < 3; i++) {
      uncached.push(await slowestOf30(`http://127.0.0.1:${port}/dev/cookie/${i}`));
      cached.push(await slowestOf30(`http://127.0.0.1:${port}/prod/cookie/${i}`));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
    row('30 concurrent Set-Cookie requests (200 ms backend): slowest', `${median(cached).toFixed(0)} ms`, `${median(uncached).toFixed(0)} ms`, ratio(median(cached), median(uncached)));
    await stopGateway(child);
  }

  // 2. Standalone Redis killed, then hung: one hot key.
  for (const failure of ['SIGKILL', 'SIGSTOP'] as const) {
    const redis = await RedisServer.start();
    const { port, child } = await startGateway(backend.port, { type: 'redis', url: redis.url });
    await get(`http://127.0.0.1:${port}/prod/k/1`);
    if (failure === 'SIGKILL') await redis.kill();
    else redis.pause();
    const [down, off] = await compare(`http://127.0.0.1:${port}/prod/k/1`, `http://127.0.0.1:${port}/dev/k/1`);
    row(`Redis ${failure === 'SIGKILL' ? 'down (SIGKILL)' : 'hung (SIGSTOP)'}, one hot key: req/s (p99)`, `${down.rps.toFixed(0)} (${down.p99}, ${down.errors} errors)`, `${off.rps.toFixed(0)} (${off.p99}, ${off.errors} errors)`, ratio(down.rps, off.rps));
    await stopGateway(child);
    await redis.stop();
  }

  // 3. Cluster, one master killed: 1,000 keys, warmed first.
  {
    const cluster = await RedisCluster.start({ partialCoverage: true });
    const { port, child } = await startGateway(backend.port, { type: 'redis-cluster', nodes: cluster.nodes });
    for (let i = 1; i <= 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => get(`http://127.0.0.1:${port}/prod/k/${i + j}`)));
    const url = `http://127.0.0.1:${port}`;
    const keys = (stage: string) => ({ prefix: `/${stage}/k/`, count: 1000 });
    const [healthy, offBefore] = await compare(url, url, keys);
    row('Cluster, all 3 masters up, 1,000 keys: req/s (p99)', `${healthy.rps.toFixed(0)} (${healthy.p99}, ${healthy.errors} errors)`, `${offBefore.rps.toFixed(0)} (${offBefore.p99})`, ratio(healthy.rps, offBefore.rps));
    await cluster.servers[0]!.kill();
    const [down, off] = await compare(url, url, keys);
    row('Cluster, 1 of 3 masters killed, 1,000 keys: req/s (p99)', `${down.rps.toFixed(0)} (${down.p99}, ${down.errors} errors)`, `${off.rps.toFixed(0)} (${off.p99}, ${off.errors} errors)`, ratio(down.rps, off.rps));
    await stopGateway(child);
    await cluster.stop();
  }
} finally {
  backend.close();
}

process.stdout.write([
  `wrk -c${CONNECTIONS} -d${DURATION_S}s, ${ROUNDS} interleaved runs each (median), load average ${loadavg().map((n) => n.toFixed(1)).join(' ')}; backend ${BACKEND_MS} ms (/k), ${COOKIE_MS} ms with Set-Cookie (/cookie); store.timeoutMs 50 (default)`,
  '',
  '| scenario | cache on | caching off (uncached stage) | on / off |',
  '|---|---|---|---|',
  ...rows,
  '',
].join('\n'));
process.exit(0);
