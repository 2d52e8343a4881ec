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
 */
import { decodePathSegments } from '../gateway/router.js';

/** Marks a path tag; stores may recognise it (the memory store matches path tags by a walk). */
export const PATH_TAG_MARK = '\u0000path\u0000';
/** Path prefixes deeper than this are not indexed: purge a shorter prefix (it covers them). */
export const MAX_PATH_TAG_DEPTH = 8;
/** Backend tags kept per entry (Fastly and Cloudflare cap a tag at 1,024 bytes too). */
export const MAX_BACKEND_TAGS = 64;
export const MAX_TAG_BYTES = 1024;

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
  const add = (value: string | string[] | undefined, separator: RegExp): void => {
    for (const line of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
      for (const tag of line.split(separator)) {
        if (found.size >= MAX_BACKEND_TAGS) return;
        if (isValidTag(tag)) found.add(tag);
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
  const tags = [PATH_TAG_MARK + '/'];
  for (let depth = 1; depth <= Math.min(segments.length, MAX_PATH_TAG_DEPTH); depth++) {
    tags.push(PATH_TAG_MARK + canonical(segments.slice(0, depth)));
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
  return PATH_TAG_MARK + (segments.length === 0 ? '/' : canonical(segments));
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

function canonical(segments: readonly string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join('');
}
