/**
 * Header rules shared by the integrations: which headers belong to one connection only (and so
 * never cross the gateway), and how response headers are shaped for the gateway.
 */

/**
 * RFC 9110 §7.6.1 connection-specific fields, plus the proxy-* pair RFC 2616 §13.5.1 named
 * hop-by-hop. `host` is not hop-by-hop but is always rewritten for the backend, so it is
 * dropped with them on the way in.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/**
 * The lower-case names not to forward for a message: the fixed hop-by-hop set plus every name the
 * message's own `Connection` header lists (RFC 9110 §7.6.1: the sender declares them hop-by-hop).
 */
export function hopByHopNames(connectionHeader: string | string[] | undefined): ReadonlySet<string> {
  if (connectionHeader === undefined) return HOP_BY_HOP;
  const listed = (Array.isArray(connectionHeader) ? connectionHeader.join(',') : connectionHeader)
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
  if (listed.length === 0) return HOP_BY_HOP;
  return new Set([...HOP_BY_HOP, ...listed]);
}

/** A value as received from a parser or a user: absent, one value, or several. */
type LooseHeaderValue = string | string[] | number | undefined | null;

/**
 * Response headers for the gateway: lower-case names, hop-by-hop removed, `set-cookie` always an
 * array (RFC 6265 §3: cookies cannot be folded into one line), other repeated headers kept as arrays.
 */
export function responseHeaders(
  source: Readonly<Record<string, LooseHeaderValue>>,
): Record<string, string | string[]> {
  const dropped = hopByHopNames(headerValue(source['connection']));
  // A Map, then Object.fromEntries: a header named `__proto__` stays an ordinary key.
  const merged = new Map<string, string[]>();
  for (const [rawName, value] of Object.entries(source)) {
    const name = rawName.toLowerCase();
    if (value === undefined || value === null || dropped.has(name)) continue;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    merged.set(name, [...(merged.get(name) ?? []), ...values]);
  }
  return Object.fromEntries(
    [...merged].map(([name, values]) => [name, name === 'set-cookie' || values.length > 1 ? values : values[0]!]),
  );
}

function headerValue(value: LooseHeaderValue): string | string[] | undefined {
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value : String(value);
}
