/**
 * Alibaba Cloud API Gateway apps (SPEC §3 `apps`, §6): who the caller's app is, from `X-Ca-Key`
 * with a verified digest signature (alibaba-signature.ts), or an AppCode (`Authorization:
 * APPCODE code`, or the `AppCode` query parameter as Alibaba documents).
 *
 * A signed request is a replay defence only if what makes it unique is signed: X-Ca-Timestamp
 * and X-Ca-Nonce must be present AND listed in X-Ca-Signature-Headers (Alibaba's SDKs sign every
 * X-Ca-* header), the timestamp within 15 minutes of now, and the nonce unused by this app within
 * its timestamp's window (nonces/). The signature is checked before the nonce is recorded, so
 * nobody without the secret can burn an app's nonces.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AppConfig } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import { repeatedSignedHeader, signedHeaderNames, single, stringToSign, type SignedRequest } from './alibaba-signature.js';
import { appCodeFromQuery } from './app-code.js';
import { MAX_NONCE_LENGTH, NONCE_WINDOW_MS, type NonceStore, type NonceVerdict } from './nonces/nonce-store.js';
import { MemoryNonceStore } from './nonces/memory.js';

export { stringToSign } from './alibaba-signature.js';

export type AppCaller =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'app'; readonly appId: string }
  | { readonly kind: 'rejected'; readonly code: ErrorCode; readonly message: string };

const NONE: readonly string[] = [];
const ANONYMOUS: AppCaller = Object.freeze({ kind: 'anonymous' });
const TIMESTAMP = /^\d{1,15}$/;

export class AppRegistry {
  private readonly byKey = new Map<string, AppConfig>();
  private readonly byCode = new Map<string, AppConfig>();

  constructor(apps: readonly AppConfig[], readonly nonces: NonceStore = new MemoryNonceStore()) {
    for (const app of apps) {
      if (app.appKey) this.byKey.set(app.appKey, app);
      if (app.appCode) this.byCode.set(digest(app.appCode), app);
    }
  }

  /**
   * The caller's app; `rejected` (with Alibaba's error) when it claims an app it cannot prove.
   * `mustSign`: headers that steer the request (X-Ca-Stage on an API that takes its stage from it)
   * and so must be in X-Ca-Signature-Headers whenever a signed request carries them.
   */
  identify(request: SignedRequest, now: number, mustSign: readonly string[] = NONE): AppCaller | Promise<AppCaller> {
    const checked = this.checkHeaders(request, now, mustSign);
    if ('kind' in checked) return checked;
    const { app, secret, signature, signedAt, nonce } = checked;
    const { headers } = request;
    const algorithm = (single(headers['x-ca-signature-method']) ?? 'HmacSHA256').toLowerCase();
    if (algorithm !== 'hmacsha256' && algorithm !== 'hmacsha1') return rejected('APP_INVALID_HEADER', 'Invalid Header `X-Ca-Signature-Method` must be HmacSHA256 or HmacSHA1');
    const text = stringToSign(request);
    const expected = createHmac(algorithm === 'hmacsha1' ? 'sha1' : 'sha256', secret).update(text, 'utf8').digest();
    const given = Buffer.from(signature, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      // Alibaba returns the server's StringToSign so a client can diff it against its own.
      return rejected('APP_INVALID_SIGNATURE', `Invalid Signature, Server StringToSign:\`${text}\``);
    }

    // The record lives until the timestamp's own window closes (a +14 min timestamp stays 29 min).
    const verdict = this.nonces.claim(app.id, nonce, signedAt + NONCE_WINDOW_MS, app.nonceLimit, now);
    const caller: AppCaller = { kind: 'app', appId: app.id };
    return verdict instanceof Promise ? verdict.then((settled) => settle(settled, caller)) : settle(verdict, caller);
  }

  /**
   * The refusal identify() would give from the headers alone — no signature computed, no nonce
   * claimed — else undefined: a signed form body is read only when these pass (a3/auth).
   */
  refusalBeforeBody(request: SignedRequest, now: number, mustSign: readonly string[] = NONE): AppCaller | undefined {
    const checked = this.checkHeaders(request, now, mustSign);
    return 'kind' in checked && checked.kind === 'rejected' ? checked : undefined;
  }

  private checkHeaders(request: SignedRequest, now: number, mustSign: readonly string[]): AppCaller | { app: AppConfig; secret: string; signature: string; signedAt: number; nonce: string } {
    const { headers } = request;
    const authorization = single(headers.authorization);
    const appCode = authorization && /^APPCODE\s+/i.test(authorization) ? authorization.replace(/^APPCODE\s+/i, '').trim() : appCodeFromQuery(request.rawUrl);
    if (appCode !== undefined) {
      const app = this.byCode.get(digest(appCode));
      return app ? { kind: 'app', appId: app.id } : rejected('APP_INVALID_CODE', 'Invalid AppCode');
    }
    const appKey = single(headers['x-ca-key']);
    if (appKey === undefined) return ANONYMOUS;
    const app = this.byKey.get(appKey);
    if (!app) return rejected('APP_INVALID_KEY', 'Invalid AppKey');
    const signature = single(headers['x-ca-signature']);
    // An AppKey is not a secret: without a signature anyone could claim an app and read its entries.
    if (signature === undefined) return required('X-Ca-Signature');
    if (!app.appSecret) return rejected('APP_INVALID_SECRET', 'Invalid AppSecret');

    const timestamp = single(headers['x-ca-timestamp']);
    if (timestamp === undefined) return required('X-Ca-Timestamp');
    if (!TIMESTAMP.test(timestamp)) return rejected('APP_INVALID_HEADER', 'Invalid Timestamp');
    const signedAt = Number(timestamp);
    // Alibaba: X-Ca-Timestamp must be within 15 minutes of the server's time, either way.
    if (now - signedAt >= NONCE_WINDOW_MS || signedAt - now > NONCE_WINDOW_MS) return rejected('APP_TIMESTAMP_EXPIRED', 'Timestamp Expired');
    const nonce = single(headers['x-ca-nonce']);
    if (nonce === undefined || nonce === '') return required('X-Ca-Nonce');
    if (nonce.length > MAX_NONCE_LENGTH) return rejected('APP_INVALID_HEADER', `Invalid Header \`X-Ca-Nonce\` longer than ${MAX_NONCE_LENGTH} characters`);
    const signed = signedHeaderNames(headers);
    // Each listed name adds its header's value to the StringToSign (echoed back on a mismatch):
    // a name listed twice, in any spelling, would let a small request build a huge one.
    if (new Set(signed).size !== signed.length) return rejected('APP_INVALID_HEADER', 'Invalid Header `X-Ca-Signature-Headers` lists a header twice');
    if (!signed.includes('x-ca-timestamp') || !signed.includes('x-ca-nonce')) {
      return rejected('APP_INVALID_HEADER', 'Invalid Header `X-Ca-Signature-Headers` must list X-Ca-Timestamp and X-Ca-Nonce');
    }
    const repeated = request.rawHeaders && repeatedSignedHeader(request.rawHeaders, signed);
    if (repeated !== undefined) return rejected('APP_INVALID_HEADER', `Invalid Header \`${repeated}\` sent more than once`);
    for (const name of mustSign) {
      if (headers[name] !== undefined && !signed.includes(name)) return rejected('APP_INVALID_HEADER', `Invalid Header \`X-Ca-Signature-Headers\` must list ${name}`);
    }

    // The StringToSign decodes the path: an encoded `?` there would spell the same text as a query,
    // so one signature would cover two resources (`/files?name=a` and the file `files?name=a`).
    const query = request.rawUrl.indexOf('?');
    if (/%3f/i.test(query < 0 ? request.rawUrl : request.rawUrl.slice(0, query))) {
      return rejected('APP_INVALID_SIGNATURE', 'Invalid Signature: a path holding an encoded "?" (%3F) cannot be signed unambiguously');
    }
    return { app, secret: app.appSecret, signature, signedAt, nonce };
  }
}

function settle(verdict: NonceVerdict, caller: AppCaller): AppCaller {
  if (verdict === 'fresh') return caller;
  return verdict === 'replayed' ? rejected('APP_NONCE_USED', 'Nonce Used') : rejected('APP_THROTTLED', 'Throttled by APP Flow Control');
}

function rejected(code: ErrorCode, message: string): AppCaller {
  return { kind: 'rejected', code, message };
}

function required(header: string): AppCaller {
  return rejected('APP_HEADER_REQUIRED', `Header \`${header}\` is Required`);
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
