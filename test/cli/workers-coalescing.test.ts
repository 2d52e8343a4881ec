/**
 * `--workers 2`: concurrent misses of one key coalesce across the threads (issue 17, "2 threads:
 * one fill per key"), and every wait stays bounded by the waiter's own integration timeout (SPEC
 * §7 Guarantees) — whether the leader on the other thread is answered with something that cannot
 * be shared, hangs past its timeout, or fails.
 *
 * Each burst sends its requests on fresh connections, so the kernel hands them to whichever thread
 * accepts first: with 40 at once both threads get some (before the lease table, each thread then
 * called the backend once: 2 calls per key; checked).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { call, type Answer } from '../helpers/http.js';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));
/** How long the backend takes to answer: long enough for a burst to arrive on both threads. */
const BACKEND_DELAY_MS = 300;
const TIMEOUT_MS = 1_500;
/** Time past a caller's own timeout that its answer may take (event loops, a busy 2-core machine). */
const SLACK_MS = 1_500;
const BURST = 40;

/**
 * An unshareable answer takes most of a timeout: a thread that waited for it and then queued its
 * own callers behind a second call would turn them into 504s (caching off: all 200).
 */
const COOKIE_DELAY_MS = TIMEOUT_MS * 0.6;

/**
 * /x/{kind}-{n}: `ok` answers 200 JSON, `cookie` the same with a Set-Cookie (later), `hang` never,
 * `fail` drops the connection, `slowbody` streams its body until past the callers' timeouts.
 */
function behave(backend: CountingBackend): void {
  backend.handler = (req, res, _body, call) => {
    const kind = /^\/x\/([a-z]+)-/.exec(req.url ?? '')?.[1];
    if (kind === 'hang') return;
    if (kind === 'slowbody') return streamSlowly(res, call);
    setTimeout(() => {
      if (kind === 'fail') return void res.destroy();
      const text = JSON.stringify({ path: req.url, call });
      res.writeHead(200, { 'content-type': 'application/json', ...(kind === 'cookie' ? { 'set-cookie': `session=${call}` } : {}) });
      res.end(text);
    }, kind === 'cookie' ? COOKIE_DELAY_MS : BACKEND_DELAY_MS);
  };
}

/**
 * The head after SLOW_HEAD_MS, then a chunk every BACKEND_DELAY_MS until SLOW_BODY_END_MS: past
 * the callers' deadlines (arrival + timeout), within a timeout of the head (the lease's expiry
 * once answered).
 */
const SLOW_HEAD_MS = 600;
const SLOW_BODY_END_MS = TIMEOUT_MS + BACKEND_DELAY_MS;
function streamSlowly(res: ServerResponse, call: number): void {
  const started = Date.now();
  let timer = setTimeout(() => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = (): void => {
      res.write(`call ${call} at ${Date.now() - started} ms\n`);
      if (Date.now() - started >= SLOW_BODY_END_MS) res.end();
      else timer = setTimeout(chunk, BACKEND_DELAY_MS);
    };
    chunk();
  }, SLOW_HEAD_MS);
  res.once('close', () => clearTimeout(timer));
}

/** Backend calls for one path. */
const callsFor = (backend: CountingBackend, path: string) => backend.seen.filter((seen) => seen.url === path).length;

describe('cachegate start --workers 2: one integration call per key across threads', () => {
  let backend: CountingBackend;
  let child: ChildProcess;
  let output = '';
  let dataUrl = '';
  let adminUrl = '';

  before(async () => {
    backend = await startBackend();
    behave(backend);
    const dir = mkdtempSync(join(tmpdir(), 'cachegate-workers-coalescing-'));
    const config = join(dir, 'cachegate.yaml');
    writeFileSync(config, `
gateway: { listen: 127.0.0.1:0, admin: 127.0.0.1:0 }
apis:
  - id: api
    resources:
      /x/{id}: { GET: { requestParameters: [method.request.path.id], cacheKeyParameters: [method.request.path.id], integration: { type: HTTP_PROXY, uri: "${backend.url}/x/{id}", timeoutMs: ${TIMEOUT_MS} } } }
      /s/{id}: { GET: { requestParameters: [method.request.path.id], cacheKeyParameters: [method.request.path.id], integration: { type: HTTP_PROXY, uri: "${backend.url}/s/{id}", timeoutMs: ${TIMEOUT_MS} } } }
    stages: { prod: { cacheClusterEnabled: true, methodSettings: { "s/{id}/GET": { cacheTtlInSeconds: 1, staleWhileRevalidateSeconds: 30 } } } }
`);
    child = spawn(process.execPath, [BIN, 'start', '--config', config, '--workers', '2', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => /2 workers/.test(output) && (clearInterval(timer), resolve()), 50);
      child.once('exit', (code) => (clearInterval(timer), reject(new Error(`exited ${code}: ${output}`))));
    });
    [, dataUrl = '', adminUrl = ''] = /on (http:\/\/[\d.:]+) \(admin (http:\/\/[\d.:]+)\)/.exec(output)!;
  });

  after(async () => {
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    await backend.close();
    assert.equal(code, 0, output);
  });

  /** Requests, over both threads, that waited for the other thread's fill (cachegate_cache_lease_waits_total). */
  async function leaseWaits(): Promise<number> {
    const metrics = (await call(`${adminUrl}/metrics`, { headers: { connection: 'close' } })).text;
    return Number(/^cachegate_cache_lease_waits_total\{.*\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  }

  /** BURST requests for `path` at once, each on a new connection; each answer with how long it took. */
  async function burst(path: string): Promise<{ answer: Answer; ms: number }[]> {
    return Promise.all(Array.from({ length: BURST }, async () => {
      const started = Date.now();
      const answer = await call(`${dataUrl}/prod${path}`, { headers: { connection: 'close' } });
      return { answer, ms: Date.now() - started };
    }));
  }

  it('a burst of misses of one key on both threads makes one backend call; every caller gets its body', async () => {
    const waitedBefore = await leaseWaits();
    for (const path of ['/x/ok-1', '/x/ok-2', '/x/ok-3', '/x/ok-4']) {
      const answers = await burst(path);
      assert.equal(callsFor(backend, path), 1, `${path}: backend calls`);
      assert.ok(answers.every(({ answer }) => answer.status === 200), `${path}: ${answers.map(({ answer }) => answer.status)}`);
      assert.equal(new Set(answers.map(({ answer }) => answer.text)).size, 1, `${path}: one body for all`);
      // One fetched it; every other caller, on its thread or the other, was collapsed onto it (or,
      // arriving after the fill, hit it).
      const statuses = answers.map(({ answer }) => String(answer.headers['cache-status']));
      assert.equal(statuses.filter((status) => status.includes('stored')).length, 1, statuses.join('\n'));
    }
    // A thread that did not fill waited for the other's lease: the bursts reached both threads (the
    // kernel may hand one whole burst to one thread, rarely all four).
    assert.ok(await leaseWaits() > waitedBefore, 'both threads served the bursts');
  });

  it('a leader answered in time whose body streams past the timeout: callers on both threads wait for it, one call', async () => {
    const answers = await burst('/x/slowbody-1');
    assert.ok(answers.every(({ answer }) => answer.status === 200), answers.map(({ answer }) => answer.status).join());
    assert.equal(new Set(answers.map(({ answer }) => answer.text)).size, 1, 'one body for all');
    assert.equal(callsFor(backend, '/x/slowbody-1'), 1);
  });

  it('stale-while-revalidate: a burst of stale hits on both threads refreshes the entry once', async () => {
    await call(`${dataUrl}/prod/s/1`, { headers: { connection: 'close' } });
    // cacheTtlInSeconds: 1 — the entry is stale (within stale-while-revalidate) after a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const answers = await burst('/s/1');
    assert.ok(answers.every(({ answer }) => answer.status === 200));
    // The background refresh takes BACKEND_DELAY_MS; a second one, from the other thread, would start at once.
    await new Promise((resolve) => setTimeout(resolve, BACKEND_DELAY_MS * 3));
    assert.equal(callsFor(backend, '/s/1'), 2, 'the fill, then one refresh for both threads');
  });

  it('an unshareable answer (Set-Cookie) holds no caller on the other thread past its own timeout: all 200', async () => {
    const answers = await burst('/x/cookie-1');
    assert.ok(answers.every(({ answer }) => answer.status === 200), answers.map(({ answer }) => answer.status).join());
    assert.ok(answers.every(({ answer }) => answer.headers['set-cookie'] !== undefined), 'each caller got a Set-Cookie answer of its own');
    assert.ok(callsFor(backend, '/x/cookie-1') > 1, 'not shared: the callers went on their own');
  });

  it('a backend hanging past the timeout: every caller, on either thread, gets its 504 within its own timeout', async () => {
    const answers = await burst('/x/hang-1');
    assert.ok(answers.every(({ answer }) => answer.status === 504), answers.map(({ answer }) => answer.status).join());
    const slowest = Math.max(...answers.map(({ ms }) => ms));
    assert.ok(slowest < TIMEOUT_MS + SLACK_MS, `slowest answer after ${slowest} ms (timeout ${TIMEOUT_MS} ms): no caller waited a second timeout`);
  });

  it('a leader whose backend call fails: the other thread does not hang, every caller is answered', async () => {
    const answers = await burst('/x/fail-1');
    assert.ok(answers.every(({ answer }) => answer.status === 502), answers.map(({ answer }) => answer.status).join());
    const slowest = Math.max(...answers.map(({ ms }) => ms));
    assert.ok(slowest < TIMEOUT_MS + SLACK_MS, `slowest answer after ${slowest} ms`);
  });
});
