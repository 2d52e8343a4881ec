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
  // The usual `Connection: keep-alive` / `close` names nothing new: no set to build.
  if (typeof connectionHeader === 'string' && HOP_BY_HOP_VALUES.has(connectionHeader)) return HOP_BY_HOP;
  const listed = (Array.isArray(connectionHeader) ? connectionHeader.join(',') : connectionHeader)
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '' && !HOP_BY_HOP.has(token));
  if (listed.length === 0) return HOP_BY_HOP;
  return new Set([...HOP_BY_HOP, ...listed]);
}

/** Connection values that list only names already in HOP_BY_HOP (or none: `close`). */
const HOP_BY_HOP_VALUES: ReadonlySet<string> = new Set(['keep-alive', 'Keep-Alive', 'close', 'Close', 'upgrade', 'Upgrade']);

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
  // One pass, no intermediate collections: this runs on every proxied answer.
  const shaped: Record<string, string | string[]> = {};
  for (const rawName in source) {
    const value = source[rawName];
    if (value === undefined || value === null) continue;
    const name = isLowerCase(rawName) ? rawName : rawName.toLowerCase();
    if (dropped.has(name)) continue;
    const previous = Object.hasOwn(shaped, name) ? shaped[name] : undefined;
    if (previous === undefined && name !== 'set-cookie') {
      if (!Array.isArray(value)) {
        define(shaped, name, typeof value === 'string' ? value : String(value));
        continue;
      }
      if (value.length === 1) {
        define(shaped, name, String(value[0]));
        continue;
      }
    }
    const values = previous === undefined ? [] : Array.isArray(previous) ? previous : [previous];
    if (Array.isArray(value)) for (const item of value) values.push(String(item));
    else values.push(String(value));
    define(shaped, name, values);
  }
  return shaped;
}

/** Sets an own property; a header named `__proto__` stays an ordinary key instead of a prototype. */
function define(target: Record<string, string | string[]>, name: string, value: string | string[]): void {
  if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, configurable: true, writable: true });
  else target[name] = value;
}

function isLowerCase(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 65 && code <= 90) return false;
  }
  return true;
}

function headerValue(value: LooseHeaderValue): string | string[] | undefined {
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value : String(value);
}
