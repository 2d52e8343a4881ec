/**
 * `node dist/bench/hit-ab.js [--rounds 5] [--seconds 2] [--only hot,10k,64k] [NAME=DIST …]`:
 * the hit path of builds side by side — each NAME=DIST a compiled tree (`dist/` of another
 * checkout, copied aside before a change) whose bench/cachegate-server.js is started — with the
 * bare node:http server writing the same bytes. Runs are interleaved (bare A B bare A B …) so a
 * noisy neighbour hits every build alike; medians of req/s and of CPU µs per request (the
 * server's own process, user + system, from /proc) are printed with the steal during the runs.
 * Without NAME=DIST it compares this build with the bare server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { CLOCK_TICKS_PER_S, cpuCounters, median, stealBetween, treeCpuTicks } from './harness.js';

const DIST_DIR = resolve(fileURLToPath(new URL('../', import.meta.url)));
const BENCH_DIR = resolve(fileURLToPath(new URL('../../bench/', import.meta.url)));
const KEYS = 10_000;

interface Server { name: string; port: number; child: ChildProcess }
interface Run { rps: number; cpuUs: number }

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}

function start(name: string, script: string, args: string[]): Promise<Server> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = /ready (\d+)/.exec(output);
      if (line) resolve({ name, port: Number(line[1]), child });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

function wrk(server: Server, url: string, seconds: number, keys?: number): Run {
  const args = ['-t1', '-c50', `-d${seconds}s`];
  if (keys !== undefined) args.push('-s', join(BENCH_DIR, 'random-keys.lua'), url, '--', '/prod/k/', String(keys));
  else args.push(url);
  const before = treeCpuTicks(server.child.pid);
  const out = spawnSync('wrk', args, { encoding: 'utf8' }).stdout;
  const ticks = treeCpuTicks(server.child.pid) - before;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  if (/Non-2xx/.test(out)) throw new Error(`${server.name}: non-2xx answers\n${out}`);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), cpuUs: requests > 0 ? (ticks / CLOCK_TICKS_PER_S) * 1e6 / requests : NaN };
}

async function warm(port: number, paths: string[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < paths.length) {
      const path = paths[next++]!;
      // A pooled connection the server closed while idle (its keep-alive timeout) fails once: retried.
      await request(`http://127.0.0.1:${port}${path}`).catch(() => request(`http://127.0.0.1:${port}${path}`)).then((answer) => answer.body.dump());
    }
  }));
}

async function main(): Promise<void> {
  const rounds = Number(option('rounds', '5'));
  const seconds = Number(option('seconds', '2'));
  const only = option('only', 'hot,10k,64k').split(',');
  const builds = process.argv.slice(2).filter((arg) => /^[\w.-]+=/.test(arg)).map((arg) => arg.split('=') as [string, string]);
  if (builds.length === 0) builds.push(['this', DIST_DIR]);
  const backend = await start('backend', join(DIST_DIR, 'bench/backend.js'), ['0', '2']);
  const servers = [await start('bare node:http', join(DIST_DIR, 'bench/bare.js'), ['0'])];
  for (const [name, dist] of builds) servers.push(await start(name, join(resolve(dist), 'bench/cachegate-server.js'), ['0', `127.0.0.1:${backend.port}`]));
  const stop = () => [backend, ...servers].forEach((server) => server.child.kill('SIGTERM'));
  process.once('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const scenarios = [
    { id: 'hot', name: 'hot key, 1 KB', paths: ['/prod/k/1'], target: '/prod/k/1' },
    { id: '10k', name: `${KEYS / 1000}k keys uniform, 1 KB`, paths: Array.from({ length: KEYS }, (_, i) => `/prod/k/${i + 1}`), keys: KEYS },
    { id: '64k', name: 'hot key, 64 KB', paths: ['/prod/big/1'], target: '/prod/big/1' },
  ].filter((scenario) => only.includes(scenario.id));
  const cpuAtStart = cpuCounters();
  for (const scenario of scenarios) {
    for (const server of servers) {
      await warm(server.port, scenario.paths);
      // One unmeasured second: the code is optimised and the entries promoted before the runs.
      wrk(server, `http://127.0.0.1:${server.port}${scenario.target ?? ''}`, 1, scenario.keys);
    }
    const runs = new Map<Server, Run[]>(servers.map((server) => [server, []]));
    const scenarioStart = cpuCounters();
    for (let round = 0; round < rounds; round++) {
      for (const server of servers) {
        const url = `http://127.0.0.1:${server.port}${scenario.target ?? ''}`;
        runs.get(server)!.push(wrk(server, url, seconds, scenario.keys));
      }
    }
    const bare = median(runs.get(servers[0]!)!.map((run) => run.cpuUs));
    process.stdout.write(`\n${scenario.name} (${rounds} rounds of ${seconds} s, steal ${(stealBetween(scenarioStart, cpuCounters()) * 100).toFixed(0)}%)\n`);
    for (const [server, list] of runs) {
      const cpu = median(list.map((run) => run.cpuUs));
      process.stdout.write(`  ${server.name.padEnd(16)} ${median(list.map((run) => run.rps)).toFixed(0).padStart(7)} req/s  CPU ${cpu.toFixed(1).padStart(6)} µs/req (${(cpu / bare).toFixed(2)}× bare)  runs: ${list.map((run) => run.cpuUs.toFixed(1)).join(' ')}\n`);
    }
  }
  process.stdout.write(`\nsteal over all runs: ${(stealBetween(cpuAtStart, cpuCounters()) * 100).toFixed(0)}%\n`);
  process.exit(0);
}

await main();
