/**
 * `npm run bench [-- --quick]`: cachegate side by side with a bare node:http server writing the
 * same bytes (the Node limit), nginx proxy_cache and Varnish when installed, and the backend
 * direct — loaded with wrk, runs interleaved (A B A B …), medians reported, written to
 * bench/results.md. See ../shared/BENCH-NOTES.md for the method.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { CLOCK_TICKS_PER_S, cpuCounters, freePort, median, startNode as startServer, startRedis, stealBetween, treeCpuTicks, type Server } from './harness.js';

const quick = process.argv.includes('--quick');
const DURATION_S = quick ? 2 : 3;
const ROUNDS = quick ? 1 : 3;
const CONNECTIONS = 50;
const KEYS = 10_000;
/** The miss path's "realistic" backend: what a small function or an indexed database query takes. */
const SLOW_BACKEND_MS = 20;
const MISS_FAST = 'miss path, 0 ms backend';
const MISS_SLOW = `miss path, ${SLOW_BACKEND_MS} ms backend`;
const BENCH_DIR = resolve(fileURLToPath(new URL('../../bench/', import.meta.url)));
const DIST_DIR = fileURLToPath(new URL('./', import.meta.url));
const WORK = join(BENCH_DIR, '.work');

interface WrkResult { rps: number; p50: number; p99: number; errors: number; /** CPU time of the server's processes (all threads, user + system) per request; NaN when unknown. */ cpuUs: number }

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

async function startNginx(backendPort: number, workers: number, confFile = 'nginx.conf', name = `nginx proxy_cache (${workers} worker${workers > 1 ? 's' : ''})`): Promise<Server | undefined> {
  if (!has('nginx')) return undefined;
  const dir = join(WORK, `${confFile.replace('.conf', '')}-${workers}`);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const conf = readFileSync(join(BENCH_DIR, confFile), 'utf8').replaceAll('DIR', dir).replaceAll('BACKEND_PORT', String(backendPort)).replaceAll('PORT_', String(port)).replaceAll('WORKERS', String(workers));
  writeFileSync(join(dir, 'nginx.conf'), conf);
  spawnSync('rm', ['-rf', join(dir, 'cache')]);
  const started = spawnSync('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
  if (started.status !== 0) {
    process.stderr.write(`nginx did not start: ${started.stderr}\n`);
    return undefined;
  }
  await waitForPort(port);
  return { name, port, stop: () => spawnSync('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-s', 'stop']), pid: () => pidFromFile(join(dir, 'nginx.pid')) };
}

async function startVarnish(backendPort: number): Promise<Server | undefined> {
  if (!has('varnishd')) return undefined;
  const dir = join(WORK, 'varnish');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const vcl = readFileSync(join(BENCH_DIR, 'cache.vcl'), 'utf8').replaceAll('BACKEND_PORT', String(backendPort));
  writeFileSync(join(dir, 'cache.vcl'), vcl);
  const pidFile = join(dir, 'varnishd.pid');
  const started = spawnSync('varnishd', ['-a', `127.0.0.1:${port}`, '-f', join(dir, 'cache.vcl'), '-s', 'malloc,256M', '-n', dir, '-P', pidFile], { encoding: 'utf8' });
  if (started.status !== 0) {
    process.stderr.write(`varnishd did not start: ${started.stderr}\n`);
    return undefined;
  }
  await waitForPort(port);
  return { name: 'varnish (malloc)', port, stop: () => spawnSync('sh', ['-c', `kill $(cat ${pidFile})`]), pid: () => pidFromFile(pidFile) };
}

/** wrk, nginx, varnish and redis-server from Debian's packages when missing (root with apt-get only). */
function installMissingTools(): void {
  const wanted = [['wrk', 'wrk'], ['nginx', 'nginx-light'], ['varnishd', 'varnish'], ['redis-server', 'redis-server']].filter(([command]) => !has(command!));
  if (wanted.length === 0 || !has('apt-get') || process.getuid?.() !== 0) return;
  const packages = wanted.map(([, name]) => name!);
  process.stderr.write(`bench: installing ${packages.join(' ')} with apt-get\n`);
  if (spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}

/** cachegate through its CLI with `--workers N` (N threads sharing the off-heap memory store), on the bench API. */
async function startCachegateWorkers(backendPort: number, workers: number | 'auto'): Promise<Server> {
  const [port, admin] = [await freePort(), await freePort()];
  const config = join(WORK, `cachegate-workers-${workers}.yaml`);
  writeFileSync(config, [
    `gateway: { listen: "127.0.0.1:${port}", admin: "127.0.0.1:${admin}" }`,
    'apis:',
    '  - id: bench',
    '    resources:',
    `      /k/{id}: { GET: { integration: { type: HTTP_PROXY, uri: "http://127.0.0.1:${backendPort}/k/{id}" } } }`,
    `      /big/{id}: { GET: { integration: { type: HTTP_PROXY, uri: "http://127.0.0.1:${backendPort}/big/{id}" } } }`,
    '    stages: { prod: { cacheClusterEnabled: true, cacheCapacityBytes: 1073741824, methodSettings: { "*/*": { cacheTtlInSeconds: 3600 } } } }',
  ].join('\n'));
  const child = spawn(process.execPath, [join(DIST_DIR, '../../bin/cachegate.js'), 'start', '--config', config, '--workers', String(workers), '--log-level', 'warn'], { stdio: 'ignore' });
  await waitForPort(port);
  return { name: `cachegate --workers ${workers}`, port, process: child, stop: () => child.kill('SIGTERM'), pid: () => child.pid };
}

function pidFromFile(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** The bench's own servers (dist/bench/…). */
const startNode = (name: string, script: string, args: string[]) => startServer(name, join(DIST_DIR, script), args);

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await (await request(`http://127.0.0.1:${port}/`)).body.dump();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function wrk(server: Pick<Server, 'pid'>, url: string, script?: { prefix: string; keys: number; file?: string }, seconds = DURATION_S): WrkResult {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
  if (script) args.push('-s', join(BENCH_DIR, script.file ?? 'random-keys.lua'), url, '--', script.prefix, String(script.keys));
  else args.push(url);
  const ticksBefore = treeCpuTicks(server.pid());
  const out = spawnSync('wrk', args, { encoding: 'utf8' }).stdout;
  const ticks = treeCpuTicks(server.pid()) - ticksBefore;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const ms = (label: string) => {
    const match = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!match) return NaN;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), p50: ms('50'), p99: ms('99'), errors, cpuUs: requests > 0 ? (ticks / CLOCK_TICKS_PER_S) * 1e6 / requests : NaN };
}

async function backendCalls(port: number): Promise<number> {
  return Number(await (await request(`http://127.0.0.1:${port}/__calls`)).body.text());
}

/** Requests every path once (50 at a time) so the runs that follow are all hits. */
async function warm(port: number, paths: string[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < paths.length) await (await request(`http://127.0.0.1:${port}${paths[next++]}`)).body.dump();
  }));
}

interface Row { scenario: string; server: string; rps: number; p50: number; p99: number; errors: number; cpuUs: number }

/** One row from a server's runs: medians of each figure, errors summed. */
function summarize(scenario: string, server: string, list: WrkResult[]): Row {
  return {
    scenario, server, rps: median(list.map((r) => r.rps)), p50: median(list.map((r) => r.p50)), p99: median(list.map((r) => r.p99)),
    errors: list.reduce((a, r) => a + r.errors, 0), cpuUs: median(list.map((r) => r.cpuUs)),
  };
}

async function main(): Promise<void> {
  installMissingTools();
  if (!has('wrk')) {
    process.stderr.write('bench: wrk is not installed and could not be installed (apt-get install -y wrk)\n');
    process.exit(1);
  }
  mkdirSync(WORK, { recursive: true });
  const rows: Row[] = [];
  const backend = await startNode('backend (2 ms)', 'backend.js', ['0', '2']);
  const fastBackend = await startNode('backend direct (0 ms)', 'backend.js', ['0', '0']);
  const slowBackend = await startNode(`backend direct (${SLOW_BACKEND_MS} ms)`, 'backend.js', ['0', String(SLOW_BACKEND_MS)]);
  const bare = await startNode('bare node:http', 'bare.js', ['0']);
  const cachegate = await startNode('cachegate', 'cachegate-server.js', ['0', `127.0.0.1:${backend.port}`]);
  const cachegateMiss = await startNode('cachegate (cache off)', 'cachegate-server.js', ['0', `127.0.0.1:${fastBackend.port}`]);
  const cachegateMissSlow = await startNode('cachegate (cache off)', 'cachegate-server.js', ['0', `127.0.0.1:${slowBackend.port}`]);
  const bareProxy = await startNode('bare Node proxy (undici)', 'bare-proxy.js', ['0', `127.0.0.1:${fastBackend.port}`]);
  const workers1 = await startCachegateWorkers(backend.port, 1);
  const workers = await startCachegateWorkers(backend.port, 2);
  const workersAuto = await startCachegateWorkers(backend.port, 'auto');
  const redis = await (has('redis-server') ? startRedis(await freePort()) : undefined);
  const cachegateRedis = redis && { ...(await startNode('cachegate (Redis store)', 'cachegate-server.js', ['0', `127.0.0.1:${backend.port}`, '0', 'warn', redis.url])) };
  const cachegateRedisLocal = redis && { ...(await startNode('cachegate (Redis, localCacheMs 1000)', 'cachegate-server.js', ['0', `127.0.0.1:${backend.port}`, '0', 'warn', redis.url, '1000'])) };
  const nginx = await startNginx(backend.port, 1);
  const nginx2 = await startNginx(backend.port, 2);
  const varnish = await startVarnish(backend.port);
  const nginxProxy = await startNginx(fastBackend.port, 1, 'nginx-proxy.conf', 'nginx proxy_pass, no cache (1 worker)');
  const present = (...servers: (Server | undefined)[]) => servers.filter((s): s is Server => s !== undefined);
  const stopAll = () => {
    [backend, fastBackend, slowBackend, bare, cachegate, cachegateMiss, cachegateMissSlow, bareProxy, workers1, workers, workersAuto, cachegateRedis, cachegateRedisLocal, nginx, nginx2, varnish, nginxProxy].forEach((s) => s?.stop());
    redis?.stop();
  };
  process.once('exit', stopAll);
  // Ctrl-C (or a timeout's SIGTERM) ends Node without running 'exit' handlers, and nginx and
  // varnishd are daemons of their own: exit properly so stopAll stops them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const cpuAtStart = cpuCounters();

  try {
    const hitScenarios = [
      { name: 'hot key, 1 KB', paths: ['/prod/k/1'], target: '/prod/k/1', servers: present(bare, cachegate, workers1, workers, workersAuto, cachegateRedis, cachegateRedisLocal, nginx, nginx2, varnish) },
      { name: `${KEYS / 1000}k keys uniform, 1 KB`, paths: Array.from({ length: KEYS }, (_, i) => `/prod/k/${i + 1}`), script: { prefix: '/prod/k/', keys: KEYS }, servers: present(bare, cachegate, workers1, workers, cachegateRedis, nginx, varnish) },
      { name: 'hot key, 64 KB', paths: ['/prod/big/1'], target: '/prod/big/1', servers: present(bare, cachegate, nginx, varnish) },
      { name: 'invalidation-heavy (10% max-age=0, 100 keys)', paths: Array.from({ length: 100 }, (_, i) => `/prod/k/${i + 1}`), script: { prefix: '/prod/k/', keys: 100, file: 'invalidate-mix.lua' }, servers: [cachegate], refreshes: true },
    ];
    for (const scenario of hitScenarios) {
      const results = new Map<string, WrkResult[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const server of scenario.servers) {
          await warm(server.port, scenario.paths);
          const before = await backendCalls(backend.port);
          const result = scenario.script ? wrk(server, `http://127.0.0.1:${server.port}`, scenario.script) : wrk(server, `http://127.0.0.1:${server.port}${scenario.target}`);
          const during = (await backendCalls(backend.port)) - before;
          if (during > 0 && !scenario.refreshes) result.errors += during; // a "hit" run that reached the backend is not a hit run
          results.set(server.name, [...(results.get(server.name) ?? []), result]);
          process.stderr.write(`${scenario.name} | ${server.name} | ${result.rps.toFixed(0)} req/s\n`);
        }
      }
      for (const [server, list] of results) rows.push(summarize(scenario.name, server, list));
    }

    // Miss path: caching off vs the backend direct. With a 0 ms backend the proxy hop's CPU is the
    // whole story (references: the Node limit and nginx as plain proxies); with a backend that takes
    // SLOW_BACKEND_MS, as a function or a database does, the hop's cost is what a user sees.
    const missScenarios = [
      { name: MISS_FAST, servers: present(fastBackend, bareProxy, nginxProxy, cachegateMiss), path: (s: Server) => (s === fastBackend ? '/k/1' : '/dev/k/1') },
      { name: MISS_SLOW, servers: present(slowBackend, cachegateMissSlow), path: (s: Server) => (s === slowBackend ? '/k/1' : '/dev/k/1') },
    ];
    const label = (s: Server) => (s === fastBackend || s === slowBackend ? 'backend direct' : s.name);
    for (const scenario of missScenarios) {
      const miss = new Map<string, WrkResult[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const server of scenario.servers) {
          const result = wrk(server, `http://127.0.0.1:${server.port}${scenario.path(server)}`);
          miss.set(label(server), [...(miss.get(label(server)) ?? []), result]);
          process.stderr.write(`${scenario.name} | ${label(server)} | ${result.rps.toFixed(0)} req/s\n`);
        }
      }
      for (const [server, list] of miss) rows.push(summarize(scenario.name, server, list));
    }

    // Entries: hit latency at 1k and 1M entries; flush time of the 1M-entry stage.
    const entryRows: string[] = [];
    const entryStats: { count: number; p50: number; flushMs: number }[] = [];
    for (const count of quick ? [1000, 100_000] : [1000, 1_000_000]) {
      const server = await startNode(`cachegate ${count} entries`, 'cachegate-server.js', ['0', `127.0.0.1:${backend.port}`, String(count)]);
      const rss = Number(/rss=(\d+)/.exec(server.readyLine)?.[1]);
      const before = await backendCalls(backend.port);
      // A first, unmeasured second: the prefilled entries are promoted to the old generation then,
      // as in a gateway that has been running; every other scenario is warmed too.
      wrk(server, `http://127.0.0.1:${server.port}`, { prefix: '/prod/k/', keys: count }, 1);
      const result = wrk(server, `http://127.0.0.1:${server.port}`, { prefix: '/prod/k/', keys: count });
      const during = (await backendCalls(backend.port)) - before;
      const started = performance.now();
      const flush = await request(`http://127.0.0.1:${server.adminPort}/restapis/bench/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': 'bench-api-key' } });
      await flush.body.dump();
      const flushMs = performance.now() - started;
      server.stop();
      entryStats.push({ count, p50: result.p50, flushMs });
      entryRows.push(`| ${count.toLocaleString('en')} | ${result.rps.toFixed(0)} | ${result.p50.toFixed(2)} | ${result.p99.toFixed(2)} | ${(rss / count).toFixed(0)} | ${flushMs.toFixed(2)} (HTTP ${flush.statusCode}) | ${during} |`);
      process.stderr.write(`entries ${count} | ${result.rps.toFixed(0)} req/s | flush ${flushMs.toFixed(2)} ms\n`);
    }

    const byScenario = (scenario: string, server: string) => rows.find((r) => r.scenario === scenario && r.server === server);
    const cpuAtEnd = cpuCounters();
    const stolen = stealBetween(cpuAtStart, cpuAtEnd);
    const lines = [
      '# Benchmark results',
      '',
      `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s, ${ROUNDS} interleaved round(s), medians${quick ? ' (--quick)' : ''}.`,
      `Backend: Node, 1 KB / 64 KB JSON, 2 ms delay (0 ms and ${SLOW_BACKEND_MS} ms for the miss path). One process/worker unless the name says otherwise. cachegate runs with the access log off (log level warn), as nginx runs with access_log off. wrk shares the 2 cores.`,
      `CPU time taken by the hypervisor (steal) during the run: ${(stolen * 100).toFixed(0)}% — req/s swing with it; "CPU µs/req" (the server's own processes, user + system, per request) does much less, so it is the steadier figure for comparing servers.`,
      '',
      '## Targets',
      '',
      ...targets(byScenario, entryStats),
      '',
      '## All runs',
      '',
      '| scenario | server | req/s | p50 ms | p99 ms | vs reference | CPU µs/req | errors |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
      ...rows.map((row) => {
        const reference = byScenario(row.scenario, 'bare node:http') ?? byScenario(row.scenario, 'backend direct');
        return `| ${row.scenario} | ${row.server} | ${row.rps.toFixed(0)} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${reference ? (row.rps / reference.rps).toFixed(2) : ''} | ${Number.isNaN(row.cpuUs) ? '' : row.cpuUs.toFixed(1)} | ${row.errors} |`;
      }),
      '',
      '"vs reference": req/s against bare node:http for hits, against the backend direct for the miss path. "errors" counts non-2xx answers, socket errors, and backend calls during a run meant to be all hits.',
      '',
      '| entries | req/s (uniform keys) | p50 ms | p99 ms | RSS bytes / entry | flush of the stage, ms | backend calls |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...entryRows,
      '',
    ];
    writeFileSync(join(BENCH_DIR, 'results.md'), lines.join('\n'));
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    stopAll();
  }
}

/** The issue's targets as ratios from this run; a target whose servers did not run says so. */
const fmt = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(2));

function targets(find: (scenario: string, server: string) => Row | undefined, entries: { count: number; p50: number; flushMs: number }[]): string[] {
  const hot = 'hot key, 1 KB';
  const ratio = (a?: Row, b?: Row) => (a && b ? a.rps / b.rps : undefined);
  const line = (label: string, value: number | undefined, goal: string, met: (v: number) => boolean) =>
    `- ${label}: ${value === undefined ? 'not measured (server missing)' : `${value.toFixed(2)} — target ${goal}: ${met(value) ? 'met' : 'NOT met'}`}`;
  const hit = ratio(find(hot, 'cachegate'), find(hot, 'bare node:http'));
  const workers = ratio(find(hot, 'cachegate --workers 2'), find(hot, 'nginx proxy_cache (2 workers)'));
  const missLoss = ratio(find(MISS_SLOW, 'cachegate (cache off)'), find(MISS_SLOW, 'backend direct'));
  const missFast = ratio(find(MISS_FAST, 'cachegate (cache off)'), find(MISS_FAST, 'backend direct'));
  const missNodeLimit = ratio(find(MISS_FAST, 'cachegate (cache off)'), find(MISS_FAST, 'bare Node proxy (undici)'));
  const missNginx = ratio(find(MISS_FAST, 'nginx proxy_pass, no cache (1 worker)'), find(MISS_FAST, 'backend direct'));
  const cpu = (a?: Row, b?: Row) => (a && b && a.cpuUs > 0 ? b.cpuUs / a.cpuUs : undefined);
  const hitCpu = cpu(find(hot, 'cachegate'), find(hot, 'bare node:http'));
  const redis = ratio(find(hot, 'cachegate (Redis store)'), find(hot, 'cachegate'));
  const redisLocal = ratio(find(hot, 'cachegate (Redis, localCacheMs 1000)'), find(hot, 'cachegate'));
  const [small, large] = [entries[0], entries.at(-1)];
  return [
    line('hit path, 1 process, vs bare node:http writing the same bytes', hit, '≥ 0.90×', (v) => v >= 0.9),
    line('hit path, 2 workers, vs nginx proxy_cache with 2 workers', workers, '≥ 1.00×', (v) => v >= 1),
    line(`miss path (cache off) vs the backend direct, ${SLOW_BACKEND_MS} ms backend`, missLoss, '≥ 0.85× (≤ 15% loss)', (v) => v >= 0.85),
    `- miss path with a 0 ms backend (the proxy hop's CPU, on cores wrk and the backend share): cachegate ${fmt(missFast)}× of direct; nginx proxy_pass ${fmt(missNginx)}× of direct; cachegate ${fmt(missNodeLimit)}× of the bare Node proxy`,
    `- hit path, 1 process, by CPU per request (bare node:http µs ÷ cachegate µs; steal-resistant): ${fmt(hitCpu)}×`,
    line('hit path with the Redis store vs the memory store', redis, '≥ 0.50×', (v) => v >= 0.5),
    line('… with store.localCacheMs: 1000 (in-process copies, refreshes elsewhere seen within 1 s)', redisLocal, '≥ 0.50×', (v) => v >= 0.5),
    line(`hit p50 at ${large?.count.toLocaleString('en')} entries vs ${small?.count.toLocaleString('en')}`, small && large ? large.p50 / small.p50 : undefined, '≤ 1.10× (flat)', (v) => v <= 1.1),
    `- flush of a ${large?.count.toLocaleString('en')}-entry stage through the admin API: ${large?.flushMs.toFixed(2)} ms round trip (the store's flush itself is O(1))`,
  ];
}

await main();
