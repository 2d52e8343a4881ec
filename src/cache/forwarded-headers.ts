/**
 * Cache-poisoning defence: when a response may be stored and served to others, the integration
 * sees only the request headers that are part of the cache key, each as the one line the key was
 * built from (key.ts `canonicalHeaders`). A header outside the key then cannot change a cached
 * body (X-Forwarded-Host, Accept-Language, Authorization, …), nor can a second line of a keyed one.
 * The framing headers of a forwarded body are sent the same way (one line each).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ForwardedInputs } from './key.js';

/**
 * Sent with a forwarded body though not keyed: how to read it. `transfer-encoding` is hop-by-hop
 * (Node has already de-chunked the body; undici frames it again).
 */
export const BODY_FRAMING_HEADERS: readonly string[] = Object.freeze(['content-type', 'content-length', 'content-encoding']);

/**
 * A fresh, mutable copy of what a cached request sends: the flow adds validators to it
 * (If-None-Match) for a conditional refetch, which must not leak into the next fetch of the request.
 */
export function forwardedHeaders(inputs: ForwardedInputs): { headers: IncomingHttpHeaders; rawHeaders: string[] } {
  return { headers: { ...inputs.headers }, rawHeaders: [...inputs.rawHeaders] };
}
