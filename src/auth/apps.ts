/**
 * Alibaba Cloud API Gateway apps (SPEC §3 `apps`): who the caller's app is, from `X-Ca-Key`
 * (with the digest signature verified when `X-Ca-Signature` is present) or `Authorization:
 * APPCODE code`. Used by the caching plug-in to key by app and to decide who may refresh.
 *
 * Signature (Alibaba "digest authentication"):
 *   stringToSign = METHOD\n Accept\n Content-MD5\n Content-Type\n Date\n Headers Url
 *   Headers = for each name in X-Ca-Signature-Headers, sorted: `name:value\n` (names lower-case)
 *   Url     = path, then `?` and the query (and form) parameters sorted by name, `k=v` joined by
 *             `&` (`k` alone when the value is empty)
 *   X-Ca-Signature = Base64(HMAC-SHA256 (or HmacSHA1, per X-Ca-Signature-Method) of it, appSecret)
 * X-Ca-Timestamp (ms) must be within 15 minutes; an X-Ca-Nonce may be used once in that window.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AppConfig } from '../config/schema.js';

const WINDOW_MS = 15 * 60 * 1000;
/** Headers that have their own line in the string to sign, or are the signature itself. */
const NOT_IN_HEADERS = new Set(['x-ca-signature', 'x-ca-signature-headers', 'accept', 'content-md5', 'content-type', 'date']);

export type AppCaller =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'app'; readonly appId: string }
  | { readonly kind: 'rejected'; readonly message: string };

const ANONYMOUS: AppCaller = Object.freeze({ kind: 'anonymous' });

export class AppRegistry {
  private readonly byKey = new Map<string, AppConfig>();
  private readonly byCode = new Map<string, AppConfig>();
  /** Nonces seen within the window, with when they expire. */
  private readonly nonces = new Map<string, number>();

  constructor(apps: readonly AppConfig[]) {
    for (const app of apps) {
      if (app.appKey) this.byKey.set(app.appKey, app);
      if (app.appCode) this.byCode.set(digest(app.appCode), app);
    }
  }

  /** A reload replaced `previous` (new apps): nonces it saw stay used, so no request can be replayed across the reload. */
  inheritNonces(previous: AppRegistry): void {
    for (const [nonce, expires] of previous.nonces) if (!this.nonces.has(nonce)) this.nonces.set(nonce, expires);
  }

  /** The caller's app; `rejected` when it claims an app it cannot prove (a wrong signature, a replay). */
  identify(request: { method: string; rawUrl: string; headers: IncomingHttpHeaders }, now: number): AppCaller {
    const { headers } = request;
    const authorization = single(headers.authorization);
    if (authorization && /^APPCODE\s+/i.test(authorization)) {
      const app = this.byCode.get(digest(authorization.replace(/^APPCODE\s+/i, '').trim()));
      return app ? { kind: 'app', appId: app.id } : { kind: 'rejected', message: 'Invalid AppCode' };
    }
    const appKey = single(headers['x-ca-key']);
    if (appKey === undefined) return ANONYMOUS;
    const app = this.byKey.get(appKey);
    if (!app) return { kind: 'rejected', message: 'Invalid AppKey' };
    const signature = single(headers['x-ca-signature']);
    // An AppKey is not a secret: without a signature anyone could claim an app and read its entries.
    if (signature === undefined) return { kind: 'rejected', message: 'Empty Signature' };
    if (!app.appSecret) return { kind: 'rejected', message: 'App has no secret to verify X-Ca-Signature' };
    const problem = this.verify(request, app.appSecret, signature, now);
    return problem ? { kind: 'rejected', message: problem } : { kind: 'app', appId: app.id };
  }

  private verify(request: { method: string; rawUrl: string; headers: IncomingHttpHeaders }, secret: string, signature: string, now: number): string | undefined {
    const { headers } = request;
    const timestamp = single(headers['x-ca-timestamp']);
    if (timestamp !== undefined && !(Math.abs(now - Number(timestamp)) <= WINDOW_MS)) return 'Invalid Timestamp';
    const algorithm = (single(headers['x-ca-signature-method']) ?? 'HmacSHA256').toLowerCase();
    if (algorithm !== 'hmacsha256' && algorithm !== 'hmacsha1') return 'Invalid Signature Method';
    const expected = createHmac(algorithm === 'hmacsha1' ? 'sha1' : 'sha256', secret).update(stringToSign(request), 'utf8').digest();
    const given = Buffer.from(signature, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'Invalid Signature';
    const nonce = single(headers['x-ca-nonce']);
    if (nonce !== undefined) {
      // Oldest first (insertion order): stop at the first one still in its window, so a request
      // costs the nonces that expired, not every nonce of the last 15 minutes.
      for (const [seen, expires] of this.nonces) {
        if (expires > now) break;
        this.nonces.delete(seen);
      }
      if (this.nonces.has(nonce)) return 'Nonce Used';
      this.nonces.set(nonce, now + WINDOW_MS);
    }
    return undefined;
  }
}

export function stringToSign(request: { method: string; rawUrl: string; headers: IncomingHttpHeaders }): string {
  const { headers } = request;
  const line = (name: string) => `${single(headers[name]) ?? ''}\n`;
  const signed = (single(headers['x-ca-signature-headers']) ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && !NOT_IN_HEADERS.has(name))
    .sort();
  const headerLines = signed.map((name) => `${name}:${single(headers[name]) ?? ''}\n`).join('');
  return `${request.method.toUpperCase()}\n${line('accept')}${line('content-md5')}${line('content-type')}${line('date')}${headerLines}${canonicalUrl(request.rawUrl)}`;
}

function canonicalUrl(rawUrl: string): string {
  const query = rawUrl.indexOf('?');
  const path = decodeSafe(query < 0 ? rawUrl : rawUrl.slice(0, query));
  if (query < 0 || query === rawUrl.length - 1) return path;
  const pairs = rawUrl.slice(query + 1).split('&').filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [decodeSafe(pair), ''] : [decodeSafe(pair.slice(0, eq)), decodeSafe(pair.slice(eq + 1))];
  });
  pairs.sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return `${path}?${pairs.map(([name, value]) => (value ? `${name}=${value}` : name)).join('&')}`;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
