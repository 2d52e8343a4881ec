/**
 * Writing cache entries to callers. A hit is one writeHead with every header as a flat list (no
 * per-header setHeader calls) and the stored body bytes written as they are, never copied.
 */
import type { ServerResponse } from 'node:http';
import type { IntegrationResponse } from '../integrations/integration.js';
import type { CacheEntry } from './entry.js';

/**
 * Stored headers of an entry as a flat [name, value, …] list with its Content-Length, built once per
 * entry and kept on the entry itself. (A WeakMap keyed by a million entries made every garbage
 * collection walk a million ephemerons.)
 */
const FLAT_HEADERS = Symbol('flatHeaders');
type WithFlatHeaders = CacheEntry & { [FLAT_HEADERS]?: readonly string[] };

function flatHeaders(entry: WithFlatHeaders): readonly string[] {
  let flat = entry[FLAT_HEADERS];
  if (!flat) {
    const list: string[] = [];
    for (const [name, value] of entry.headers) list.push(name, value);
    list.push('content-length', String(entry.body.length));
    // Not enumerable: `{ ...entry, headers }` (a refreshed or sealed copy) must not inherit it.
    Object.defineProperty(entry, FLAT_HEADERS, { value: (flat = list), enumerable: false });
  }
  return flat;
}

/** Writes an entry with extra headers (`[name, value, …]`); `headOnly` for HEAD and 304. */
export function writeEntry(res: ServerResponse, entry: CacheEntry, extra: readonly string[], headOnly: boolean, statusCode = entry.statusCode): void {
  const stored = flatHeaders(entry);
  // A 304 carries no body, and clients check a Content-Length against the empty one: leave it out (last pair).
  res.writeHead(statusCode, [...(statusCode === 304 ? stored.slice(0, -2) : stored), ...extra]);
  res.end(headOnly ? undefined : entry.body);
}

/** Headers worth storing: all but those a hit recomputes (length, date, age) or must never replay. */
export function replayableHeaders(headers: IntegrationResponse['headers'], keep?: ReadonlySet<string>): [string, string][] {
  const kept: [string, string][] = [];
  for (const name in headers) {
    if (name === 'content-length' || name === 'date' || name === 'age' || name === 'cache-status') continue;
    if (keep && !keep.has(name)) continue;
    const value = headers[name]!;
    if (Array.isArray(value)) for (const item of value) kept.push([name, item]);
    else kept.push([name, value]);
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
    const lastModified = headerOf(entry, 'last-modified');
    const since = Date.parse(ifModifiedSince);
    return lastModified !== undefined && !Number.isNaN(since) && Date.parse(lastModified) <= since;
  }
  return false;
}

function headerOf(entry: CacheEntry, name: string): string | undefined {
  for (const [header, value] of entry.headers) if (header === name) return value;
  return undefined;
}
