/**
 * Stored head lines of the shared store (stored-entry.ts) against Node's own writeHead(), with two
 * gateway threads sharing the store: a hit written from the lines kept in the arena carries the
 * same headers, byte for byte, as the same hit written by writeHead() (a request with
 * Connection: close takes that path), for backend values Node lets through — Latin-1 obs-text,
 * tabs, `: ` inside a value, repeated fields — and HEAD and 304 answered from such an entry keep them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { rawExchange } from '../helpers/http.js';

/** Headers the gateway adds per answer (not stored), left out of the comparison. */
const PER_ANSWER = new Set(['date', 'age', 'x-amzn-requestid', 'cache-status', 'connection', 'keep-alive']);

function head(wire: string): { status: string; headers: string[]; rest: string } {
  const end = wire.indexOf('\r\n\r\n');
  const [status, ...lines] = wire.slice(0, end).split('\r\n');
  return { status: status!, headers: lines.filter((line) => !PER_ANSWER.has(line.slice(0, line.indexOf(':')).toLowerCase())), rest: wire.slice(end + 4) };
}

describe('shared store, 2 threads: stored head lines are what writeHead() writes', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  const body = 'x'.repeat(300);

  before(async () => {
    backend = await startBackend((_req, res) => {
      res.setHeader('content-type', 'text/plain; charset=iso-8859-1');
      res.setHeader('etag', '"v1"');
      res.setHeader('x-latin', 'caf\u00e9 \u00ff\u0080');
      res.setHeader('x-colon', 'a: b:c :: d');
      res.setHeader('x-tab', 'a\tb');
      res.setHeader('x-multi', ['one', 'two, three']);
      res.setHeader('x-long', 'v'.repeat(8000));
      res.end(body);
    });
    gateway = await startGateway({
      apis: [{
        id: 'lines',
        resources: { '/l/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/l/{id}` } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
      }],
    }, { threads: 2 });
    port = Number(new URL(gateway.dataUrl).port);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('keep-alive hits (stored lines), Connection: close hits (writeHead), HEAD and 304 agree', async () => {
    const request = (extra = '', method = 'GET') => `${method} /prod/l/1 HTTP/1.1\r\nHost: lines.test\r\n${extra}`;
    await rawExchange(port, `${request()}Connection: close\r\n\r\n`);
    // Several connections: both threads answer some of them from the shared store.
    const kept = await Promise.all(Array.from({ length: 6 }, () => rawExchange(port, `${request()}\r\n${request()}Connection: close\r\n\r\n`)));
    const closed = await rawExchange(port, `${request()}Connection: close\r\n\r\n`);
    assert.equal(backend.calls, 1, 'one backend call, the rest were hits');
    const reference = head(closed);
    assert.equal(reference.rest, body);
    // Bytes beyond ASCII in a value (as the backend's Node sent them) reach the client as they came.
    assert.ok(reference.headers.some((line) => /^x-latin: caf[\u0080-\u00ff]/.test(line)), 'the non-ASCII value came through');
    for (const wire of kept) {
      const first = head(wire);
      assert.equal(first.status, reference.status);
      assert.deepEqual(first.headers, reference.headers);
      assert.equal(first.rest.slice(0, body.length), body);
    }
    const headOnly = head(await rawExchange(port, `${request('', 'HEAD')}Connection: close\r\n\r\n`));
    assert.deepEqual(headOnly.headers, reference.headers);
    assert.equal(headOnly.rest, '');
    const notModified = head(await rawExchange(port, `${request('If-None-Match: "v1"\r\n')}Connection: close\r\n\r\n`));
    assert.match(notModified.status, / 304 /);
    assert.deepEqual(notModified.headers, reference.headers.filter((line) => !line.startsWith('content-length')));
  });
});
