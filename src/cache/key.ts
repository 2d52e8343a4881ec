/**
 * Cache keys (SPEC §5 "Cache key"): a pure function of the request parts a method's
 * `cacheKeyParameters` name. The API and stage are not in the key: they pick the store's stage
 * space (store.ts `stageId`).
 *
 * A key is a sequence of self-delimiting fields, so no two different sequences give one string
 * (STYLE.md practice 4):
 *
 *   GET|5:/pets|p5:petId3:123|q4:type2*5:admin1:x|h6:accept0*|b-
 *   ^method  ^namespace  ^part: kind, name, value
 *
 * - value `LEN:TEXT` (decoded), `LEN~TEXT` (raw: the query text had invalid percent-encoding, so
 *   it is kept as sent and can never equal a decoded value), `-` (absent);
 * - list `COUNT*` followed by COUNT values (query strings and headers; `0*` is absent, `1*0:` is
 *   present but empty); a query value whose name is a keyed name in another case (`Type` when
 *   `type` is keyed) is written `!LEN:NAME` then its value, so it keys apart from the exact name.
 *
 * What the integration receives for every keyed input is built here too (`keyRequest`), from the
 * very values the key holds (SPEC §7 "No request input outside the cache key can change a cached
 * body"): one line per keyed header, keyed query parameters in one encoding, unkeyed ones
 * re-encoded so they cannot smuggle a keyed one (`;`), or dropped (`cacheForwarding: keyed-only`).
 *
 * Everything that can be is computed by compileKeyPlan when config loads (STYLE.md practice 9).
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors.js';
import { HTTP_METHODS, REQUEST_PARAMETER, type HttpMethod, type RouteMethod } from '../config/schema.js';
import { pathParameterNames } from '../config/naming.js';

/** One step of a `method.request.body.<json path>`: an object member or an array index. */
export type JsonPathStep = string | number;

/** One part of the key. Every part has every field, so the hot loop sees one object shape. */
interface KeyPart {
  readonly kind: 'path' | 'query' | 'header' | 'body' | 'json';
  /** `|p5:petId`: kind and name, written before the value. */
  readonly label: string;
  /** Path parameter, decoded query parameter (one char per UTF-8 byte) or lower-case header name. */
  readonly name: string;
  /** Query parts: index into the per-request value slots. */
  readonly slot: number;
  /** JSON parts: where in the body. */
  readonly path: readonly JsonPathStep[] | undefined;
}

export interface KeyPlan {
  /** The route's method; `ANY` routes key the request's method. */
  readonly method: RouteMethod;
  readonly namespace: string;
  /** Parts in canonical order (path, query, header, body, json; by name within a kind). */
  readonly parts: readonly KeyPart[];
  /** Key prefix (method + namespace) per request method; HEAD shares GET's. */
  readonly prefixes: Readonly<Record<HttpMethod, string>>;
  /** Decoded query parameter names, by slot. */
  readonly queryNames: readonly string[];
  /** The same names in ASCII lower case: a name equal to one of them in another case is keyed too. */
  readonly foldedQueryNames: readonly string[];
  /** Lower-case names of the keyed headers, in key order. */
  readonly headerNames: readonly string[];
  readonly hasJsonParts: boolean;
}

export interface KeyParts {
  readonly method: HttpMethod;
  /** As the router extracted them; used verbatim (the router decides on decoding, once). */
  readonly pathParameters: Readonly<Record<string, string>>;
  /** The request target after `?`, without the `?` itself; '' when there is none. */
  readonly rawQuery: string;
  /**
   * Lower-case name → value. keyRequest passes the canonical one-line values it forwards
   * (canonicalHeaders); an array keys each item (a caller that has several lines as a list).
   */
  readonly headers: IncomingHttpHeaders;
  readonly body?: Buffer;
}

const KIND_ORDER = { path: 0, query: 1, header: 2, body: 3, json: 4 } as const;

/**
 * Builds the key plan of one route method. Throws on a malformed body JSON path (config
 * validation is expected to have rejected it already; see parseJsonPath).
 */
export function compileKeyPlan(
  method: RouteMethod,
  resourcePath: string,
  cacheKeyParameters: readonly string[],
  namespace: string = resourcePath,
): KeyPlan {
  const byLabel = new Map<string, KeyPart>();
  const add = (kind: KeyPart['kind'], label: string, name = '', path?: JsonPathStep[]) =>
    byLabel.set(label, { kind, label, name, slot: -1, path });

  // Path parameters are always part of the key, listed or not (safer than AWS: SPEC §5).
  for (const name of pathParameterNames(resourcePath)) add('path', `|p${lengthPrefixed(name)}`, name);

  for (const parameter of cacheKeyParameters) {
    const match = REQUEST_PARAMETER.exec(parameter);
    if (!match) throw new Error(`not a request parameter: ${parameter}`);
    const [, location, name, body, jsonPath] = match;
    if (body) {
      if (jsonPath === undefined) add('body', '|b');
      else {
        const path = parseJsonPath(jsonPath);
        if (!path) throw new Error(`malformed JSON path in ${parameter}`);
        add('json', `|j${lengthPrefixed(JSON.stringify(path))}`, '', path);
      }
    } else if (location === 'path') {
      add('path', `|p${lengthPrefixed(name!)}`, name!);
    } else if (location === 'querystring' || location === 'multivaluequerystring') {
      // Both kinds key every value of the name, in order: an HTTP_PROXY backend sees them all,
      // so keying only the last (AWS's single-value view) could serve one caller's answer to another.
      const decodedName = toByteString(name!);
      add('query', `|q${lengthPrefixed(decodedName)}`, decodedName);
    } else {
      // Header names are case-insensitive; Node hands them to us in lower case.
      const lower = name!.toLowerCase();
      add('header', `|h${lengthPrefixed(lower)}`, lower);
    }
  }

  // A keyed body is read by its Content-Type and Content-Encoding (JSON or a form, gzip or not):
  // they shape the answer as much as the body does, so they are keyed with it.
  if ([...byLabel.values()].some((part) => part.kind === 'body' || part.kind === 'json')) {
    for (const name of ['content-type', 'content-encoding']) add('header', `|h${lengthPrefixed(name)}`, name);
  }

  // Canonical order: listing order in the config never changes the key, so resources sharing a
  // namespace with the same parameters share entries.
  const sorted = [...byLabel.values()].sort(
    (a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0),
  );
  const queryNames: string[] = [];
  const parts = sorted.map((part) => Object.freeze(part.kind === 'query' ? { ...part, slot: queryNames.push(part.name) - 1 } : part));
  const headerNames = parts.filter((part) => part.kind === 'header').map((part) => part.name);

  const namespaceField = `|${lengthPrefixed(namespace)}`;
  const prefixes = {} as Record<HttpMethod, string>;
  for (const requestMethod of HTTP_METHODS) {
    // HEAD is keyed as GET, so HEAD is answered from the GET entry (SPEC §5).
    prefixes[requestMethod] = (requestMethod === 'HEAD' ? 'GET' : requestMethod) + namespaceField;
  }

  return Object.freeze({
    method,
    namespace,
    parts: Object.freeze(parts),
    prefixes: Object.freeze(prefixes),
    queryNames: Object.freeze(queryNames),
    foldedQueryNames: Object.freeze(queryNames.map(asciiLowerCase)),
    headerNames: Object.freeze(headerNames),
    hasJsonParts: parts.some((part) => part.kind === 'json'),
  });
}

// Per-request scratch for query values, reused across calls: buildCacheKey is synchronous, so no
// two calls can interleave.
let queryScratch: string[] = [];
let queryCounts: number[] = [];

/** The cache key of one request under a plan. Never throws on request input. */
export function buildCacheKey(plan: KeyPlan, request: KeyParts): string {
  if (plan.queryNames.length > 0) collectQuery(plan, request.rawQuery);
  return buildKey(plan, request.method, request.pathParameters, request.headers, request.body);
}

/** The key from the parts; query values come from the last collectQuery (same tick). */
function buildKey(plan: KeyPlan, method: HttpMethod, pathParameters: Readonly<Record<string, string>>, headers: IncomingHttpHeaders | Readonly<Record<string, string>>, body: Buffer | undefined): string {
  let key = plan.prefixes[method];
  const parts = plan.parts;
  if (parts.length === 0) return key;
  let json: JsonBody | undefined;
  if (plan.hasJsonParts) json = parseJsonBody(body);

  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    key += part.label;
    switch (part.kind) {
      case 'path': {
        const value = pathParameters[part.name];
        key += value === undefined ? '-' : value.length + ':' + value;
        break;
      }
      case 'query':
        key += queryCounts[part.slot]! + '*' + queryScratch[part.slot]!;
        break;
      case 'header':
        key += headerValues(headers[part.name]);
        break;
      case 'body':
        key += body === undefined ? '-' : lengthPrefixed(sha256(body));
        break;
      case 'json':
        key += jsonPart(json!, part.path!);
        break;
    }
  }
  return key;
}

function lengthPrefixed(text: string): string {
  return `${text.length}:${text}`;
}

/** How unkeyed query parameters of a cached request reach the integration. */
export type UnkeyedQuery = 'forward' | 'strip';

/** What the integration receives for a cached request: built from the values its key holds. */
export interface ForwardedInputs {
  /** Lower-case name → the one value the key holds, for each keyed (or body-framing) header present. */
  readonly headers: Readonly<Record<string, string>>;
  /** The same as `[name, value, …]` lines, one per name. */
  readonly rawHeaders: readonly string[];
  /** The query string to send, without `?`. */
  readonly query: string;
}

export interface KeyedRequest {
  readonly key: string;
  readonly forwarded: ForwardedInputs;
}

export interface RequestInputs {
  readonly method: HttpMethod;
  readonly pathParameters: Readonly<Record<string, string>>;
  readonly rawQuery: string;
  /** Node's raw header list: every line the caller sent, in order. */
  readonly rawHeaders: readonly string[];
  readonly body?: Buffer;
  /** Headers forwarded with a body though not keyed (its framing), checked and sent the same way. */
  readonly extraHeaderNames?: readonly string[];
  readonly unkeyedQuery: UnkeyedQuery;
}

/**
 * The key of one request and what its integration receives. Throws a GatewayError (400) when a
 * keyed input is ambiguous: a header that may appear once (RFC 9110 §5.3) sent on several lines.
 */
export function keyRequest(plan: KeyPlan, request: RequestInputs): KeyedRequest {
  const headers = canonicalHeaders(plan.headerNames, request.extraHeaderNames, request.rawHeaders);
  if (plan.hasJsonParts && request.body !== undefined && hasDuplicateMembers(request.body)) {
    // JSON.parse keys the last of `{"id":1,"id":2}`, a backend may read the first (RFC 8259 §4:
    // names SHOULD be unique; behaviour with duplicates is unpredictable): ambiguous, refused.
    throw new GatewayError('BAD_REQUEST', 'The JSON body has a member name twice in one object; its members are part of the cache key');
  }
  if (plan.queryNames.length > 0) collectQuery(plan, request.rawQuery);
  const key = buildKey(plan, request.method, request.pathParameters, headers.values, request.body);
  // The query to send is needed only on a miss: built on first use, from the same parse rules.
  const forwarded = new Forwarded(headers.values, headers.lines, plan, request.rawQuery, request.unkeyedQuery === 'strip');
  return { key, forwarded };
}

class Forwarded implements ForwardedInputs {
  private built: string | undefined;

  constructor(
    readonly headers: Readonly<Record<string, string>>,
    readonly rawHeaders: readonly string[],
    private readonly plan: KeyPlan,
    private readonly rawQuery: string,
    private readonly strip: boolean,
  ) {
    if (rawQuery === '') this.built = '';
  }

  get query(): string {
    return (this.built ??= forwardedQuery(this.plan, this.rawQuery, this.strip));
  }
}

/**
 * Headers Node keeps only the first line of (node:http `IncomingMessage.headers`): fields defined
 * as a single value (RFC 9110 §5.3: a sender must not repeat them). A repeat of one of these that
 * is keyed is refused: keying the first line while a backend reads the last is the poisoning of
 * issue 13, and joining them would make a value neither line had.
 */
const SINGLE_VALUE_HEADERS: ReadonlySet<string> = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

/**
 * One value per keyed header, from every raw line with that name (names compared
 * case-insensitively; Node has already trimmed each value and refused obs-fold): list fields
 * joined with `, ` (RFC 9110 §5.3), Cookie with `; ` (RFC 6265 §5.4), single-value fields refused
 * when repeated. The integration then receives exactly these lines and no others.
 */
export function canonicalHeaders(names: readonly string[], extra: readonly string[] | undefined, rawHeaders: readonly string[]): { values: Record<string, string>; lines: string[] } {
  const values: Record<string, string> = Object.create(null) as Record<string, string>;
  const lines: string[] = [];
  const count = names.length + (extra?.length ?? 0);
  for (let n = 0; n < count; n++) {
    const name = n < names.length ? names[n]! : extra![n - names.length]!;
    if (name in values) continue;
    let value: string | undefined;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const raw = rawHeaders[i]!;
      if (raw.length !== name.length || raw.toLowerCase() !== name) continue;
      const line = rawHeaders[i + 1]!;
      if (value === undefined) value = line;
      else if (SINGLE_VALUE_HEADERS.has(name)) throw new GatewayError('BAD_REQUEST', `Header ${name} is part of the cache key and was sent more than once`);
      else value += (name === 'cookie' ? '; ' : ', ') + line;
    }
    if (value === undefined) continue;
    values[name] = value;
    lines.push(name, value);
  }
  return { values, lines };
}

/** Fills queryScratch/queryCounts with the values of the plan's query names, in query order. */
function collectQuery(plan: KeyPlan, rawQuery: string): void {
  const size = plan.queryNames.length;
  if (queryScratch.length < size) {
    queryScratch = new Array<string>(size);
    queryCounts = new Array<number>(size);
  }
  for (let i = 0; i < size; i++) {
    queryScratch[i] = '';
    queryCounts[i] = 0;
  }
  for (let start = 0; start < rawQuery.length; start = pairEnd + 1) {
    if (!nextPair(rawQuery, start)) continue;
    const slot = pairSlot(plan, rawQuery, start, pairEq);
    if (slot < 0) continue;
    const value = decodeFormComponent(rawQuery, pairValue, pairEnd);
    const entry = value === undefined ? `${pairEnd - pairValue}~${rawQuery.slice(pairValue, pairEnd)}` : lengthPrefixed(value);
    queryScratch[slot] += variantName === undefined ? entry : `!${lengthPrefixed(variantName)}${entry}`;
    queryCounts[slot]!++;
  }
}

/** Set by nextPair: the pair's name is [start, pairEq), its value [pairValue, pairEnd); `&` or the end at pairEnd. */
let pairEq = 0;
let pairValue = 0;
let pairEnd = 0;

/**
 * Splits the query pair that starts at `start` (the one splitting rule of keying and forwarding, so
 * both read the same pairs); false for an empty pair (`&&`). Module state, not an object: hot path.
 */
function nextPair(text: string, start: number): boolean {
  let amp = text.indexOf('&', start);
  if (amp < 0) amp = text.length;
  let eq = text.indexOf('=', start);
  if (eq < 0 || eq > amp) eq = amp;
  pairEq = eq;
  pairValue = eq < amp ? eq + 1 : amp;
  pairEnd = amp;
  return amp > start;
}

/** Set by pairSlot: the decoded name when it matched a keyed name in another case, else undefined. */
let variantName: string | undefined;

/**
 * The slot of the pair named `text[start, end)`, or -1 when it is not keyed. A keyed name in
 * another case (`Type` for `type`) takes the slot too, with `variantName` set: backends that
 * compare names case-insensitively would read it as the keyed one.
 */
function pairSlot(plan: KeyPlan, text: string, start: number, end: number): number {
  variantName = undefined;
  const slot = querySlot(plan.queryNames, text, start, end);
  if (slot >= 0) return slot;
  const folded = plan.foldedQueryNames;
  const plain = !needsDecoding(text, start, end);
  for (let i = 0; i < folded.length; i++) {
    // Cheap rejection in place: a plain name of another length cannot fold to this one.
    if (plain && folded[i]!.length !== end - start) continue;
    const name = plain ? text.slice(start, end) : decodeFormComponent(text, start, end);
    if (name === undefined) return -1;
    const index = folded.indexOf(plain ? asciiLowerCase(name) : unicodeFold(name));
    if (index >= 0) variantName = name;
    return index;
  }
  return -1;
}

/**
 * The four characters outside ASCII whose simple case mapping is an ASCII letter (Unicode
 * UnicodeData.txt): a backend comparing names case-insensitively per character (Java's
 * `equalsIgnoreCase`, `String.CASE_INSENSITIVE_ORDER` maps) reads `ſort` as
 * `sort` and `\u212Aind` as `kind`, so such a name is a case variant of the keyed one too.
 */
const ASCII_CASE_MAPPED = /[\u0130\u0131\u017F\u212A]/g;
const HAS_ASCII_CASE_MAPPED = /[\u0130\u0131\u017F\u212A]/;
const ASCII_CASE_MAPPING: Readonly<Record<string, string>> = { '\u0130': 'i', '\u0131': 'i', '\u017F': 's', '\u212A': 'k' };

/** A decoded name (one char per byte) folded for comparison with the ASCII lower-case keyed names. */
function unicodeFold(bytes: string): string {
  if (!/[\x80-\xff]/.test(bytes)) return asciiLowerCase(bytes);
  const text = Buffer.from(bytes, 'latin1').toString('utf8');
  if (!HAS_ASCII_CASE_MAPPED.test(text)) return asciiLowerCase(bytes);
  return asciiLowerCase(text.replace(ASCII_CASE_MAPPED, (char) => ASCII_CASE_MAPPING[char]!));
}

/**
 * The query a cached request sends: keyed pairs first, by slot, each in the one encoding of the
 * value the key holds; then (unless stripped) unkeyed pairs in their order, re-encoded the same way.
 */
function forwardedQuery(plan: KeyPlan, rawQuery: string, strip: boolean): string {
  const keyed: string[] = plan.queryNames.map(() => '');
  let unkeyed = '';
  for (let start = 0; start < rawQuery.length; start = pairEnd + 1) {
    if (!nextPair(rawQuery, start)) continue;
    const slot = plan.queryNames.length > 0 ? pairSlot(plan, rawQuery, start, pairEq) : -1;
    if (slot >= 0) {
      // The exact keyed name is sent as configured; a variant keeps its own spelling (it is keyed so).
      const name = variantName === undefined ? formEncode(plan.queryNames[slot]!) : formEncode(variantName);
      const pair = `${name}=${canonicalPart(rawQuery, pairValue, pairEnd)}`;
      keyed[slot] = keyed[slot] === '' ? pair : `${keyed[slot]}&${pair}`;
    } else if (!strip) {
      const pair = `${canonicalPart(rawQuery, start, pairEq)}=${canonicalPart(rawQuery, pairValue, pairEnd)}`;
      unkeyed = unkeyed === '' ? pair : `${unkeyed}&${pair}`;
    }
  }
  let query = '';
  for (const group of keyed) if (group !== '') query = query === '' ? group : `${query}&${group}`;
  if (unkeyed !== '') query = query === '' ? unkeyed : `${query}&${unkeyed}`;
  return query;
}

/**
 * One name or value as sent on: decoded and encoded again, so no `;`, `=` or other delimiter a
 * backend might split on survives unescaped (`utm=x;type=evil` → `utm=x%3Btype%3Devil`). Text of
 * unreserved characters only is already in that form. A part that does not decode goes as it came
 * (the data plane refuses malformed percent-encoding before this).
 */
function canonicalPart(text: string, start: number, end: number): string {
  if (unreservedOnly(text, start, end)) return text.slice(start, end);
  const decoded = decodeFormComponent(text, start, end);
  return decoded === undefined ? text.slice(start, end) : formEncode(decoded);
}

function unreservedOnly(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    const letter = (code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a;
    if (!letter && !(code >= 0x30 && code <= 0x39) && code !== 0x2d && code !== 0x2e && code !== 0x5f && code !== 0x7e) return false;
  }
  return true;
}


/**
 * A byte string (one char per byte) percent-encoded with upper-case hex, every byte but RFC 3986
 * unreserved ones escaped: one spelling per value (`+`, `%20` and `%2b`-vs-`%2B` all become one).
 */
function formEncode(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const code = bytes.charCodeAt(i);
    const char = bytes[i]!;
    if ((code >= 0x30 && code <= 0x39) || ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a) || char === '-' || char === '.' || char === '_' || char === '~') out += char;
    else out += '%' + HEX[code >> 4]! + HEX[code & 15]!;
  }
  return out;
}

const HEX = '0123456789ABCDEF';

/** The slot of the query name at `text[start, end)`, compared after decoding; -1 when not keyed. */
function querySlot(names: readonly string[], text: string, start: number, end: number): number {
  const length = end - start;
  if (!needsDecoding(text, start, end)) {
    // The common case: compare in place, without slicing the name out.
    for (let slot = 0; slot < names.length; slot++) {
      const name = names[slot]!;
      if (name.length === length && text.startsWith(name, start)) return slot;
    }
    return -1;
  }
  // A name that does not decode cannot match a configured name (those are plain text).
  const decoded = decodeFormComponent(text, start, end);
  return decoded === undefined ? -1 : names.indexOf(decoded);
}

function asciiLowerCase(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]/g, (char) => char.toLowerCase()) : text;
}

/**
 * application/x-www-form-urlencoded decoding of `text[start, end)` into a byte string (one char per
 * byte, 0..255), so `%61dmin` and `admin` are one value and invalid UTF-8 never merges with
 * U+FFFD. `+` is a space. Undefined when a `%` is not followed by two hex digits.
 */
function decodeFormComponent(text: string, start: number, end: number): string | undefined {
  if (!needsDecoding(text, start, end)) return text.slice(start, end);

  let out = '';
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2b) out += ' ';
    else if (code === 0x25) {
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (i + 2 >= end || high < 0 || low < 0) return undefined;
      out += String.fromCharCode(high * 16 + low);
      i += 2;
    } else if (code > 0x7f) {
      // Literal non-ASCII text stands for its UTF-8 bytes, as its percent-encoded form would.
      let next = i + 1;
      while (next < end && text.charCodeAt(next) > 0x7f) next++;
      out += toByteString(text.slice(i, next));
      i = next - 1;
    } else out += text[i];
  }
  return out;
}

/** Whether `text[start, end)` has a `%`, a `+` or non-ASCII text, which decoding would change. */
function needsDecoding(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x25 /* % */ || code === 0x2b /* + */ || code > 0x7f) return true;
  }
  return false;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** UTF-8 bytes of `text`, one char per byte. */
function toByteString(text: string): string {
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
}

function headerValues(value: string | string[] | undefined): string {
  if (value === undefined) return '0*';
  if (typeof value === 'string') return '1*' + lengthPrefixed(value);
  let out = value.length + '*';
  for (const item of value) out += lengthPrefixed(item);
  return out;
}

/**
 * Whether a JSON text has an object with one member name twice (names compared after unescaping:
 * `"\u0069d"` is `"id"`). Text that is not JSON answers false (it is keyed whole, see parseJsonBody).
 */
export function hasDuplicateMembers(body: Buffer): boolean {
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    return false;
  }
  // The text is valid JSON: a scan for strings and brackets is enough.
  const objects: (Set<string> | undefined)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const members = objects[objects.length - 1];
      if (members && expectName) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (members.has(name)) return true;
        members.add(name);
        expectName = false;
      }
      i = end;
    } else if (char === '{') {
      objects.push(new Set());
      expectName = true;
    } else if (char === '[') {
      objects.push(undefined);
    } else if (char === '}' || char === ']') {
      objects.pop();
    } else if (char === ',') {
      expectName = objects[objects.length - 1] !== undefined;
    }
  }
  return false;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

type JsonBody = { readonly kind: 'absent' } | { readonly kind: 'invalid'; readonly hash: string } | { readonly kind: 'json'; readonly value: unknown };

const ABSENT_BODY: JsonBody = { kind: 'absent' };

function parseJsonBody(body: Buffer | undefined): JsonBody {
  if (body === undefined) return ABSENT_BODY;
  // Invalid UTF-8 would decode to U+FFFD, so `"\xff"`, `"\xfe"` and a real `"\uFFFD"` would key
  // alike while the backend receives different bytes: such a body is keyed whole.
  if (!isUtf8(body)) return { kind: 'invalid', hash: sha256(body) };
  try {
    return { kind: 'json', value: JSON.parse(body.toString('utf8')) };
  } catch {
    // Not JSON: key the whole body, so two different bodies never share an entry.
    return { kind: 'invalid', hash: sha256(body) };
  }
}

function jsonPart(body: JsonBody, path: readonly JsonPathStep[]): string {
  if (body.kind === 'absent') return '-';
  if (body.kind === 'invalid') return `#${lengthPrefixed(body.hash)}`;
  let value: unknown = body.value;
  for (const step of path) {
    if (value === null || typeof value !== 'object') return '-';
    if (typeof step === 'number') {
      if (!Array.isArray(value)) return '-';
      value = value[step];
    } else {
      if (Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, step)) return '-';
      value = (value as Record<string, unknown>)[step];
    }
  }
  if (value === undefined) return '-';
  try {
    return lengthPrefixed(canonicalJson(value));
  } catch (error) {
    // canonicalJson recurses: a keyed value nested thousands deep overflows the stack.
    if (error instanceof RangeError) throw new GatewayError('BAD_REQUEST', 'A keyed JSON value is nested too deeply');
    throw error;
  }
}

/** JSON with object members sorted by name, so member order never splits entries. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${canonicalJson(record[name])}`);
  return `{${members.join(',')}}`;
}

/**
 * `$.user.id`, `user.id`, `items[0].id`, `$[items][0]` → steps; undefined when malformed.
 * Exported so config validation can reject a bad path with its location.
 */
export function parseJsonPath(text: string): JsonPathStep[] | undefined {
  const steps: JsonPathStep[] = [];
  let rest = text.startsWith('$') ? text.slice(1) : text.startsWith('.') ? undefined : `.${text}`;
  if (rest === undefined) return undefined;
  const step = /^(?:\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\[([A-Za-z_$][\w$-]*)\])/;
  while (rest.length > 0) {
    const match = step.exec(rest);
    if (!match) return undefined;
    if (match[2] !== undefined) steps.push(Number(match[2]));
    else steps.push(match[1] ?? match[3]!);
    rest = rest.slice(match[0].length);
  }
  return steps;
}
