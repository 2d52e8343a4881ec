/**
 * `npm run conformance [-- --policy http|aws|alibaba|none] [--id TEST] [--json FILE]`: runs the public
 * http-tests/cache-tests suite (from CACHE_TESTS_DIR, fetched by hand and never committed) through a
 * real gateway with one `{proxy+}` ANY route in front of the suite's own test server, and prints
 * passes by category beside the published results that ship with the suite (results/*.json).
 *
 * The suite counts a test as passed when its result is `true` (so "check" tests that answered yes
 * count too); the published totals (squid 262, ATS 259, …) are counted the same way here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { validateConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway/gateway.js';
import { createLogger } from '../src/logging.js';

type Policy = 'http' | 'aws' | 'alibaba' | 'none';
type Results = Record<string, true | [string, string]>;
interface Suite { readonly id: string; readonly name: string; readonly tests: readonly { readonly id: string }[] }

/** The published implementations shown beside ours, as the suite's results/ directory names them. */
const PUBLISHED: readonly (readonly [label: string, file: string])[] = [
  ['squid', 'squid.json'], ['ATS', 'trafficserver.json'], ['httpd', 'apache.json'],
  ['Varnish', 'varnish.json'], ['Caddy', 'caddy.json'], ['nginx', 'nginx.json'],
];
const ALIBABA_KEPT = [
  'Server-Request-Count', 'Client-Request-Count', 'Request-Numbers', 'Server-Base-Url', 'Server-Now',
  'Cache-Control', 'Expires', 'ETag', 'Last-Modified', 'Vary', 'Template-A',
];
/** The whole run may not take longer than this (365 tests, some pausing 3 s; ~1-2 min usually). */
const RUN_DEADLINE_MS = 10 * 60_000;

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const policy = (option('policy') ?? 'http') as Policy;
if (!['http', 'aws', 'alibaba', 'none'].includes(policy)) fail(`--policy must be http, aws, alibaba or none, got ${policy}`);
const testId = option('id') ?? '';
const jsonOut = option('json');
const suiteDir = process.env.CACHE_TESTS_DIR;
if (!suiteDir || !existsSync(join(suiteDir, 'test-engine', 'cli.mjs'))) {
  fail('CACHE_TESTS_DIR must name a checkout of github.com/http-tests/cache-tests (it is not part of this repository)');
}
linkUndici(suiteDir);

const server = await startSuiteServer(suiteDir);
const serverPort = (server.address() as AddressInfo).port;

const gateway = await Gateway.start(validateConfig(gatewayConfig(policy, serverPort), { source: '<conformance>', baseDir: process.cwd() }), {
  listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, logger: createLogger('silent' as 'warn'),
});
let results: Results;
try {
  const cli = spawnNode(join(suiteDir, 'test-engine', 'cli.mjs'), suiteDir, { npm_config_base: `${gateway.dataUrl}/s`, npm_config_id: testId, npm_package_config_id: testId }, ['--no-warnings']);
  const output = await collect(cli, RUN_DEADLINE_MS);
  if (testId !== '') {
    process.stdout.write(output);
    results = {};
  } else {
    results = JSON.parse(output.slice(output.indexOf('{'))) as Results;
  }
} finally {
  await gateway.close();
  server.closeAllConnections();
  server.close();
}
if (testId === '') report(results, (await import(pathToFileURL(join(suiteDir, 'tests', 'index.mjs')).href)).default as Suite[]);

function report(ours: Results, suites: readonly Suite[]): void {
  const published = PUBLISHED.map(([label, file]) => [label, JSON.parse(readFileSync(join(suiteDir!, 'results', file), 'utf8')) as Results] as const);
  const passes = (results: Results, ids: readonly string[]) => ids.filter((id) => results[id] === true).length;
  const header = ['category', 'tests', `cachegate(${policy})`, ...published.map(([label]) => label)];
  const rows: string[][] = [];
  const all: string[] = [];
  for (const suite of suites) {
    const ids = suite.tests.map((test) => test.id);
    all.push(...ids);
    rows.push([suite.name, String(ids.length), String(passes(ours, ids)), ...published.map(([, results]) => String(passes(results, ids)))]);
  }
  rows.push(['TOTAL', String(all.length), String(passes(ours, all)), ...published.map(([, results]) => String(passes(results, all)))]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  const failing = all.filter((id) => ours[id] !== true);
  console.log(`\nnot passed (${failing.length}): ${failing.join(' ')}`);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(ours, null, 2));
}

/** One `{proxy+}` ANY route in front of the suite's server, under the policy measured. */
function gatewayConfig(measured: Policy, port: number): unknown {
  const method: Record<string, unknown> = { integration: { type: 'HTTP_PROXY', uri: `http://127.0.0.1:${port}/{proxy}`, timeoutMs: 15_000 } };
  if (measured === 'http') method.httpCache = 'conformance';
  if (measured === 'alibaba') method.cachePlugin = 'conformance';
  return {
    ...(measured === 'http' ? { httpCaches: { conformance: { capacityBytes: 64 * 1024 * 1024 } } } : {}),
    // The plug-in replays only Content-Type/Length unless told: keep the suite's bookkeeping headers
    // (without them every hit looks broken to the harness) and the caching headers it checks.
    ...(measured === 'alibaba' ? { cachePlugins: { conformance: { clientCacheControl: { mode: 'all' }, cacheableHeaders: ALIBABA_KEPT } } } : {}),
    apis: [{
      id: 'conformance',
      resources: { '/{proxy+}': { ANY: method } },
      stages: {
        s: measured === 'aws'
          ? { cacheClusterEnabled: true, methodSettings: { '*/*': { requireAuthorizationForCacheControl: false } } }
          : { cacheClusterEnabled: measured !== 'none' },
      },
    }],
  };
}

/**
 * The suite's CLI imports undici for its 1xx tests; a bare checkout has no node_modules, so it
 * borrows this project's (a symlink inside the suite's directory, never in this repository).
 */
function linkUndici(dir: string): void {
  const own = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules');
  const link = join(dir, 'node_modules');
  if (existsSync(link) || !existsSync(join(own, 'undici'))) return;
  // A link left dangling (this checkout moved or deleted) is replaced, not tripped over.
  if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(link);
  symlinkSync(own, link);
}

function spawnNode(script: string, cwd: string, env: Record<string, string>, flags: string[] = []): ChildProcess {
  return spawn(process.execPath, [...flags, script], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

type Handler = (segments: string[], request: IncomingMessage, response: ServerResponse) => void;

/**
 * The suite's test server, in this process and on loopback only (its own server.mjs listens on
 * every interface): its four handlers, dispatched by the first path segment as server.mjs does.
 */
async function startSuiteServer(dir: string): Promise<Server> {
  const load = async (name: string) => (await import(pathToFileURL(join(dir, 'test-engine', 'server', name)).href)).default as Handler;
  const handlers: Record<string, Handler> = { config: await load('handle-config.mjs'), test: await load('handle-test.mjs'), state: await load('handle-state.mjs') };
  const server = createHttpServer((request, response) => {
    const segments = new URL(request.url ?? '/', 'http://127.0.0.1/').pathname.split('/').slice(1);
    const handler = handlers[segments.shift() ?? ''];
    if (handler) handler(segments, request, response);
    else response.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

function collect(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((done, failed) => {
    let output = '';
    let errors = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      failed(new Error(`the suite did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) done(output);
      else failed(new Error(`the suite's CLI exited ${code}: ${errors}`));
    });
  });
}

function fail(message: string): never {
  console.error(`conformance: ${message}`);
  process.exit(1);
}
