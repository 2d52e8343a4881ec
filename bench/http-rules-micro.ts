/**
 * `node dist/bench/http-rules-micro.js`: the hot-path cost of httpCache's own RFC 9111 rules beside
 * the http-cache-semantics library (a devDependency), for the decision in the README: the store
 * decision (once per miss) and the reuse decision (once per hit), in µs per call.
 */
import CachePolicy from 'http-cache-semantics';
import { correctedInitialAge, freshnessLifetime, responseDirectives, stalePermissions, storability, usability } from '../src/cache/policies/http/rules.js';

const ITERATIONS = 200_000;
const now = Date.now();
const responseHeaders = { 'cache-control': 'public, max-age=300', etag: '"abc"', date: new Date(now).toUTCString(), 'content-type': 'application/json', vary: 'accept-encoding' };
const requestHeaders = { host: 'api.example', accept: '*/*', 'accept-encoding': 'gzip' };
const rules = { heuristicFraction: 0.1, maxTtl: 86_400, targeted: ['cdn-cache-control'] };

function time(label: string, run: () => unknown): void {
  let sink: unknown;
  for (let i = 0; i < 20_000; i++) sink = run();
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) sink = run();
  const micros = Number(process.hrtime.bigint() - started) / ITERATIONS / 1000;
  console.log(`${label.padEnd(58)} ${micros.toFixed(2)} µs/op${sink === undefined ? '' : ''}`);
}

time('store: http-cache-semantics (new CachePolicy, storable, ttl)', () => {
  const policy = new CachePolicy({ method: 'GET', url: '/x', headers: requestHeaders }, { status: 200, headers: responseHeaders }, { shared: true });
  return policy.storable() && policy.timeToLive();
});
time('store: own rules (directives, lifetime, storability, age)', () => {
  const read = responseDirectives(responseHeaders, rules);
  const lifetime = freshnessLifetime({ statusCode: 200, headers: responseHeaders }, read, rules, now);
  storability({ method: 'GET', headers: requestHeaders }, { statusCode: 200, headers: responseHeaders }, read, lifetime);
  return correctedInitialAge(responseHeaders, now, now) + stalePermissions(read).staleIfError;
});
const stored = new CachePolicy({ method: 'GET', url: '/x', headers: requestHeaders }, { status: 200, headers: responseHeaders }, { shared: true });
const request = { method: 'GET', url: '/x', headers: requestHeaders };
time('hit: http-cache-semantics satisfiesWithoutRevalidation', () => stored.satisfiesWithoutRevalidation(request));
const permissions = stalePermissions(responseDirectives(responseHeaders, rules));
const entry = { storedAt: now, staleAt: now + 300_000 };
time('hit: own usability (entry directives read once per entry)', () => usability(entry, permissions, requestHeaders, now + 1000));
