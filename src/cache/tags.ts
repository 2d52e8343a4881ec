/**
 * Purge tags (SPEC §7): what an entry can be purged by, worked out once when it is stored.
 *
 * - Backend tags: `Surrogate-Key` (space-separated, as Fastly reads it) and `Cache-Tag`
 *   (comma-separated, as Cloudflare reads it) on the integration response. Matched exactly
 *   (case-sensitive); the headers themselves are replayed or not as the policy decides.
 * - Path tags: one per whole-segment prefix of the request path after the stage, so a path
 *   prefix purge is a tag purge and every store (memory, encrypted, Redis) answers both the same
 *   way. `/pets/7` carries `/`, `/pets` and `/pets/7`. Segments are percent-decoded and
 *   re-encoded canonically, so `/p%C3%A9ts` and `/péts` are one prefix.
 *
 * Path tags start with NUL, which no HTTP header value can carry (backend tags with control
 * characters are dropped), so a backend can never forge or collide with one.
 *
 * Bounded (SPEC §7, limits.ts): at most MAX_BACKEND_TAGS backend tags of MAX_TAG_BYTES, together
 * at most MAX_BACKEND_TAG_TOTAL_BYTES; path tags stop at MAX_PATH_TAG_DEPTH, and a prefix longer
 * than MAX_PATH_TAG_LENGTH is tagged by its SHA-256 instead (the purge of that prefix hashes it the
 * same way), so eight prefixes of a long path cost eight short tags, not eight copies of the path.
 * Every tag is a flat copy (owned-string.ts): none keeps the response's header line alive.
 */
import { createHash } from 'node:crypto';
import { decodePathSegments } from '../gateway/router.js';
import { ownedString } from './owned-string.js';

/** Marks a path tag; stores may recognise it (the memory store matches path tags by a walk). */
export const PATH_TAG_MARK = '\u0000path\u0000';
/** Path prefixes deeper than this are not indexed: purge a shorter prefix (it covers them). */
export const MAX_PATH_TAG_DEPTH = 8;
/** Backend tags kept per entry (Fastly and Cloudflare cap a tag at 1,024 bytes too). */
export const MAX_BACKEND_TAGS = 64;
export const MAX_TAG_BYTES = 1024;
/** All backend tags of an entry, in UTF-8 bytes (Fastly's Surrogate-Key and Cloudflare's Cache-Tag header limit: 16 KiB). */
export const MAX_BACKEND_TAG_TOTAL_BYTES = 16 * 1024;
/** A canonical path prefix longer than this (chars) is tagged by its hash (43 chars of base64url). */
export const MAX_PATH_TAG_LENGTH = 128;

// Control characters never make a tag: they cannot come from a header and would let a value pose as a path tag.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What to purge: entries carrying any of `tags`, and entries under `pathPrefix` (both when both are given). */
export interface PurgeMatch {
  readonly tags?: readonly string[];
  readonly pathPrefix?: string;
}

/** The tags an entry is stored with: the backend's, then the path's. */
export function entryTags(path: string, headers: Readonly<Record<string, string | string[] | undefined>>): string[] {
  return [...backendTags(headers), ...pathTags(path)];
}

/** `Surrogate-Key` and `Cache-Tag` values, deduplicated, in order, at most MAX_BACKEND_TAGS. */
export function backendTags(headers: Readonly<Record<string, string | string[] | undefined>>): string[] {
  const found = new Set<string>();
  let total = 0;
  const add = (value: string | string[] | undefined, separator: RegExp): void => {
    for (const line of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
      for (const tag of line.split(separator)) {
        if (found.size >= MAX_BACKEND_TAGS) return;
        if (!isValidTag(tag) || found.has(tag)) continue;
        const bytes = Buffer.byteLength(tag);
        // Past the total, the entry keeps the tags so far: a purge by a later one misses it (it lives to its TTL).
        if (total + bytes > MAX_BACKEND_TAG_TOTAL_BYTES) return;
        total += bytes;
        // split() makes slices that keep the whole header line alive: store a copy.
        found.add(ownedString(tag));
      }
    }
  };
  add(headers['surrogate-key'], /[ \t]+/);
  add(headers['cache-tag'], /[ \t]*,[ \t]*/);
  return [...found];
}

export function isValidTag(tag: string): boolean {
  return tag.length > 0 && Buffer.byteLength(tag) <= MAX_TAG_BYTES && tag.trim() === tag && !CONTROL.test(tag);
}

/** One path tag per whole-segment prefix, root first, down to MAX_PATH_TAG_DEPTH segments. */
export function pathTags(path: string): string[] {
  const segments = decodePathSegments(path) ?? [];
  const tags = [ROOT_TAG];
  let prefix = '';
  for (let depth = 1; depth <= Math.min(segments.length, MAX_PATH_TAG_DEPTH); depth++) {
    prefix += `/${encodeURIComponent(segments[depth - 1]!)}`;
    tags.push(prefixTag(prefix));
  }
  return tags;
}

/**
 * The path tag a prefix purge looks for, or undefined when the prefix is malformed or deeper than
 * MAX_PATH_TAG_DEPTH. A prefix is whole segments: `/pets` and `/pets/` both purge `/pets` and
 * everything under it, never `/petshop`.
 */
export function pathPrefixTag(prefix: string): string | undefined {
  if (!prefix.startsWith('/')) return undefined;
  const segments = decodePathSegments(prefix);
  if (segments === undefined || segments.length > MAX_PATH_TAG_DEPTH) return undefined;
  if (segments.length === 0) return ROOT_TAG;
  return prefixTag(segments.map((segment) => `/${encodeURIComponent(segment)}`).join(''));
}

/** Every tag a purge looks for (stores purge entries carrying any of them). */
export function purgeTags(match: PurgeMatch): string[] {
  const tags = [...(match.tags ?? [])];
  if (match.pathPrefix !== undefined) {
    const tag = pathPrefixTag(match.pathPrefix);
    if (tag !== undefined) tags.push(tag);
  }
  return [...new Set(tags)];
}

export function isPathTag(tag: string): boolean {
  return tag.startsWith(PATH_TAG_MARK);
}

const ROOT_TAG = PATH_TAG_MARK + '/';

/**
 * The tag of a canonical prefix (`/a/b%20c`): the prefix itself, or `#` and its SHA-256 when
 * longer than MAX_PATH_TAG_LENGTH. A canonical prefix starts with `/`, so the two never collide.
 */
function prefixTag(canonicalPrefix: string): string {
  if (canonicalPrefix.length <= MAX_PATH_TAG_LENGTH) return ownedString(PATH_TAG_MARK + canonicalPrefix);
  return ownedString(PATH_TAG_MARK + '#' + createHash('sha256').update(canonicalPrefix).digest('base64url'));
}
