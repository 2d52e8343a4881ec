/**
 * Requests signed as Alibaba's SDKs sign them, built here from the documented string to sign
 * (METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n + `name:value\n` per signed header, sorted,
 * + path?sorted-query), with knobs the SDK does not have: which headers are signed, the timestamp
 * and the nonce — what an attacker varies.
 */
import { createHmac, randomUUID } from 'node:crypto';

export interface App {
  readonly id: string;
  readonly appKey: string;
  readonly appSecret: string;
}

export interface SignOptions {
  timestamp?: number;
  nonce?: string;
  /** Lower-case header names listed in X-Ca-Signature-Headers (default: every x-ca-* header sent). */
  signedNames?: string[];
  /** Leave these headers out of the request altogether. */
  omit?: string[];
  extra?: Record<string, string>;
  /**
   * A form body's text as signed (`k=v&…`): the request is a POST with
   * `Content-Type: application/x-www-form-urlencoded`, its parameters signed with the query's.
   */
  form?: string;
}

export const FORM = 'application/x-www-form-urlencoded';

export function signed(app: App, pathAndQuery: string, now: number, options: SignOptions = {}): Record<string, string> {
  const headers: Record<string, string> = {
    ...(options.form === undefined ? { accept: 'application/json' } : { 'content-type': FORM }),
    'x-ca-key': app.appKey,
    'x-ca-timestamp': String(options.timestamp ?? now),
    'x-ca-nonce': options.nonce ?? randomUUID(),
    'x-ca-signature-method': 'HmacSHA256',
    ...options.extra,
  };
  for (const name of options.omit ?? []) delete headers[name];
  const names = (options.signedNames ?? Object.keys(headers).filter((name) => name.startsWith('x-ca-'))).slice().sort();
  headers['x-ca-signature-headers'] = names.join(',');
  const [path, query = ''] = pathAndQuery.split('?');
  const parameters = [query, options.form ?? ''].filter((part) => part !== '').join('&');
  const params = parameters ? parameters.split('&').map((pair) => pair.split('=') as [string, string?]).sort(([x], [y]) => (x < y ? -1 : 1)) : [];
  const url = params.length ? `${path}?${params.map(([k, v]) => (v ? `${k}=${v}` : k)).join('&')}` : path!;
  const method = options.form === undefined ? 'GET' : 'POST';
  const toSign = `${method}\n${headers.accept ?? ''}\n\n${headers['content-type'] ?? ''}\n\n${names.map((n) => `${n}:${headers[n] ?? ''}\n`).join('')}${url}`;
  headers['x-ca-signature'] = createHmac('sha256', app.appSecret).update(toSign).digest('base64');
  return headers;
}
