/**
 * Invariant (SPEC §7 Guarantees, issue 13 defect 4, data plane): one canonical request path. For
 * any equivalent spelling of a resource, routing, the execute-api ARN checked for
 * `Cache-Control: max-age=0` and the cache key agree, so a denied resource is denied in every
 * spelling and an allowed one is allowed in every spelling; spellings the gateway does not
 * resolve (dot-segments, `//`, `%2F`) are refused with 400 in every spelling, never routed.
 * Generated with fast-check, seeded and bounded.
 *
 * Through the gateway, run with one gateway thread and with two sharing one store (issue 17): each
 * request opens a fresh connection, so the entry a spelling must hit (or refresh) was often stored
 * by the other thread, and each thread compiled its own routes and authorizer. The pure properties
 * of canonicalRequestPath involve no thread and run once.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway/gateway.js';
import { canonicalRequestPath } from '../../src/gateway/router.js';
import { startBackend, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { call, rawExchange } from '../helpers/http.js';
import { THREAD_COUNTS, threadsLabel } from '../helpers/threads.js';

const SEED = 4242;
const RUNS = 50;
const OPS_KEY = 'ops-key-0123456789abcdef';
const USER_KEY = 'user-key-0123456789abcdef';

/** Characters of path segments: unreserved, sub-delims, `:`/`@`, and a few that need escaping. */
const segmentChar = fc.constantFrom('a', 'd', 'm', 'i', 'n', 'Z', '0', '-', '.', '_', '~', '!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=', ':', '@', ' ', '%', '?', '#', 'é', '/');
const segment = fc.array(segmentChar, { minLength: 1, maxLength: 6 }).map((chars) => chars.join('')).filter((text) => text !== '.' && text !== '..' && !text.includes('/'));

/** One spelling of a decoded segment: each byte literal when the request line allows it, else %xx in either case. */
function spell(text: string, choices: readonly number[]): string {
  let out = '';
  let i = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    const choice = choices[i++ % choices.length]!;
    const char = String.fromCharCode(byte);
    const hex = byte.toString(16).padStart(2, '0');
    if (/[A-Za-z0-9\-._~!$&'()*+,;=:@]/.test(char) && choice < 2) out += char;
    else out += '%' + (choice === 2 ? hex : hex.toUpperCase());
  }
  return out;
}

const choices = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 });

describe('invariant: one canonical path for routing, authorization and keys', () => {
  it('every spelling of a path has the canonical form of its plain spelling, and the canonical form is a fixed point', () => {
    fc.assert(fc.property(fc.array(fc.tuple(segment, choices), { minLength: 1, maxLength: 4 }), fc.boolean(), (parts, trailingSlash) => {
      const plain = canonicalRequestPath('/' + parts.map(([text]) => spell(text, [3])).join('/'));
      const spelled = canonicalRequestPath('/' + parts.map(([text, c]) => spell(text, c)).join('/') + (trailingSlash ? '/' : ''));
      assert.ok(plain.ok && spelled.ok);
      assert.deepEqual(spelled.segments, parts.map(([text]) => text));
      assert.equal(spelled.text, plain.text);
      const again = canonicalRequestPath(spelled.text);
      assert.ok(again.ok);
      assert.equal(again.text, spelled.text);
    }), { seed: SEED, numRuns: 300 });
  });

  it('a dot-segment, an empty segment or an encoded slash is refused in every spelling', () => {
    const bad = fc.constantFrom('.', '..', '', 'a/b');
    fc.assert(fc.property(fc.array(segment, { maxLength: 3 }), bad, fc.array(segment, { maxLength: 3 }), choices, (head, poison, tail, c) => {
      const spelledPoison = poison === 'a/b' ? `a%2${c[0]! % 2 ? 'f' : 'F'}b` : spell(poison, c);
      const path = '/' + [...head.map((text) => spell(text, c)), spelledPoison, ...tail.map((text) => spell(text, c))].join('/');
      // A lone empty segment at the end is the one trailing slash that is allowed.
      if (poison === '' && tail.length === 0) return;
      assert.equal(canonicalRequestPath(path).ok, false, path);
    }), { seed: SEED + 1, numRuns: 300 });
  });

  for (const threads of THREAD_COUNTS) describe(`through the gateway (${threadsLabel(threads)})`, () => {
    let backend: CountingBackend;
    let gateway: Gateway;
    let port: number;
    const raw = async (target: string, headers = '') => {
      const answer = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: canon.test\r\n${headers}Connection: close\r\n\r\n`);
      const split = answer.indexOf('\r\n\r\n');
      return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]), head: answer.slice(0, split), body: answer.slice(split + 4) };
    };
    const refresh = (target: string) => raw(target, `Cache-Control: max-age=0\r\nx-api-key: ${USER_KEY}\r\n`);

    before(async () => {
      backend = await startBackend();
      gateway = await startGateway({
        identities: [
          { name: 'ops', apiKey: OPS_KEY, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] },
          { name: 'user', apiKey: USER_KEY, policy: [
            { effect: 'Allow', action: 'execute-api:*', resource: '*' },
            { effect: 'Deny', action: 'execute-api:InvalidateCache', resource: 'arn:aws:execute-api:*:*:canon/prod/GET/admin/*' },
          ] },
        ],
        apis: [{
          id: 'canon',
          resources: {
            '/admin/{item}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/admin/{item}` } } },
            '/open/{proxy+}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/open/{proxy+}` } } },
          },
          stages: { prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 300 } } } },
        }],
      }, { threads });
      port = Number(new URL(gateway.dataUrl).port);
    });
    after(async () => {
      await gateway.close();
      await backend.close();
    });
    beforeEach(async () => {
      const flushed = await call(`${gateway.adminUrl}/restapis/canon/stages/prod/cache/data`, { method: 'DELETE', headers: { 'x-api-key': OPS_KEY } });
      assert.equal(flushed.status, 202);
    });

    it('a Deny on InvalidateCache holds for every spelling of the denied path; routing and key agree', async () => {
      await fc.assert(fc.asyncProperty(segment, choices, choices, fc.boolean(), async (item, stageChoices, itemChoices, trailingSlash) => {
        const plain = `/prod/admin/${spell(item, [3])}`;
        const stored = await raw(plain);
        assert.equal(stored.status, 200);
        const calls = backend.calls;
        const spelled = `/${spell('prod', stageChoices)}/${spell('admin', itemChoices)}/${spell(item, itemChoices)}${trailingSlash ? '/' : ''}`;
        const answer = await refresh(spelled);
        assert.equal(answer.status, 200, spelled);
        assert.match(answer.head, /warning: 199/i, `${spelled}: the Deny was not applied`);
        assert.match(answer.head, /cache-status: [^\r]*hit/i, `${spelled}: not the entry of ${plain}`);
        assert.equal(backend.calls, calls, `${spelled} refreshed a denied entry`);
        assert.equal(answer.body, stored.body, 'the same resource, the same entry');
      }), { seed: SEED + 2, numRuns: RUNS });
    });

    it('an allowed resource is refreshed in every spelling, and the backend sees one URL for all of them', async () => {
      await fc.assert(fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 3 }), choices, async (rest, c) => {
        const plain = `/prod/open/${rest.map((text) => spell(text, [3])).join('/')}`;
        await raw(plain);
        const backendUrl = backend.seen[backend.seen.length - 1]!.url;
        const calls = backend.calls;
        const spelled = `/prod/${spell('open', c)}/${rest.map((text) => spell(text, c)).join('/')}`;
        const answer = await refresh(spelled);
        assert.equal(answer.status, 200, spelled);
        assert.doesNotMatch(answer.head, /warning: 199/i, `${spelled} was denied`);
        assert.equal(backend.calls, calls + 1, `${spelled} did not refresh`);
        assert.equal(backend.seen[backend.seen.length - 1]!.url, backendUrl, 'another spelling reached another backend URL');
      }), { seed: SEED + 3, numRuns: RUNS });
    });

    it('dot-segments, empty segments and encoded slashes are refused with 400 JSON in every spelling, before any backend', async () => {
      const poison = fc.constantFrom('..', '.', '', 'a%2Fb', 'a%2fb');
      await fc.assert(fc.asyncProperty(poison, choices, fc.constantFrom('admin', 'open'), async (bad, c, resource) => {
        const calls = backend.calls;
        const spelledBad = bad.includes('%') ? bad : spell(bad, c);
        const answer = await refresh(`/prod/${spell(resource, c)}/${spelledBad}/x`);
        assert.equal(answer.status, 400);
        assert.match(answer.head, /content-type: application\/json/i);
        assert.equal(backend.calls, calls);
      }), { seed: SEED + 4, numRuns: RUNS });
    });
  });
});
