/**
 * Invariant (SPEC §7 Guarantees, issue 13 defect 3): no request input outside the cache key can
 * change a cached body. For any repetition, encoding and spelling of keyed and unkeyed headers and
 * query parameters an attacker sends first, a clean request afterwards gets exactly the body its
 * own keyed inputs produce — whether it is served the attacker's entry or not.
 *
 * Real gateway, real backend over sockets. The backend is as hostile to the gateway as real ones
 * are: on `/k/` it reads the *last* raw line of a header and the *last* value of a query parameter,
 * splitting on `;` as well as `&` and comparing names case-insensitively; on `/s/` (a method with
 * `cacheForwarding: keyed-only`) it echoes the whole query string and every header it received.
 * Generated with fast-check, seeded and bounded (numRuns, one gateway for all runs).
 *
 * Run with one gateway thread and with two sharing one store (issue 17): each request opens a
 * fresh connection, so the attacker's request and the victim's land on either thread — an entry
 * one thread stored is served by the other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type BackendHandler, type CountingBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { rawExchange } from '../helpers/http.js';
import { assertAnsweredByBothThreads, THREAD_COUNTS, threadsLabel } from '../helpers/threads.js';

const SEED = 1313;
const RUNS = 60;
const EVIL = 'EVIL';
/** Headers the gateway writes itself; the `/s/` echo leaves them out. */
const GATEWAY_SET = new Set(['host', 'connection', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'content-length']);

const hostileBackend: BackendHandler = (req, res) => {
  const [path = '', search = ''] = (req.url ?? '').split('?');
  let text: string;
  if (path.startsWith('/k/')) {
    const lastHeader: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) lastHeader[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
    let type: string | undefined;
    for (const pair of search.split(/[&;]/)) {
      const [name = '', value = ''] = pair.split('=');
      if (safeDecode(name).toLowerCase() === 'type') type = safeDecode(value);
    }
    text = JSON.stringify({ path, ua: lastHeader['user-agent'], lang: lastHeader['accept-language'], evil: lastHeader['x-evil'], type });
  } else {
    const headers: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase();
      if (!GATEWAY_SET.has(name)) headers.push([name, req.rawHeaders[i + 1]!]);
    }
    headers.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    text = JSON.stringify({ url: req.url, headers });
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes (the one spelling a clean client uses). */
const strictEncode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

/** A query value's spelling: each byte literal where that is unambiguous, else %xx in either case; a space may be `+`. */
function spellQuery(value: string, choices: readonly number[]): string {
  let out = '';
  let i = 0;
  for (const byte of Buffer.from(value, 'utf8')) {
    const choice = choices[i++ % choices.length]!;
    const char = String.fromCharCode(byte);
    const hex = byte.toString(16).padStart(2, '0');
    if (byte === 0x20 && choice === 0) out += '+';
    else if (/[A-Za-z0-9._~-]/.test(char) && choice < 2) out += char;
    else out += '%' + (choice === 2 ? hex : hex.toUpperCase());
  }
  return out;
}

interface Clean {
  readonly type: string;
  readonly lang: string;
  readonly ua: string;
}

/** What an attacker adds or changes around the clean inputs. */
type Tamper =
  | { kind: 'respell-type'; choices: number[] }
  | { kind: 'respell-name'; choices: number[] }
  | { kind: 'smuggle'; carrier: string }
  | { kind: 'unkeyed-param'; name: string }
  | { kind: 'second-keyed'; where: 'type' | 'lang' | 'ua' }
  | { kind: 'header-case'; which: 'lang' | 'ua' }
  | { kind: 'padding'; which: 'lang' | 'ua' }
  | { kind: 'unkeyed-header'; name: string };

const valueChars = fc.constantFrom('a', 'b', 'Z', '0', ' ', '+', ';', '&', '=', '%', '/', ',', 'é', '-', '.');
const queryValue = fc.array(valueChars, { maxLength: 6 }).map((chars) => chars.join(''));
const headerValue = fc.array(fc.constantFrom('a', 'b', 'Z', '0', ' ', ';', '=', ',', '/', '-'), { minLength: 1, maxLength: 6 })
  .map((chars) => chars.join('').trim())
  .filter((value) => value !== '');
const choices = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 });
const tamper: fc.Arbitrary<Tamper> = fc.oneof(
  choices.map((c) => ({ kind: 'respell-type' as const, choices: c })),
  choices.map((c) => ({ kind: 'respell-name' as const, choices: c })),
  fc.constantFrom('utm', 'x', 'Type', 'type%5B%5D').map((carrier) => ({ kind: 'smuggle' as const, carrier })),
  fc.constantFrom('Type', 'TYPE', 'tYpE', 'x', 'type%5B%5D', 'type ').map((name) => ({ kind: 'unkeyed-param' as const, name })),
  fc.constantFrom('type' as const, 'lang' as const, 'ua' as const).map((where) => ({ kind: 'second-keyed' as const, where })),
  fc.constantFrom('lang' as const, 'ua' as const).map((which) => ({ kind: 'header-case' as const, which })),
  fc.constantFrom('lang' as const, 'ua' as const).map((which) => ({ kind: 'padding' as const, which })),
  fc.constantFrom('X-Evil', 'X-Forwarded-Host', 'Forwarded', 'Accept-Language ', 'User_Agent', 'Accept_Language').map((name) => ({ kind: 'unkeyed-header' as const, name })),
);

/** Builds the attacker's raw request target and header block from the clean inputs and the tampering. */
function attack(prefix: string, clean: Clean, tampers: readonly Tamper[], order: number[]): { target: string; head: string } {
  let typeName = 'type';
  let typeValue = strictEncode(clean.type);
  const params: string[] = [];
  const headers: [string, string][] = [];
  const names = { lang: 'Accept-Language', ua: 'User-Agent' };
  const values = { lang: clean.lang, ua: clean.ua };
  for (const t of tampers) {
    switch (t.kind) {
      case 'respell-type': typeValue = spellQuery(clean.type, t.choices); break;
      case 'respell-name': typeName = spellQuery('type', t.choices); break;
      case 'smuggle': params.push(`${t.carrier}=x;type=${EVIL}`); break;
      case 'unkeyed-param': params.push(`${t.name}=${EVIL}`); break;
      case 'second-keyed':
        if (t.where === 'type') params.push(`type=${EVIL}`);
        else headers.push([names[t.where], EVIL]);
        break;
      case 'header-case': names[t.which] = names[t.which].toUpperCase(); break;
      case 'padding': values[t.which] = ` \t${values[t.which]}\t `; break;
      case 'unkeyed-header': if (!t.name.endsWith(' ')) headers.push([t.name, EVIL]); break;
    }
  }
  params.push(`${typeName}=${typeValue}`);
  headers.push([names.lang, values.lang], [names.ua, values.ua]);
  const shuffled = order.length ? [...params].sort((a, b) => (order[params.indexOf(a) % order.length]! - order[params.indexOf(b) % order.length]!)) : params;
  return { target: `${prefix}?${shuffled.join('&')}`, head: headers.map(([name, value]) => `${name}:${value}\r\n`).join('') };
}

for (const threads of THREAD_COUNTS) describe(`invariant: no input outside the cache key shapes a cached body (${threadsLabel(threads)})`, () => {
  let backend: CountingBackend;
  let gateway: Gateway;
  let port: number;
  let run = 0;

  const keyed = ['method.request.querystring.type', 'method.request.header.User-Agent', 'method.request.header.Accept-Language'];
  before(async () => {
    backend = await startBackend(hostileBackend);
    gateway = await startGateway({
      apis: [{
        id: 'inv',
        resources: {
          '/k/{run}': { GET: { cacheKeyParameters: keyed, integration: { type: 'HTTP_PROXY', uri: `${backend.url}/k/{run}` } } },
          '/s/{run}': { GET: { cacheKeyParameters: keyed, cacheForwarding: 'keyed-only', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/s/{run}` } } },
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

  async function get(target: string, head: string): Promise<{ status: number; headers: string; body: string }> {
    const raw = await rawExchange(port, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: inv.test\r\n${head}Connection: close\r\n\r\n`, 'latin1'));
    const split = raw.indexOf('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]), headers: raw.slice(0, split), body: Buffer.from(raw.slice(split + 4), 'latin1').toString('utf8') };
  }

  const cleanHead = (clean: Clean) => `Accept-Language: ${clean.lang}\r\nUser-Agent: ${clean.ua}\r\n`;
  const cleanInputs = fc.record({ type: queryValue, lang: headerValue, ua: headerValue });
  const attacks = fc.tuple(cleanInputs, fc.array(tamper, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(9), { maxLength: 4 }));

  /** The attacker first; a refused attack must be a 400 JSON that reached nobody. */
  async function sendAttack(prefix: string, clean: Clean, tampers: Tamper[], order: number[]): Promise<void> {
    const before = backend.calls;
    const { target, head } = attack(prefix, clean, tampers, order);
    const answer = await get(target, head);
    assert.ok(answer.status === 200 || answer.status === 400, `attack ${target} answered ${answer.status}`);
    if (answer.status === 400) {
      assert.match(answer.headers, /content-type: application\/json/i);
      assert.ok(typeof JSON.parse(answer.body).message === 'string');
      assert.equal(backend.calls, before, 'a refused request reached the backend');
    }
  }

  it('a backend reading the last line or value never renders an attacker\'s input for a clean key (forwarding unkeyed parameters, as AWS)', async () => {
    await fc.assert(fc.asyncProperty(attacks, async ([clean, tampers, order]) => {
      const prefix = `/prod/k/${++run}`;
      await sendAttack(prefix, clean, tampers, order);
      const victim = await get(`${prefix}?type=${strictEncode(clean.type)}`, cleanHead(clean));
      assert.equal(victim.status, 200);
      assert.deepEqual(JSON.parse(victim.body), { path: `/k/${run}`, ua: clean.ua, lang: clean.lang, type: clean.type });
    }), { seed: SEED, numRuns: RUNS });
  });

  it('with cacheForwarding: keyed-only the backend receives nothing but the keyed inputs, in the key\'s one spelling', async () => {
    await fc.assert(fc.asyncProperty(attacks, async ([clean, tampers, order]) => {
      const prefix = `/prod/s/${++run}`;
      await sendAttack(prefix, clean, tampers, order);
      const victim = await get(`${prefix}?type=${strictEncode(clean.type)}`, cleanHead(clean));
      assert.equal(victim.status, 200);
      assert.deepEqual(JSON.parse(victim.body), {
        url: `/s/${run}?type=${strictEncode(clean.type)}`,
        headers: [['accept-language', clean.lang], ['user-agent', clean.ua]],
      });
    }), { seed: SEED + 1, numRuns: RUNS });
  });

  it('every spelling of one clean request shares one entry (encodings, + for space, header case and padding)', async () => {
    const spelling = fc.tuple(cleanInputs, choices, choices, fc.boolean());
    await fc.assert(fc.asyncProperty(spelling, async ([clean, valueChoices, nameChoices, upper]) => {
      const prefix = `/prod/k/${++run}`;
      await get(`${prefix}?type=${strictEncode(clean.type)}`, cleanHead(clean));
      const calls = backend.calls;
      const head = `${upper ? 'ACCEPT-LANGUAGE' : 'accept-language'}:  ${clean.lang}\t\r\nuser-agent:${clean.ua}\r\n`;
      const respelled = await get(`${prefix}?${spellQuery('type', nameChoices)}=${spellQuery(clean.type, valueChoices)}`, head);
      assert.match(respelled.headers, /cache-status: [^\r]*hit/i, 'another spelling of the same inputs missed');
      assert.equal(backend.calls, calls);
      assert.equal(JSON.parse(respelled.body).type, clean.type);
    }), { seed: SEED + 2, numRuns: RUNS });
  });

  if (threads > 1) it('both threads answered some of the requests above (fresh connections spread across them)', () => assertAnsweredByBothThreads(gateway));
});
