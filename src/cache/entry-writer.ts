/**
 * Writing cache entries to callers. An entry's status line, stored headers and Content-Length are
 * serialized once, when it is first served, and kept on the entry; a hit adds its few per-request
 * lines and goes out with the stored body bytes (never copied) in one corked write.
 */
import { STATUS_CODES, validateHeaderName, validateHeaderValue, type ServerResponse } from 'node:http';
import type { IntegrationResponse } from '../integrations/integration.js';
import type { ByteRange, CacheEntry } from './entry.js';
import { parseHttpDate } from './headers/http-date.js';
import { ownedLatin1, ownedString } from './owned-string.js';

/**
 * The ServerResponse fields Node's own writeHead() reads and sets (lib/_http_outgoing.js; the same
 * since Node 0.x, not in @types/node). Setting `_header` to a finished head is what writeHead does
 * after validating and serializing every header on every call; a hit skips that work, and the
 * response otherwise goes through Node's normal end(): corked write, pipelining order, keep-alive.
 */
interface ResponseInternals {
  _header: string | null;
  _headerSent: boolean;
  shouldKeepAlive: boolean;
  maxRequestsOnConnectionReached?: boolean;
  _defaultKeepAlive?: boolean;
  _keepAliveTimeout?: number;
  _maxRequestsPerSocket?: number;
  _expect_continue?: boolean;
}

/**
 * Serialized head of an entry — status line, stored headers, Content-Length — built on its first
 * hit and kept on the entry itself (a WeakMap keyed by a million entries made every garbage
 * collection walk a million ephemerons). `false`: a stored header Node would refuse, or a status
 * without a body; such an entry takes writeHead(), which applies Node's checks. Its bytes are
 * counted in the entry's size from the start (entry.ts), and it is kept flat: the `+=` chain that
 * built it would otherwise stay a tree of one ConsString per piece.
 *
 * A store may check and serialize the headers when it stores the entry (headerLines) and hand
 * back entries that carry their head under these symbols already (the shared store's
 * stored-entry.ts): a hit then validates nothing and serializes only the status line and length.
 */
export const HEAD_BLOCK = Symbol('headBlock');
/** Set on an entry whose stored headers carry the backend's Date (httpCache keeps it, RFC 9111 §4.2.3); a hit then adds none. */
export const HAS_DATE = Symbol('hasDate');

/** What an entry may carry for the hit path (see HEAD_BLOCK). */
export interface HeadCarrier {
  readonly [HEAD_BLOCK]?: string | false;
  readonly [HAS_DATE]?: true;
}

/** An entry's stored headers as a hit writes them (`name: value` CRLF lines, Latin-1 only), with whether they hold Date. */
export interface HeaderLines {
  readonly text: string;
  readonly hasDate: boolean;
}

function headBlock(entry: CacheEntry & HeadCarrier): string | false {
  let block = entry[HEAD_BLOCK];
  if (block === undefined) {
    const lines = headerLines(entry);
    // validateHeaderValue admitted only Latin-1, so a Latin-1 copy is exact.
    block = lines === false ? false : ownedLatin1(headOf(entry.statusCode, lines.text, entry.body.length));
    // Not enumerable: `{ ...entry, headers }` (a refreshed or sealed copy) must not inherit them.
    Object.defineProperty(entry, HEAD_BLOCK, { value: block, enumerable: false });
    if (lines !== false && lines.hasDate) Object.defineProperty(entry, HAS_DATE, { value: true, enumerable: false });
  }
  return block;
}

/**
 * The stored headers of `entry` as a hit writes them, checked as writeHead() would check them
 * once; false when the hit must go through writeHead() (a status without a body, a header that
 * frames the message or that Node refuses).
 */
export function headerLines(entry: CacheEntry): HeaderLines | false {
  const { statusCode } = entry;
  if (statusCode < 200 || statusCode === 204 || statusCode === 304 || statusCode > 999) return false;
  let text = '';
  let hasDate = false;
  for (const [name, value] of entry.headers) {
    // Names Node frames the message by are left to Node.
    if (FRAMING_HEADERS.has(name)) return false;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      return false;
    }
    text += `${name}: ${value}\r\n`;
    if (name === 'date') hasDate = true;
  }
  return { text, hasDate };
}

/** A head block (see HEAD_BLOCK) from an entry's status, header lines (headerLines) and body length. */
export function headOf(statusCode: number, lines: string, bodyLength: number): string {
  return `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? 'unknown'}\r\n${lines}content-length: ${bodyLength}\r\n`;
}

const FRAMING_HEADERS: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'trailer', 'upgrade']);

/**
 * Writes an entry with extra headers (`[name, value, …]`: age, Cache-Status, request id and
 * plug-in headers — made by the gateway, never taken from a caller, so they need no checks);
 * `headOnly` for HEAD and 304.
 */
export function writeEntry(res: ServerResponse, entry: CacheEntry, extra: readonly string[], headOnly: boolean, statusCode = entry.statusCode): void {
  if (statusCode === entry.statusCode && writeWithHead(res, entry, extra, headOnly)) return;
  const headers: string[] = [];
  for (const [name, value] of entry.headers) headers.push(name, value);
  // A 304 carries no body, and clients check a Content-Length against the empty one: leave it out.
  if (statusCode !== 304) headers.push('content-length', String(entry.body.length));
  for (const item of extra) headers.push(item);
  res.writeHead(statusCode, headers);
  res.end(headOnly ? undefined : entry.body);
}

/**
 * The hit path: the entry's serialized head plus this request's lines, on a keep-alive response
 * Node has not started. Anything else (Connection: close, HTTP/1.0 without keep-alive, a request
 * limit per socket, Expect) is left to writeHead(), which knows those rules.
 */
function writeWithHead(res: ServerResponse, entry: CacheEntry, extra: readonly string[], headOnly: boolean): boolean {
  const internals = res as unknown as ResponseInternals;
  if (!internals.shouldKeepAlive || internals.maxRequestsOnConnectionReached || !internals._defaultKeepAlive || internals._header
    || internals._expect_continue || internals._maxRequestsPerSocket) return false;
  const block = headBlock(entry);
  if (block === false) return false;
  let head = block;
  for (let i = 0; i + 1 < extra.length; i += 2) head += `${extra[i]!}: ${extra[i + 1]!}\r\n`;
  if (!(entry as HeadCarrier)[HAS_DATE]) head += `date: ${httpDate()}\r\n`;
  head += 'connection: keep-alive\r\n';
  const keepAliveSeconds = Math.floor((internals._keepAliveTimeout ?? 0) / 1000);
  if (keepAliveSeconds > 0) head += `keep-alive: timeout=${keepAliveSeconds}\r\n`;
  res.statusCode = entry.statusCode;
  internals._header = `${head}\r\n`;
  internals._headerSent = false;
  res.end(headOnly ? undefined : entry.body);
  return true;
}

let dateSecond = -1;
let dateValue = '';

/** The Date header, formatted once a second (as Node does for its own). */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

/**
 * A 206 (or 416) answered from a complete entry (RFC 9110 §14.4, §15.5.17): the stored headers,
 * Content-Range, and the slice of the body — never copied (subarray).
 */
export function writeRange(res: ServerResponse, entry: CacheEntry, extra: readonly string[], headOnly: boolean, range: ByteRange): void {
  const headers: string[] = [];
  for (const [name, value] of entry.headers) headers.push(name, value);
  for (const item of extra) headers.push(item);
  const total = entry.body.length;
  if (range === 'unsatisfiable') {
    headers.push('content-range', `bytes */${total}`, 'content-length', '0');
    res.writeHead(416, headers);
    res.end();
    return;
  }
  const slice = entry.body.subarray(range.start, range.end + 1);
  headers.push('content-range', `bytes ${range.start}-${range.end}/${total}`, 'content-length', String(slice.length));
  res.writeHead(206, headers);
  res.end(headOnly ? undefined : slice);
}

/**
 * Headers worth storing: all but those a hit recomputes (length, date, age) or must never replay.
 * Values are flat copies (owned-string.ts), so a stored header keeps only its own bytes alive.
 */
export function replayableHeaders(headers: IntegrationResponse['headers'], keep?: ReadonlySet<string>): [string, string][] {
  const kept: [string, string][] = [];
  for (const name in headers) {
    if (name === 'content-length' || name === 'date' || name === 'age' || name === 'cache-status') continue;
    if (keep && !keep.has(name)) continue;
    const value = headers[name]!;
    if (Array.isArray(value)) for (const item of value) kept.push([name, ownedString(item)]);
    else kept.push([name, ownedString(value)]);
  }
  return kept;
}

/** RFC 9110 §13.1: whether a client's validators match the entry, so a 304 can answer from the cache. */
export function notModified(entry: CacheEntry, ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
  if (ifNoneMatch !== undefined) {
    const etag = headerOf(entry, 'etag');
    if (etag === undefined) return false;
    const weak = (tag: string) => tag.trim().replace(/^W\//, '');
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => weak(tag) === weak(etag));
  }
  if (ifModifiedSince !== undefined) {
    // RFC 9111 §4.3.2: without Last-Modified, the stored Date stands in for it. Strict HTTP-dates only.
    const lastModified = parseHttpDate(headerOf(entry, 'last-modified') ?? headerOf(entry, 'date'));
    const since = parseHttpDate(ifModifiedSince);
    return lastModified !== undefined && since !== undefined && lastModified <= since;
  }
  return false;
}

function headerOf(entry: CacheEntry, name: string): string | undefined {
  for (const [header, value] of entry.headers) if (header === name) return value;
  return undefined;
}
