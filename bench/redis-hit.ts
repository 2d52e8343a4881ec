/**
 * The Redis store's hot-key hit against the memory store's (issue 17), in a few minutes rather than
 * the whole `npm run bench`: one backend, one redis-server, cachegate with the memory store and
 * with the Redis store, loaded in turn with wrk (A B A B …), medians of req/s and of the CPU per
 * request of cachegate AND of redis-server (a hit's cost is both). `--base DIR` adds the Redis
 * store of another build (a `dist/` of the baseline, e.g. copied to bench/.work/base-dist) to the
 * rotation, for an A/B of a change.
 *
 * `--keys N` spreads the load uniformly over N keys (all filled first) instead of one hot key.
 *
 *   npx tsc -p . && node dist/bench/redis-hit.js [--rounds 5] [--seconds 2] [--keys 10000] [--local] [--base bench/.work/base-dist]
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { cpuTicks, freePort, median, startNode, startRedis, wrk, type Server } from './harness.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const ROUNDS = Number(option('rounds', '5'));
const SECONDS = Number(option('seconds', '2'));
const BASE = args.includes('--base') ? resolve(option('base', '')) : undefined;
const DIST_DIR = fileURLToPath(new URL('./', import.meta.url));
const BENCH_DIR = resolve(fileURLToPath(new URL('../../bench/', import.meta.url)));
const KEYS = Number(option('keys', '1'));
const PATH = '/prod/k/1';
const SCRIPT = KEYS > 1 ? { file: join(BENCH_DIR, 'random-keys.lua'), args: ['/prod/k/', String(KEYS)] } : undefined;

/** Requests every key once (50 at a time), so the measured runs are all hits. */
async function fill(port: number): Promise<void> {
  let next = 1;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next <= KEYS) await (await request(`http://127.0.0.1:${port}/prod/k/${next++}`)).body.dump();
  }));
}

interface Sample { rps: number; gatewayUs: number; redisUs: number; errors: number }

async function main(): Promise<void> {
  const backend = await startNode('backend', join(DIST_DIR, 'backend.js'), ['0', '2']);
  const redis = await startRedis(await freePort());
  const backendAt = `127.0.0.1:${backend.port}`;
  const servers: Server[] = [
    await startNode('memory', join(DIST_DIR, 'cachegate-server.js'), ['0', backendAt]),
    await startNode('redis', join(DIST_DIR, 'cachegate-server.js'), ['0', backendAt, '0', 'warn', redis.url]),
  ];
  if (args.includes('--local')) servers.push(await startNode('redis, localCacheMs 1000', join(DIST_DIR, 'cachegate-server.js'), ['0', backendAt, '0', 'warn', redis.url, '1000']));
  // --variant NAME=VALUE (repeatable): the Redis store once more, with that environment variable set.
  for (const [at, arg] of args.entries()) {
    if (arg !== '--variant') continue;
    const [name, value = ''] = args[at + 1]!.split('=');
    servers.push(await startNode(`redis (${name}=${value})`, join(DIST_DIR, 'cachegate-server.js'), ['0', backendAt, '0', 'warn', redis.url], { [name!]: value }));
  }
  if (BASE) servers.push(await startNode('redis (base build)', join(BASE, 'bench', 'cachegate-server.js'), ['0', backendAt, '0', 'warn', redis.url]));
  const stopAll = (): void => {
    for (const server of [backend, ...servers]) server.stop();
    redis.stop();
  };
  process.once('exit', stopAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

  const samples = new Map<string, Sample[]>();
  for (const server of servers) {
    await fill(server.port);
    wrk(`http://127.0.0.1:${server.port}${PATH}`, 1, SCRIPT); // warm up
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers) {
      const before = cpuTicks([server.pid(), redis.pid]);
      const run = wrk(`http://127.0.0.1:${server.port}${PATH}`, SECONDS, SCRIPT);
      const after = cpuTicks([server.pid(), redis.pid]);
      const perRequest = (ticks: number): number => (run.requests > 0 ? (ticks * 1e6) / run.requests : NaN);
      const sample = { rps: run.rps, errors: run.errors, gatewayUs: perRequest(after[0]! - before[0]!), redisUs: perRequest(after[1]! - before[1]!) };
      samples.set(server.name, [...(samples.get(server.name) ?? []), sample]);
      process.stderr.write(`${server.name} | ${sample.rps.toFixed(0)} req/s | ${sample.gatewayUs.toFixed(1)} + ${sample.redisUs.toFixed(1)} µs/req\n`);
    }
  }

  const memory = median(samples.get('memory')!.map((s) => s.rps));
  const lines = [
    `${KEYS > 1 ? `${KEYS} keys uniform` : 'hot key'}, 1 KB, wrk -t1 -c50 -d${SECONDS}s, ${ROUNDS} interleaved rounds, medians`,
    '',
    '| server | req/s | vs memory | cachegate CPU µs/req | redis-server CPU µs/req | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...[...samples].map(([name, list]) => {
      const rps = median(list.map((s) => s.rps));
      return `| ${name} | ${rps.toFixed(0)} | ${(rps / memory).toFixed(2)} | ${median(list.map((s) => s.gatewayUs)).toFixed(1)} | ${name === 'memory' ? '—' : median(list.map((s) => s.redisUs)).toFixed(1)} | ${list.reduce((sum, s) => sum + s.errors, 0)} |`;
    }),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  stopAll();
}

await main();
