/**
 * Issue 13 defect 5 (Alibaba replay defence), each reproduced as reported, through real HTTP:
 * an unsigned timestamp or nonce replayed freely; a +14 min timestamp outlived its nonce record;
 * all apps shared one nonce namespace (app B could burn app A's nonce); and no per-app bound.
 * Nodes sharing Redis, and `--workers 2`, are in nonce-shared.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';
import { signed, type App } from './signing.js';

const A: App = { id: '1001', appKey: 'key-a', appSecret: 'secret-a' };
const B: App = { id: '1002', appKey: 'key-b', appSecret: 'secret-b' };
const LIMITED: App = { id: '1003', appKey: 'key-c', appSecret: 'secret-c' };
const MINUTE = 60_000;

describe('Alibaba nonces: what a replay defence needs', () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  const clock = { now: Date.UTC(2026, 0, 1) };
  const get = (headers: Record<string, string>) => call(`${gateway.dataUrl}/prod/items`, { headers });

  before(async () => {
    backend = await startBackend();
    gateway = await startGateway({
      apps: [A, B, { ...LIMITED, nonceLimit: 3 }],
      apis: [{
        id: 'shop',
        appAuth: 'required',
        resources: { '/items': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/items` } } } },
        stages: { prod: {} },
      }],
    }, { now: () => clock.now });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(() => {
    clock.now += 60 * MINUTE; // every test starts with no record alive
  });

  it('accepts a signed request once and refuses its replay with Nonce Used', async () => {
    const headers = signed(A, '/prod/items', clock.now);
    assert.equal((await get(headers)).status, 200);
    const replay = await get(headers);
    assert.equal(replay.status, 400);
    assert.equal(replay.headers['x-ca-error-message'], 'Nonce Used');
  });

  for (const name of ['x-ca-timestamp', 'x-ca-nonce']) {
    it(`refuses a request whose ${name} is not signed (it could be changed to replay)`, async () => {
      const names = ['x-ca-key', 'x-ca-nonce', 'x-ca-signature-method', 'x-ca-timestamp'].filter((n) => n !== name);
      const answer = await get(signed(A, '/prod/items', clock.now, { signedNames: names }));
      assert.equal(answer.status, 400, answer.text);
      assert.match(String(answer.headers['x-ca-error-message']), /X-Ca-Signature-Headers/);
    });
    it(`refuses a signed request without ${name}`, async () => {
      const answer = await get(signed(A, '/prod/items', clock.now, { omit: [name] }));
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.headers['x-ca-error-code'], 'I400MH');
    });
  }

  it('keeps a nonce until its own timestamp window closes: a +14 min timestamp cannot replay at +16 min', async () => {
    const headers = signed(A, '/prod/items', clock.now, { timestamp: clock.now + 14 * MINUTE });
    assert.equal((await get(headers)).status, 200);
    clock.now += 16 * MINUTE; // the timestamp is 2 min old now: still inside its window
    assert.equal((await get(headers)).status, 400, 'replayed after 16 minutes');
    clock.now += 14 * MINUTE; // now 16 min past the timestamp: refused as expired, never admitted
    assert.equal((await get(headers)).headers['x-ca-error-message'], 'Timestamp Expired');
  });

  it('refuses timestamps more than 15 minutes away either way', async () => {
    for (const offset of [-15 * MINUTE, 15 * MINUTE + 1, 60 * MINUTE]) {
      const answer = await get(signed(A, '/prod/items', clock.now, { timestamp: clock.now + offset }));
      assert.equal(answer.headers['x-ca-error-message'], 'Timestamp Expired', `offset ${offset}`);
    }
    assert.equal((await get(signed(A, '/prod/items', clock.now, { timestamp: clock.now + 15 * MINUTE }))).status, 200);
  });

  it('keeps apps apart: app B using a nonce first does not burn it for app A', async () => {
    const nonce = 'shared-nonce-0001';
    assert.equal((await get(signed(B, '/prod/items', clock.now, { nonce }))).status, 200);
    assert.equal((await get(signed(A, '/prod/items', clock.now, { nonce }))).status, 200, 'app A\'s own nonce');
    assert.equal((await get(signed(A, '/prod/items', clock.now, { nonce }))).status, 400, 'but A cannot use it twice');
  });

  it('refuses an app past its nonce limit (429, nothing forgotten) until its records expire', async () => {
    const first = signed(LIMITED, '/prod/items', clock.now);
    assert.equal((await get(first)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await get(signed(LIMITED, '/prod/items', clock.now))).status, 200);
    const over = await get(signed(LIMITED, '/prod/items', clock.now));
    assert.equal(over.status, 429);
    assert.equal(over.headers['x-ca-error-message'], 'Throttled by APP Flow Control');
    assert.equal((await get(first)).status, 400, 'the first nonce is still on record, not forgotten to make room');
    assert.equal((await get(signed(A, '/prod/items', clock.now))).status, 200, 'other apps are not limited by it');
    clock.now += 15 * MINUTE + 1000;
    assert.equal((await get(signed(LIMITED, '/prod/items', clock.now))).status, 200, 'room again once the window closed');
  });

  it('refuses an over-long nonce (bounded record size)', async () => {
    const answer = await get(signed(A, '/prod/items', clock.now, { nonce: 'n'.repeat(129) }));
    assert.equal(answer.status, 400);
    assert.equal(answer.headers['x-ca-error-code'], 'I400HD');
  });
});
