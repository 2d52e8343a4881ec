/**
 * `npm run soak [-- --seconds 60 --connections 32 --budget-mib 16]`: a bounded load soak of the
 * stage cache (issue 7). wrk drives mixed traffic — hot keys (hits), a cold key space larger than
 * the cache budget (misses and LRU evictions), and `Cache-Control: max-age=0` refreshes — against a
 * gateway in its own process, in front of a backend whose every body names its key. Meanwhile a
 * checker samples the same traffic mix and verifies each body carries the key it asked for, and
 * the gateway's RSS is polled. Fails (exit 1) on any 5xx, any wrong body, or RSS above the cache
 * budget plus a fixed overhead. Prints a summary for the README's performance section.
 *
 * One file, three roles: the driver (default), `--role backend`, `--role gateway`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] !== undefined ? args[index + 1]! : fallback;
};

/** Keys 1..HOT_KEYS take most requests (hits); COLD_KEYS is far beyond what the budget holds. */
const HOT_KEYS = 2_000;
const COLD_KEYS = 1_000_000;
/** Body sizes vary 200 B – 4 KiB by key so that entries differ in size (LRU by bytes, not count). */
const bodySize = (key: number) => 200 + ((key * 2_654_435_761) % 3_897);
/**
 * RSS allowed beyond the cache budget, whatever the budget: the idle gateway (~90 MiB: Node, the
 * loaded modules), V8's heap headroom under 36 busy connections (heapTotal peaks ~120 MiB while
 * heapUsed stays ~50 MiB), socket and undici buffers. `--memory-log` shows the split.
 */
const FIXED_OVERHEAD_MIB = 256;

// ---------------------------------------------------------------------------------------------

async function runBackend(): Promise<void> {
  const server = createServer((req, res) => {
    const key = /^\/k\/(\d+)$/.exec(req.url ?? '')?.[1];
    if (!key) {
      res.writeHead(404).end();
      return;
    }
    const head = `{"key":"${key}","pad":"`;
    const body = head + 'x'.repeat(Math.max(0, bodySize(Number(key)) - head.length - 2)) + '"}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
}

async function runGateway(backend: string, budgetMiB: number): Promise<void> {
  const { validateConfig } = await import('../src/config/load.js');
  const { Gateway } = await import('../src/gateway/gateway.js');
  const { createLogger } = await import('../src/logging.js');
  const loaded = validateConfig({
    gateway: { listen: '127.0.0.1:0', admin: '127.0.0.1:0' },
    identities: [{ name: 'soak', apiKey: 'soak-api-key-0123456789', policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: '*' }] }],
    apis: [{
      id: 'soak',
      resources: { '/k/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `http://${backend}/k/{id}` } } } },
      stages: {
        prod: {
          cacheClusterEnabled: true,
          cacheCapacityBytes: budgetMiB * 2 ** 20,
          // Short TTL: hot keys expire and refill during the run; refreshes need no identity.
          methodSettings: { '*/*': { cacheTtlInSeconds: 10, requireAuthorizationForCacheControl: false } },
        },
      },
    }],
  }, { source: '<soak>', baseDir: process.cwd() });
  const gateway = await Gateway.start(loaded, { logger: createLogger('warn') });
  const ports = [gateway.dataUrl, gateway.adminUrl].map((url) => new URL(url).port);
  process.stdout.write(`ready ${ports.join(' ')}\n`);
  if (args.includes('--memory-log')) {
    // Where the RSS goes: V8 heap vs Buffers (entry bodies live outside the heap).
    setInterval(() => {
      const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
      const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
      process.stderr.write(`memory rss=${mib(rss)} heapUsed=${mib(heapUsed)} heapTotal=${mib(heapTotal)} external=${mib(external)} arrayBuffers=${mib(arrayBuffers)} MiB\n`);
    }, 5_000).unref();
  }
  process.once('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------

interface Child { process: ChildProcess; ports: number[] }

function startRole(name: string, extra: string[]): Promise<Child> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', name, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = /ready ([^\n]*)\n/.exec(output);
      if (line) resolve({ process: child, ports: line[1]!.split(' ').map(Number) });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** 75% hot keys, 20% cold keys, 5% refreshes (`Cache-Control: max-age=0`) of hot keys. */
function pick(random: () => number): { key: number; refresh: boolean } {
  const roll = random();
  if (roll < 0.75) return { key: 1 + Math.floor(random() * HOT_KEYS), refresh: false };
  if (roll < 0.95) return { key: 1 + Math.floor(random() * COLD_KEYS), refresh: false };
  return { key: 1 + Math.floor(random() * HOT_KEYS), refresh: true };
}

const WRK_SCRIPT = `
-- The soak mix (same shares as the checker): 75% hot, 20% cold, 5% refresh of a hot key.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + tonumber(args[1] or 0))
  s2xx, s5xx, sother = 0, 0, 0
end
function request()
  local roll = math.random()
  if roll < 0.75 then return wrk.format("GET", "/prod/k/" .. math.random(1, ${HOT_KEYS})) end
  if roll < 0.95 then return wrk.format("GET", "/prod/k/" .. math.random(1, ${COLD_KEYS})) end
  return wrk.format("GET", "/prod/k/" .. math.random(1, ${HOT_KEYS}), { ["Cache-Control"] = "max-age=0" })
end
function response(status, headers, body)
  if status >= 500 then s5xx = s5xx + 1 elseif status >= 200 and status < 300 then s2xx = s2xx + 1 else sother = sother + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s2xx"); b = b + t:get("s5xx"); c = c + t:get("sother") end
  io.write(string.format("SOAK requests=%d 2xx=%d 5xx=%d other=%d socket_errors=%d p50_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, a, b, c,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

async function drive(): Promise<void> {
  const seconds = Number(option('seconds', '60'));
  const connections = Number(option('connections', '32'));
  const budgetMiB = Number(option('budget-mib', '16'));
  const children: ChildProcess[] = [];
  process.once('exit', () => children.forEach((child) => child.kill('SIGTERM')));
  const backend = await startRole('backend', []);
  children.push(backend.process);
  const gateway = await startRole('gateway', ['--backend', `127.0.0.1:${backend.ports[0]}`, '--budget-mib', String(budgetMiB), ...(args.includes('--memory-log') ? ['--memory-log'] : [])]);
  children.push(gateway.process);
  const [dataPort, adminPort] = gateway.ports as [number, number];
  const pid = gateway.process.pid!;
  const startRss = rssMiB(pid);

  let maxRss = startRss;
  const poll = setInterval(() => (maxRss = Math.max(maxRss, rssMiB(pid))), 250);

  const dir = mkdtempSync(join(tmpdir(), 'cachegate-soak-'));
  writeFileSync(join(dir, 'soak.lua'), WRK_SCRIPT);
  const wrk = spawn('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', '-s', join(dir, 'soak.lua'), `http://127.0.0.1:${dataPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let wrkOutput = '';
  wrk.stdout!.on('data', (chunk: Buffer) => (wrkOutput += chunk));
  const wrkDone = new Promise<void>((resolve, reject) => {
    wrk.once('error', reject);
    wrk.once('exit', () => resolve());
  });

  // The checker: its own connections, the same mix, every body checked against its key.
  const checked = { total: 0, wrong: 0, server: 0, hits: 0, examples: [] as string[] };
  const agent = new Agent({ connections: 4 });
  let running = true;
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const checker = async () => {
    while (running) {
      const { key, refresh } = pick(random);
      try {
        const response = await request(`http://127.0.0.1:${dataPort}/prod/k/${key}`, { dispatcher: agent, headers: refresh ? { 'cache-control': 'max-age=0' } : {} });
        const body = await response.body.text();
        checked.total++;
        if (response.statusCode >= 500) checked.server++;
        if (/hit/.test(String(response.headers['cache-status']))) checked.hits++;
        const named = /^\{"key":"(\d+)"/.exec(body)?.[1];
        if (response.statusCode !== 200 || named !== String(key) || body.length !== bodySize(key)) {
          checked.wrong++;
          if (checked.examples.length < 5) checked.examples.push(`${key}: ${response.statusCode} ${body.slice(0, 40)}`);
        }
      } catch (error) {
        checked.wrong++;
        if (checked.examples.length < 5) checked.examples.push(`${key}: ${(error as Error).message}`);
      }
    }
  };
  const checkers = Array.from({ length: 4 }, checker);
  await wrkDone;
  running = false;
  await Promise.all(checkers);
  clearInterval(poll);
  maxRss = Math.max(maxRss, rssMiB(pid));
  const endRss = rssMiB(pid);

  const metricsText = await request(`http://127.0.0.1:${adminPort}/metrics`).then((response) => response.body.text());
  const metric = (name: string) => metricsText.split('\n').filter((line) => line.startsWith(name)).reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  const hits = metric('cachegate_cache_hit_count_total');
  const misses = metric('cachegate_cache_miss_count_total');
  const cacheBytes = metric('cachegate_cache_bytes');
  const evictions = metric('cachegate_cache_evictions_total');
  const invalidations = metric('cachegate_cache_invalidations_total');

  await agent.close();
  gateway.process.kill('SIGTERM');
  backend.process.kill('SIGTERM');

  const line = /SOAK ([^\n]*)/.exec(wrkOutput)?.[1];
  if (!line) {
    process.stderr.write(`wrk printed no summary:\n${wrkOutput}\n`);
    process.exit(1);
  }
  const w = Object.fromEntries(line.split(' ').map((pair) => pair.split('=') as [string, string]).map(([k, v]) => [k, Number(v)]));
  const rssLimit = budgetMiB + FIXED_OVERHEAD_MIB;
  const failures = [
    w['5xx']! > 0 && `${w['5xx']} 5xx answers under wrk`,
    w.other! > 0 && `${w.other} non-2xx answers under wrk`,
    w.socket_errors! > 0 && `${w.socket_errors} socket errors under wrk`,
    checked.server > 0 && `${checked.server} 5xx answers to the checker`,
    checked.wrong > 0 && `${checked.wrong} wrong bodies (${checked.examples.join('; ')})`,
    checked.total === 0 && 'the checker made no request',
    maxRss > rssLimit && `RSS peaked at ${maxRss.toFixed(0)} MiB, over ${rssLimit} MiB`,
    cacheBytes > budgetMiB * 2 ** 20 && `cachegate_cache_bytes ${cacheBytes} over the budget`,
  ].filter((failure): failure is string => typeof failure === 'string');

  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  const summary = [
    `cachegate soak: ${seconds} s, wrk 1 thread × ${connections} connections + 4 checker connections, ${HOT_KEYS} hot / ${COLD_KEYS.toLocaleString('en')} cold keys, 5% refreshes, TTL 10 s`,
    `  requests      ${w.requests!.toLocaleString('en')} (${Math.round(w.requests! / seconds).toLocaleString('en')}/s), 2xx ${w['2xx']!.toLocaleString('en')}, 5xx ${w['5xx']}, other ${w.other}, socket errors ${w.socket_errors}`,
    `  latency       p50 ${(w.p50_us! / 1000).toFixed(2)} ms, p99 ${(w.p99_us! / 1000).toFixed(2)} ms, max ${(w.max_us! / 1000).toFixed(1)} ms`,
    `  cache         hits ${hits.toLocaleString('en')}, misses ${misses.toLocaleString('en')} (hit ratio ${(100 * hits / Math.max(1, hits + misses)).toFixed(1)}%), evictions ${evictions.toLocaleString('en')}, refreshes ${invalidations.toLocaleString('en')}, ${mib(cacheBytes)} MiB held of ${budgetMiB} MiB`,
    `  checker       ${checked.total.toLocaleString('en')} bodies checked against their key, ${checked.wrong} wrong, ${checked.server} 5xx`,
    `  gateway RSS   ${startRss.toFixed(0)} MiB at start, ${maxRss.toFixed(0)} MiB peak, ${endRss.toFixed(0)} MiB at end; limit ${budgetMiB} MiB budget + ${FIXED_OVERHEAD_MIB} MiB = ${rssLimit} MiB`,
    failures.length ? `  FAILED        ${failures.join('; ')}` : '  result        PASS: zero 5xx, zero wrong bodies, RSS under budget + overhead',
  ];
  process.stdout.write(`${summary.join('\n')}\n`);
  process.exit(failures.length ? 1 : 0);
}

// Last, once every constant above is initialised.
const role = option('role', 'driver');
if (role === 'backend') await runBackend();
else if (role === 'gateway') await runGateway(option('backend', ''), Number(option('budget-mib', '16')));
else await drive();
