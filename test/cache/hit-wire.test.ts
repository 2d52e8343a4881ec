/**
 * A cache hit on the wire. Hits are written from a head serialized once per entry (entry-writer.ts)
 * rather than through writeHead(); these read the raw bytes a client gets to check that the framing
 * is still Node's: one Date, one Content-Length, keep-alive as the request asked, pipelined answers
 * in order, HEAD without a body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, rawExchange } from '../helpers/http.js';

interface WireAnswer {
  statusLine: string;
  headers: [string, string][];
  body: string;
}

/** Splits a stream of HTTP/1.1 answers (all with Content-Length; `headOnly` marks HEAD answers). */
function parseAnswers(wire: string, headOnly: boolean[] = []): WireAnswer[] {
  const answers: WireAnswer[] = [];
  let rest = wire;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `incomplete head in ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
    });
    const length = headOnly[answers.length] ? 0 : Number(headers.find(([name]) => name === 'content-length')?.[1] ?? 0);
    answers.push({ statusLine: statusLine!, headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return answers;
}

const all = (answer: WireAnswer, name: string) => answer.headers.filter(([header]) => header === name).map(([, value]) => value);

describe('a cache hit on the wire', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      apis: [{
        id: 'wire',
        resources: { '/things/{id}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/things/{id}` } } } },
        stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
      }],
    });
    port = Number(new URL(gateway.dataUrl).port);
    for (const id of ['1', '2', '3']) assert.equal((await call(`${gateway.dataUrl}/prod/things/${id}`)).status, 200);
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });

  it('answers pipelined hits in order, each with one Date and Content-Length and keep-alive, the last closing', async () => {
    const request = (id: string, close = false) => `GET /prod/things/${id} HTTP/1.1\r\nHost: wire.test\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const callsBefore = backend.calls;
    const wire = await rawExchange(port, request('2') + request('1') + request('3', true));
    const answers = parseAnswers(wire);
    assert.equal(backend.calls, callsBefore, 'all three were hits');
    assert.deepEqual(answers.map((a) => JSON.parse(a.body).path), ['/things/2', '/things/1', '/things/3']);
    for (const [index, answer] of answers.entries()) {
      assert.equal(answer.statusLine, 'HTTP/1.1 200 OK');
      assert.equal(all(answer, 'date').length, 1);
      assert.ok(!Number.isNaN(Date.parse(all(answer, 'date')[0]!)));
      assert.deepEqual(all(answer, 'content-length'), [String(Buffer.byteLength(answer.body))]);
      assert.deepEqual(all(answer, 'content-type'), ['application/json']);
      assert.match(all(answer, 'cache-status')[0] ?? '', /hit/);
      assert.equal(all(answer, 'x-amzn-requestid').length, 1);
      assert.equal(all(answer, 'transfer-encoding').length, 0);
      if (index < 2) {
        assert.deepEqual(all(answer, 'connection'), ['keep-alive']);
        assert.deepEqual(all(answer, 'keep-alive'), ['timeout=5']);
      } else {
        assert.deepEqual(all(answer, 'connection'), ['close']);
      }
    }
  });

  it('closes after a hit for an HTTP/1.0 caller that did not ask for keep-alive', async () => {
    const wire = await rawExchange(port, 'GET /prod/things/1 HTTP/1.0\r\nHost: wire.test\r\n\r\n');
    const [answer, ...more] = parseAnswers(wire);
    assert.equal(more.length, 0);
    assert.match(answer!.statusLine, /^HTTP\/1\.1 200/);
    assert.deepEqual(all(answer!, 'connection'), ['close']);
    assert.equal(JSON.parse(answer!.body).path, '/things/1');
  });

  it('answers a HEAD hit with the headers of the GET and no body, and the connection goes on', async () => {
    const wire = await rawExchange(port, 'HEAD /prod/things/2 HTTP/1.1\r\nHost: wire.test\r\n\r\nGET /prod/things/2 HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n');
    const [head, get] = parseAnswers(wire, [true, false]);
    assert.equal(head!.body, '');
    assert.match(all(head!, 'cache-status')[0] ?? '', /hit/);
    assert.deepEqual(all(head!, 'content-length'), all(get!, 'content-length'));
    assert.equal(JSON.parse(get!.body).path, '/things/2');
  });

  it('sends the same headers on a keep-alive hit as on a closing one, apart from connection handling', async () => {
    const comparable = (answer: WireAnswer) => answer.headers.filter(([name]) => !['connection', 'keep-alive', 'date', 'x-amzn-requestid', 'age'].includes(name)).sort();
    const [kept] = parseAnswers(await rawExchange(port, 'GET /prod/things/3 HTTP/1.1\r\nHost: wire.test\r\n\r\n', 300));
    const [closing] = parseAnswers(await rawExchange(port, 'GET /prod/things/3 HTTP/1.1\r\nHost: wire.test\r\nConnection: close\r\n\r\n'));
    assert.deepEqual(comparable(kept!), comparable(closing!));
    assert.equal(kept!.body, closing!.body);
  });
});
