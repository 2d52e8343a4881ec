/**
 * Range requests answered from a complete stored 200 (RFC 9110 §14): one byte range per request
 * (several ranges would need multipart/byteranges; such requests get the whole 200, which §14.2
 * allows: a server MAY ignore Range). If-Range (§13.1.5) must match the entry exactly — a strong
 * ETag or the Last-Modified date — or the whole representation is sent.
 */
import type { ByteRange, CacheEntry } from '../../entry.js';
import { parseHttpDate } from '../../headers/http-date.js';

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

export function requestedRange(entry: CacheEntry, range: string | undefined, ifRange: string | undefined): ByteRange | undefined {
  if (range === undefined || entry.statusCode !== 200) return undefined;
  if (ifRange !== undefined && !ifRangeMatches(entry, ifRange.trim())) return undefined;
  const match = SINGLE_RANGE.exec(range);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const total = entry.body.length;
  let start: number;
  let end: number;
  if (match[1] === '') {
    // A suffix range: the last N bytes (§14.1.2).
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, total - suffix);
    end = total - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? total - 1 : Math.min(Number(match[2]), total - 1);
    // first-pos > last-pos: the whole field is invalid and ignored (§14.1.1).
    if (match[2] !== '' && Number(match[2]) < start) return undefined;
  }
  if (start >= total || total === 0) return 'unsatisfiable';
  return { start, end };
}

function ifRangeMatches(entry: CacheEntry, ifRange: string): boolean {
  const header = (name: string) => entry.headers.find(([field]) => field === name)?.[1];
  if (ifRange.startsWith('"') || ifRange.startsWith('W/')) {
    // §13.1.5: strong comparison; a weak validator never matches.
    const etag = header('etag');
    return etag !== undefined && !ifRange.startsWith('W/') && !etag.startsWith('W/') && etag === ifRange;
  }
  const since = parseHttpDate(ifRange);
  const lastModified = parseHttpDate(header('last-modified'));
  return since !== undefined && lastModified !== undefined && since === lastModified;
}
