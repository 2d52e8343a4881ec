/**
 * Alibaba Cloud API Gateway's digest signature ("request signature"), as the SDKs compute it:
 *   stringToSign = METHOD\n Accept\n Content-MD5\n Content-Type\n Date\n Headers Url
 *   Headers = for each name in X-Ca-Signature-Headers, sorted: `name:value\n` (names lower-case)
 *   Url     = path, then `?` and the query (and form) parameters sorted by name, `k=v` joined by
 *             `&` (`k` alone when the value is empty)
 *   X-Ca-Signature = Base64(HMAC-SHA256 (or HmacSHA1, per X-Ca-Signature-Method) of it, appSecret)
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface SignedRequest {
  readonly method: string;
  /** The request target as received (path and query). */
  readonly rawUrl: string;
  readonly headers: IncomingHttpHeaders;
  /** `req.rawHeaders` (name, value, …): every line as sent, to refuse a covered header sent twice. */
  readonly rawHeaders?: readonly string[];
  /** An `application/x-www-form-urlencoded` body: its parameters are signed with the query's. */
  readonly form?: string;
}

/** Headers with their own line in the string to sign. */
export const LINE_HEADERS: readonly string[] = ['accept', 'content-md5', 'content-type', 'date'];

/**
 * A header the signature covers that was sent on more than one line, else undefined. Node keeps
 * only the first line of some (Content-Type, User-Agent, Authorization, …) for the StringToSign,
 * while the integration may be sent every line: the signature must cover what is forwarded.
 */
export function repeatedSignedHeader(rawHeaders: readonly string[], signed: readonly string[]): string | undefined {
  // A Set: thousands of header lines against thousands of listed names must stay linear.
  const covered = new Set([...LINE_HEADERS, ...signed]);
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!covered.has(name)) continue;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/** Headers that have their own line in the string to sign, or are the signature itself. */
const NOT_IN_HEADERS = new Set(['x-ca-signature', 'x-ca-signature-headers', 'accept', 'content-md5', 'content-type', 'date']);

/** The lower-case names the caller signed (X-Ca-Signature-Headers), in signing order. */
export function signedHeaderNames(headers: IncomingHttpHeaders): string[] {
  return (single(headers['x-ca-signature-headers']) ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && !NOT_IN_HEADERS.has(name))
    .sort();
}

export function stringToSign(request: SignedRequest): string {
  const { headers } = request;
  const line = (name: string) => `${single(headers[name]) ?? ''}\n`;
  const headerLines = signedHeaderNames(headers).map((name) => `${name}:${single(headers[name]) ?? ''}\n`).join('');
  return `${request.method.toUpperCase()}\n${line('accept')}${line('content-md5')}${line('content-type')}${line('date')}${headerLines}${canonicalUrl(request.rawUrl, request.form)}`;
}

function canonicalUrl(rawUrl: string, form = ''): string {
  const query = rawUrl.indexOf('?');
  // In a path `+` is a literal plus, not a space (that is form encoding, for the query only):
  // decoding it as a space let one signature cover both `/a+b` and `/a%20b`.
  const path = decodePath(query < 0 ? rawUrl : rawUrl.slice(0, query));
  const queryText = query < 0 ? '' : rawUrl.slice(query + 1);
  // Alibaba: form parameters are signed as if they were query parameters, sorted with them.
  const parameters = form === '' ? queryText : queryText === '' ? form : `${queryText}&${form}`;
  if (parameters === '') return path;
  const pairs = parameters.split('&').filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [decodeSafe(pair), ''] : [decodeSafe(pair.slice(0, eq)), decodeSafe(pair.slice(eq + 1))];
  });
  pairs.sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return `${path}?${pairs.map(([name, value]) => (value ? `${name}=${value}` : name)).join('&')}`;
}

function decodePath(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
