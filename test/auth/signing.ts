/**
 * Test helper: signs a request with the real `@smithy/signature-v4` (and the SDK's pure-JS
 * Sha256, so the verifier's node:crypto hash is checked against an independent one), then turns
 * it into what Node's http server would hand the verifier.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SignedRequest } from '../../src/auth/sigv4.js';

export const REGION = 'us-east-1';
export const ACCESS_KEY_ID = 'AKIDEXAMPLE';
export const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
export const SIGNED_AT = new Date('2024-05-06T07:08:09Z');

export interface SignInput {
  method?: string;
  /** The path as it goes on the wire (already percent-encoded, as the SDK builds it). */
  path: string;
  /** Decoded query, as the SDK holds it before sending. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: string;
  service?: string;
  region?: string;
  accessKeyId?: string;
  secret?: string;
  signedAt?: Date;
  /** false: no x-amz-content-sha256 header (the body is still hashed into the signature). */
  applyChecksum?: boolean;
  /** Presign (query auth) for this many seconds instead of signing the Authorization header. */
  presignSeconds?: number;
}

/** RFC 3986 encoding, as the SDK's `escapeUri`. */
export const escapeUri = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function buildQueryString(query: Record<string, string | string[] | null>): string {
  return Object.entries(query)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${escapeUri(key)}=${escapeUri(v ?? '')}`))
    .join('&');
}

export async function signedRequest(input: SignInput): Promise<SignedRequest & { headers: Record<string, string> }> {
  const body = input.body === undefined ? undefined : Buffer.from(input.body);
  const signer = new SignatureV4({
    service: input.service ?? 'apigateway',
    region: input.region ?? REGION,
    credentials: { accessKeyId: input.accessKeyId ?? ACCESS_KEY_ID, secretAccessKey: input.secret ?? SECRET },
    sha256: Sha256,
    applyChecksum: input.applyChecksum ?? true,
  });
  const request = {
    method: input.method ?? 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9090,
    path: input.path,
    query: input.query ?? {},
    headers: { host: '127.0.0.1:9090', ...input.headers },
    body,
  };
  const signed =
    input.presignSeconds === undefined
      ? await signer.sign(request, { signingDate: input.signedAt ?? SIGNED_AT })
      : await signer.presign(request, { signingDate: input.signedAt ?? SIGNED_AT, expiresIn: input.presignSeconds });
  const queryString = buildQueryString(signed.query ?? {});
  return {
    method: signed.method,
    rawUrl: queryString ? `${signed.path}?${queryString}` : signed.path,
    rawHeaders: Object.entries(signed.headers).flat(),
    headers: signed.headers,
    body,
  };
}

/** Replaces (or, when absent, appends) one header in a rawHeaders list. */
export function withHeader(rawHeaders: readonly string[], name: string, value: string): string[] {
  const out = [...rawHeaders];
  const at = out.findIndex((entry, i) => i % 2 === 0 && entry.toLowerCase() === name.toLowerCase());
  if (at === -1) out.push(name, value);
  else out[at + 1] = value;
  return out;
}
