import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cachegate-cli-'));

function cachegate(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
}

/** Starts `cachegate start …` and resolves once it has printed a line matching `ready`. */
function startProcess(args: string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve({ child, output: () => output });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before ready:\n${output}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const VALID = `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apis:
  - id: demo
    resources:
      /hello: { GET: { integration: { type: MOCK, body: hi } } }
    stages: { prod: { cacheClusterEnabled: true } }
`;

describe('cachegate validate', () => {
  it('exits 0 on a valid file', () => {
    const result = cachegate(['validate', writeConfig('ok.yaml', VALID)]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /valid \(1 API, 1 stage\)/);
  });

  it('prints every error with its path and exits 1', () => {
    const file = writeConfig('bad.yaml', VALID.replace('cacheClusterEnabled: true', 'cacheClusterEnabled: true, cacheClusterSize: "3", methodSettings: { "*/*": { cacheTtlInSeconds: 4000 } }'));
    const result = cachegate(['validate', file]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^apis\[0\]\.stages\.prod\.cacheClusterSize: must be one of .*, got "3"$/m);
    assert.match(result.stderr, /^apis\[0\]\.stages\.prod\.methodSettings\["\*\/\*"\]\.cacheTtlInSeconds: must be 0\.\.3600, got 4000$/m);
    assert.match(result.stderr, /2 errors/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('cachegate start', () => {
  it('refuses a bad config with one line and exit 1', () => {
    const file = writeConfig('bad-start.yaml', VALID.replace('type: MOCK', 'type: LAMBDA'));
    const result = cachegate(['start', '--config', file]);
    assert.equal(result.status, 1);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^cachegate: invalid config .*integration\.type: must have type HTTP_PROXY, MOCK or FUNCTION, got "LAMBDA"/);
  });

  it('reports a port in use with one line and exit 1', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const result = cachegate(['start', '--config', writeConfig('ok2.yaml', VALID), '--listen', `127.0.0.1:${port}`]);
      assert.equal(result.status, 1);
      assert.equal(result.stderr.trim(), `cachegate: data listener 127.0.0.1:${port}: address already in use`);
    } finally {
      squatter.close();
    }
  });

  it('runs the embedded demo with no config, answers, and exits 0 on SIGTERM', async () => {
    const { child, output } = await startProcess(['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'warn'], /Stop with Ctrl-C/);
    const dataUrl = /(http:\/\/127\.0\.0\.1:\d+)\/prod\/pets/.exec(output())![1]!;
    const answer = await call(`${dataUrl}/prod/pets?type=dog`);
    assert.equal(answer.status, 200);
    assert.equal(answer.json().pets[0].name, 'Rex');
    assert.equal((await call(`${dataUrl}/dev/pets/2`)).json().name, 'Tom');
    // The banner's own commands work as printed: purge by the tag the demo backend sent, then the
    // metrics line and the console it names.
    const banner = output();
    const purge = banner.split('\n').find((line) => line.includes('/cache/tags/type-dog'))!.trim().split('   #')[0]!;
    const purged = spawnSync('sh', ['-c', purge.replace('curl -i', 'curl -s')], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(purged.stdout), { purged: 1 });
    assert.match((await call(`${dataUrl}/prod/pets?type=dog`)).headers['cache-status'] as string, /fwd=uri-miss/);
    // The banner's URLs with a query run as printed in a shell that refuses an unmatched glob (zsh
    // does, and `?` is a glob): they are quoted.
    const withQuery = banner.split('\n').map((line) => line.trim().split('   #')[0]!.replace(/\s+#.*$/, '')).filter((line) => line.startsWith('curl') && line.includes('?'));
    assert.ok(withQuery.length >= 3, banner);
    for (const command of withQuery) {
      const ran = spawnSync('bash', ['-O', 'failglob', '-c', command.replace('curl -i', 'curl -s -o /dev/null -w %{http_code}')], { encoding: 'utf8' });
      assert.equal(ran.stdout, '200', `${command}: ${ran.stderr}`);
    }
    const metrics = banner.split('\n').find((line) => line.includes('/metrics'))!.trim();
    assert.match(spawnSync('sh', ['-c', metrics], { encoding: 'utf8' }).stdout, /cachegate_cache_hit_count_total/);
    const consoleUrl = /Web console: (\S+)\s+\(sign in with the API key (\S+)\)/.exec(banner)!;
    assert.equal((await call(consoleUrl[1]!)).status, 200);
    assert.equal(consoleUrl[2], 'demo-admin-key');
    // The SDK quickstart the banner prints runs as printed, and leaves no API behind.
    const quickstart = /node (examples\/sdk-quickstart\.mjs .*)$/m.exec(banner)![1]!.trim().split(' ');
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const run = () => spawnSync(process.execPath, quickstart, { cwd: root, encoding: 'utf8' });
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /#2: 200 cachegate; hit/);
    assert.match(first.stdout, /deleted API/);
    const apis = spawnSync('sh', ['-c', `curl -s -H 'x-api-key: demo-admin-key' ${/endpoint (\S+),/.exec(banner)![1]}/restapis`], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(apis.stdout).item.map((api: { id: string }) => api.id), ['petstore']);
    const wrongBackend = spawnSync(process.execPath, [...quickstart.slice(0, -1), '127.0.0.1:1'], { cwd: root, encoding: 'utf8' });
    assert.equal(wrongBackend.status, 1);
    assert.match(wrongBackend.stderr, /is it the demo's backend/);
    assert.equal(spawnSync(process.execPath, [quickstart[0]!], { cwd: root, encoding: 'utf8' }).status, 2);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });

  it('finishes an in-flight request before exiting on SIGTERM', async () => {
    const backend = await startBackend((_req, res) => setTimeout(() => res.end('finished'), 600));
    const file = writeConfig('slow.yaml', `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apis:
  - id: slow
    resources:
      /slow: { GET: { integration: { type: HTTP_PROXY, uri: "${backend.url}/slow" } } }
    stages: { prod: {} }
`);
    try {
      const { child, output } = await startProcess(['--config', file, '--log-level', 'warn'], /serving .* on http/);
      const dataUrl = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output())![1]!;
      const inFlight = call(`${dataUrl}/prod/slow`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill('SIGTERM');
      const answer = await inFlight;
      assert.equal(answer.status, 200);
      assert.equal(answer.text, 'finished');
      assert.equal(await exited(child), 0);
    } finally {
      await backend.close();
    }
  });
});
