/**
 * The one canonical form of an admin request path (SPEC §7 Guarantees: "one canonical request
 * path: routing, authorization … use the same normalised path, so no spelling of a denied
 * resource is allowed").
 *
 * The raw path is split on `/` and each segment percent-decoded once. Empty segments (`//`, a
 * trailing `/`) are dropped, so `/restapis/beta/` *is* `/restapis/beta` and gets its decision. A
 * spelling that could name two resources is refused with 400 instead of guessed at: dot segments
 * (`.`/`..`, encoded or not — RFC 3986 §5.2.4 would resolve them, a router may not) and control
 * characters. An encoded `/` stays inside its segment: routes decide whether a parameter may hold
 * one (route.ts), and ARNs are built from the matched route, never from the raw path (admin.ts).
 */
import { GatewayError } from '../errors.js';

/** Segments of a request path after decoding; at most this many (AWS paths are far shorter). */
export const MAX_ADMIN_PATH_SEGMENTS = 32;

export interface CanonicalPath {
  /** Decoded segments, none empty. */
  readonly segments: readonly string[];
  /** `/` + segments joined by `/` (for logs and fixed paths such as `/metrics`). */
  readonly text: string;
}

export function canonicalAdminPath(rawPath: string): CanonicalPath {
  const segments: string[] = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      throw new GatewayError('BAD_PERCENT_ENCODING');
    }
    if (decoded === '.' || decoded === '..') throw new GatewayError('BAD_REQUEST', 'Dot segments (. and ..) are not allowed in admin paths');
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(decoded)) throw new GatewayError('BAD_REQUEST', 'Control characters are not allowed in admin paths');
    segments.push(decoded);
    if (segments.length > MAX_ADMIN_PATH_SEGMENTS) throw new GatewayError('BAD_REQUEST', `An admin path has at most ${MAX_ADMIN_PATH_SEGMENTS} segments`);
  }
  return { segments, text: `/${segments.join('/')}` };
}
