/**
 * Invariant (issue 13, SPEC §7): on one connection, every request gets its own answer, in order;
 * once a request is malformed, the requests before it keep their answers, the malformed one gets a
 * 400 (or nothing) after them, and the connection closes — nothing behind it is served or answered.
 * fast-check generates the pipelines: valid GET/HEAD/POST with backend delays, and malformed
 * requests of several shapes, written in one packet or split at generated points.
 *
 * Run with one gateway thread and with two sharing one store (issue 17): one connection is served
 * by one thread, but each pipeline is a fresh connection and the cached GETs it replays were
 * often stored by the other thread (plain and TLS listeners alike).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { THREAD_COUNTS, threadsLabel } from '../helpers/threads.js';
import { exchange } from '../helpers/wire.js';

type Step =
  | { kind: 'get'; pet: number; delay: number }
  | { kind: 'head'; pet: number; delay: number }
  | { kind: 'post'; body: string; delay: number }
  | { kind: 'malformed'; shape: number };

const MALFORMED = [
  'GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n',
  'GET /prod/pets/1 HTTP/1.1\nHost: a\n\n',
  'GET http://evil.example/prod/pets/1 HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'POST /prod/items HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /prod/items HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
  'GARBAGE\r\n\r\n',
] as const;

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), pet: fc.integer({ min: 1, max: 3 }), delay: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('head' as const), pet: fc.integer({ min: 1, max: 3 }), delay: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('post' as const), body: fc.stringMatching(/^[a-z0-9]{1,12}$/), delay: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('malformed' as const), shape: fc.integer({ min: 0, max: MALFORMED.length - 1 }) }) },
);

function bytesOf(s: Step): string {
  switch (s.kind) {
    case 'get': return `GET /prod/pets/${s.pet}?delay=${s.delay} HTTP/1.1\r\nHost: a\r\n\r\n`;
    case 'head': return `HEAD /prod/pets/${s.pet}?delay=${s.delay} HTTP/1.1\r\nHost: a\r\n\r\n`;
    case 'post': return `POST /prod/items?delay=${s.delay} HTTP/1.1\r\nHost: a\r\nContent-Length: ${s.body.length}\r\n\r\n${s.body}`;
    case 'malformed': return MALFORMED[s.shape]!;
  }
}

interface Parsed { status: number; body: string }

/** Splits the server's bytes into responses, knowing which ones answer a HEAD (no body). */
function parseResponses(text: string, heads: boolean[]): { responses: Parsed[]; rest: string } {
  const responses: Parsed[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = text.slice(at, end);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const bodyLength = heads[responses.length] ? 0 : length;
    responses.push({ status, body: text.slice(end + 4, end + 4 + bodyLength) });
    at = end + 4 + bodyLength;
  }
  return { responses, rest: text.slice(at) };
}

for (const threads of THREAD_COUNTS) describe(`invariant: pipelined requests are answered in order, a malformed one never takes another's answer (${threadsLabel(threads)})`, () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let tlsGateway: Gateway;
  let port: number;
  const certDir = mkdtempSync(join(tmpdir(), 'cachegate-pipelining-tls-'));

  before(async () => {
    backend = await startBackend((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const text = JSON.stringify({ method: req.method, path: url.pathname, body: body.toString() });
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text), Number(url.searchParams.get('delay') ?? 0));
    });
    const proxy = (path: string) => ({ integration: { type: 'HTTP_PROXY', uri: `${backend.url}${path}` } });
    const apis = [{
      id: 'shop',
      resources: { '/items': { POST: proxy('/items') }, '/pets/{petId}': { GET: proxy('/pets/{petId}') } },
      stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 1 } } } },
    }];
    gateway = await startGateway({ apis }, { threads });
    port = Number(new URL(gateway.dataUrl).port);
    // The same listener over TLS (a certificate made here, never committed).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pipelining',
      '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
    tlsGateway = await startGateway({ gateway: { dataTls: { cert: 'cert.pem', key: 'key.pem' } }, apis }, { baseDir: certDir, threads });
  });
  after(async () => {
    await gateway.close();
    await tlsGateway.close();
    await backend.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('holds for generated pipelines (seeded)', () => holds(port, false, 1313, 40));
  it('holds over TLS too (seeded)', () => holds(Number(new URL(tlsGateway.dataUrl).port), true, 1314, 15));

  async function holds(port: number, tls: boolean, seed: number, numRuns: number): Promise<void> {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 3 }), async (steps, splits) => {
        const firstBad = steps.findIndex((s) => s.kind === 'malformed');
        // A well-formed pipeline ends with `Connection: close`, so the server closes it when done.
        const closing = firstBad < 0 ? 'GET /prod/pets/9 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' : '';
        const wire = steps.map(bytesOf).join('') + closing;
        // Split the bytes at a few generated points: the same pipeline across packets.
        const cuts = Array.from({ length: splits }, (_, i) => Math.floor(((i + 1) * wire.length) / (splits + 1)));
        const parts = [0, ...cuts].map((from, i) => wire.slice(from, i < cuts.length ? cuts[i] : undefined)).filter((p) => p.length > 0);
        const good = firstBad < 0 ? steps : steps.slice(0, firstBad);
        const answer = await exchange(port, parts, { gapMs: 5, timeoutMs: 4_000, tls });
        const { responses } = parseResponses(answer.text, good.map((s) => s.kind === 'head'));
        // Each good request: its own answer, in order.
        good.forEach((s, i) => {
          const response = responses[i];
          assert.ok(response, `request ${i} (${s.kind}) got no answer: ${answer.text}`);
          assert.equal(response.status, 200, answer.text);
          if (s.kind === 'get') assert.equal(JSON.parse(response.body).path, `/pets/${s.pet}`);
          if (s.kind === 'post') assert.equal(JSON.parse(response.body).body, s.body);
        });
        if (firstBad >= 0) {
          // The malformed one: a 400 after the good answers, or nothing; then the server closes.
          const extra = responses.slice(good.length);
          assert.ok(extra.length <= 1 && (extra.length === 0 || extra[0]!.status === 400), `after the malformed request: ${answer.text}`);
          assert.ok(answer.closedByServer, 'the connection stayed open after a malformed request');
        } else {
          assert.equal(responses.length, good.length + 1, answer.text);
          assert.ok(answer.closedByServer);
        }
      }),
      { seed, numRuns, interruptAfterTimeLimit: 60_000 },
    );
  }
});
