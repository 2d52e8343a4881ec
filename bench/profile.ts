/**
 * `npm run bench:profile`: where a request's CPU time goes. Runs cachegate under `node --cpu-prof`
 * on the hit path (hot key, memory store; and Redis store when redis-server is installed) and on the miss path (cache off, 0 ms backend), loads it
 * with wrk, and turns each profile into time per request: by bucket (socket writes, garbage
 * collection, cachegate's own code, undici, Node's HTTP and streams) and the top functions by self
 * time. Written to bench/profile.md; the raw .cpuprofile files stay in bench/.work/profile for
 * Chrome DevTools.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis } from './harness.js';

const BENCH_DIR = resolve(fileURLToPath(new URL('../../bench/', import.meta.url)));
const DIST_DIR = fileURLToPath(new URL('./', import.meta.url));
const OUT = join(BENCH_DIR, '.work', 'profile');
const SECONDS = 5;

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

function startNode(script: string, args: string[], nodeArgs: string[] = []): Promise<{ ports: number[]; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeArgs, join(DIST_DIR, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = /ready ([^\n]*)\n/.exec(output);
      if (line) resolve({ ports: line[1]!.split(' ').map(Number), stop: () => (child.kill('SIGTERM'), exited) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** wrk on one URL, or (`keys`) on /prod/k/1…keys uniformly at random (random-keys.lua). */
function wrk(url: string, seconds: number, keys?: number): number {
  const script = keys === undefined ? [] : ['-s', join(BENCH_DIR, 'random-keys.lua')];
  const out = spawnSync('wrk', ['-t1', '-c50', `-d${seconds}s`, ...script, url, ...(keys === undefined ? [] : ['--', '/prod/k/', String(keys)])], { encoding: 'utf8' }).stdout;
  return Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
}

/** Which part of the stack a function belongs to. */
function bucket(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (['writev', 'writeLatin1String', 'writeBuffer', 'writeUtf8String'].includes(functionName)) return 'socket writes (system calls)';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8 and libuv outside JS ("program")';
  if (url.includes('/dist/src/')) return 'cachegate';
  if (url.includes('/node_modules/undici/') || url.startsWith('wasm')) return 'undici (backend client)';
  if (url.includes('/node_modules/')) return 'other libraries';
  if (url.startsWith('node:')) return 'Node (HTTP server, streams, timers)';
  return 'other native';
}

function analyze(file: string, requests: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  const buckets = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id)!;
    const microseconds = profile.timeDeltas[index] ?? 0;
    if (node.callFrame.functionName === '(idle)') return;
    busy += microseconds;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    self.set(name, (self.get(name) ?? 0) + microseconds);
    const group = bucket(node);
    buckets.set(group, (buckets.get(group) ?? 0) + microseconds);
  });
  const perRequest = (microseconds: number) => (microseconds / requests).toFixed(2);
  return [
    `Busy main-thread CPU: ${perRequest(busy)} µs per request over ${requests.toLocaleString('en')} requests (startup included).`,
    '',
    '| bucket | µs/request | share |',
    '|---|---:|---:|',
    ...[...buckets].sort((a, b) => b[1] - a[1]).map(([group, us]) => `| ${group} | ${perRequest(us)} | ${((us / busy) * 100).toFixed(0)}% |`),
    '',
    '| function (self time) | µs/request |',
    '|---|---:|',
    ...[...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([name, us]) => `| \`${name}\` | ${perRequest(us)} |`),
  ];
}

/** `serverArgs` after the port and backend (prefill, log level, Redis URL); `keys`: wrk spreads requests over /prod/k/1…keys. */
async function profileScenario(name: string, path: string, backendPort: number, serverArgs: string[] = [], keys?: number): Promise<string[]> {
  const dir = join(OUT, name.replace(/\W+/g, '-'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const gateway = await startNode('cachegate-server.js', ['0', `127.0.0.1:${backendPort}`, ...serverArgs], ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const url = `http://127.0.0.1:${gateway.ports[0]}${keys === undefined ? path : ''}`;
  let requests = wrk(url, 1, keys); // warm-up, profiled too: its requests count
  requests += wrk(url, SECONDS, keys);
  await gateway.stop();
  const file = readdirSync(dir).find((entry) => entry.endsWith('.cpuprofile'));
  if (!file) return [`## ${name}`, '', 'No profile was written.', ''];
  process.stderr.write(`profiled ${name}: ${requests} requests\n`);
  return [`## ${name}`, '', `\`${path}\`, wrk -t1 -c50, 1 s + ${SECONDS} s. Raw profile: \`bench/.work/profile/${name.replace(/\W+/g, '-')}/${file}\`.`, '', ...analyze(join(dir, file), requests), ''];
}

async function main(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
    process.stderr.write('bench:profile needs wrk (apt-get install -y wrk, or run `npm run bench` once as root)\n');
    process.exit(1);
  }
  const backend = await startNode('backend.js', ['0', '2']);
  const fastBackend = await startNode('backend.js', ['0', '0']);
  const redis = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0 ? await startRedis(await freePort()) : undefined;
  try {
    const lines = [
      '# Where the time goes',
      '',
      `\`npm run bench:profile\`: cachegate under \`node --cpu-prof\`, Node ${process.version}. Self time of each function, divided by the requests served; the socket writes are system calls made from JS (their kernel time included).`,
      '',
      ...(await profileScenario('hit path (hot key, memory store)', '/prod/k/1', backend.ports[0]!)),
      ...(redis ? await profileScenario('hit path (hot key, Redis store)', '/prod/k/1', backend.ports[0]!, ['0', 'warn', redis.url]) : []),
      // The keys are put straight into the store at start (cachegate-server.ts prefill), so the run is all hits.
      ...(await profileScenario('hit path (10k keys uniform, memory store)', '/prod/k/{1..10000}', backend.ports[0]!, ['10000'], 10_000)),
      ...(await profileScenario('miss path (cache off, 0 ms backend)', '/dev/k/1', fastBackend.ports[0]!)),
    ];
    writeFileSync(join(BENCH_DIR, 'profile.md'), lines.join('\n'));
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await backend.stop();
    await fastBackend.stop();
    redis?.stop();
  }
}

await main();
