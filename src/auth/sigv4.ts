/**
 * AWS Signature Version 4 verification (SPEC §5, §8: callers proven by SigV4 with service
 * `execute-api` on the data plane, `apigateway` on the control plane).
 *
 * We never reimplement the algorithm: we rebuild the request the client signed (its raw path,
 * its query, the headers it listed in SignedHeaders, its body) and let `@smithy/signature-v4`, the
 * signer the AWS SDK itself uses, sign it again with the identity's secret. The two signatures are
 * then compared in constant time.
 *
 * Supported: the `Authorization: AWS4-HMAC-SHA256 …` header (every SDK request) and presigned
 * URLs (`?X-Amz-Algorithm=…&X-Amz-Signature=…`). Not supported: SigV4a (`AWS4-ECDSA-P256-SHA256`),
 * signing the `Date` header instead of `x-amz-date`, unsigned or streaming payloads.
 */
import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ErrorCode } from '../errors.js';

export type SigV4Service = 'apigateway' | 'execute-api';

/** A request as Node's http server hands it over, before any parsing. */
export interface SignedRequest {
  readonly method: string;
  /** Path and query exactly as received (`req.url`). */
  readonly rawUrl: string;
  /** `req.rawHeaders`: name, value, name, value, … */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer | undefined;
  /**
   * The caller checks the body against a *signed* `x-amz-content-sha256` itself, while it streams
   * in (the admin listener authenticates before reading a body); the signature then covers that
   * header's value instead of a body at hand.
   */
  readonly payloadHashCheckedByCaller?: boolean;
}

export interface SigV4Options {
  readonly service: SigV4Service;
  readonly region: string;
  /** Server time in ms since the epoch (injected for tests). */
  readonly now: number;
  readonly secretFor: (accessKeyId: string) => string | undefined;
}

export type SigV4Result = { ok: true; accessKeyId: string } | { ok: false; code: ErrorCode; message?: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
// AWS: a signed request is valid for 15 minutes either side of the server's clock.
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
// AWS: a presigned URL may live at most 7 days.
const MAX_PRESIGNED_EXPIRES_SECONDS = 7 * 24 * 60 * 60;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
const PRESIGNED_QUERY = /(?:^|&)X-Amz-(?:Algorithm|Credential|Signature)=/;

type Query = Record<string, string | string[]>;
type Headers = Record<string, string>;

/** What the client claims: parsed from the Authorization header or the presigned query. */
interface Claim {
  accessKeyId: string;
  scopeDate: string;
  scopeRegion: string;
  scopeService: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
}

const fail = (code: ErrorCode, message?: string): SigV4Result => ({ ok: false, code, message });
const invalid = (message: string): SigV4Result => fail('INVALID_SIGNATURE', message);

/**
 * Verifies the request's SigV4 signature. `undefined` means the request carries no SigV4 at all
 * (anonymous, or another scheme such as Alibaba's `Authorization: APPCODE …`).
 * Malformed SigV4 (a broken Authorization header, a missing x-amz-date, …) is INVALID_SIGNATURE
 * with a message naming the problem; AWS calls it IncompleteSignatureException, also a 403.
 */
export async function verifySigV4(request: SignedRequest, options: SigV4Options): Promise<SigV4Result | undefined> {
  const authorization = headerValues(request.rawHeaders, 'authorization');
  const queryStart = request.rawUrl.indexOf('?');
  const rawPath = queryStart === -1 ? request.rawUrl : request.rawUrl.slice(0, queryStart);
  const rawQuery = queryStart === -1 ? '' : request.rawUrl.slice(queryStart + 1);
  const headerAuth = authorization.some((value) => /^AWS4-/i.test(value));
  // A SigV4 Authorization header wins over a presigned query, as on AWS.
  if (!headerAuth && !PRESIGNED_QUERY.test(rawQuery)) return undefined;
  if (headerAuth && authorization.length > 1) return invalid('More than one Authorization header');

  const query = parseQuery(rawQuery);
  if (!query) return fail('BAD_PERCENT_ENCODING');

  const claim = headerAuth ? parseAuthorizationHeader(authorization[0]!, request.rawHeaders) : parsePresignedQuery(query);
  if ('ok' in claim) return claim;

  const scopeProblem = checkScope(claim, options);
  if (scopeProblem) return scopeProblem;
  const secret = options.secretFor(claim.accessKeyId);
  if (secret === undefined) return fail('UNRECOGNIZED_CLIENT');

  const signedAt = parseAmzDate(claim.amzDate);
  if (signedAt === undefined) return invalid(`Invalid X-Amz-Date '${claim.amzDate}': expected YYYYMMDDTHHMMSSZ`);
  if (claim.scopeDate !== claim.amzDate.slice(0, 8))
    return invalid('Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP');
  const timeProblem = headerAuth ? checkClockSkew(signedAt, options.now) : checkPresignedExpiry(signedAt, query, options.now);
  if (timeProblem) return timeProblem;

  const headers = signedHeaderValues(request.rawHeaders, claim.signedHeaders);
  if (typeof headers === 'string') return invalid(headers);
  const payloadProblem = request.payloadHashCheckedByCaller && claim.signedHeaders.includes('x-amz-content-sha256')
    ? undefined
    : checkPayloadHash(request.rawHeaders, request.body);
  if (payloadProblem) return payloadProblem;

  const signer = new SignatureV4({
    service: claim.scopeService,
    region: claim.scopeRegion,
    credentials: { accessKeyId: claim.accessKeyId, secretAccessKey: secret },
    sha256: NodeSha256,
    // Non-S3 services sign each path segment URI-encoded again ("double encoding"); the raw
    // path is exactly what the client's signer was given, so smithy re-encodes it the same way.
    uriEscapePath: true,
    // Otherwise smithy adds an x-amz-content-sha256 header the client may not have signed.
    applyChecksum: false,
  });
  const toSign = {
    method: request.method,
    protocol: 'http:',
    hostname: 'localhost',
    path: rawPath,
    query,
    headers,
    body: request.body,
  };
  const signedNames = new Set(claim.signedHeaders);
  const signing = { signingDate: signedAt, signingRegion: claim.scopeRegion, signingService: claim.scopeService, signableHeaders: signedNames };
  let expected: string | undefined;
  if (headerAuth) {
    const signed = await signer.sign(toSign, signing);
    expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1];
  } else {
    const expiresIn = Number(firstValue(query, 'X-Amz-Expires'));
    // smithy's presign() adds these back itself, from the values it is given.
    for (const name of PRESIGN_PARAMS) delete query[name];
    const signed = await signer.presign({ ...toSign, query }, { ...signing, expiresIn, unhoistableHeaders: signedNames });
    const value = signed.query?.['X-Amz-Signature'];
    expected = typeof value === 'string' ? value : undefined;
  }
  if (expected === undefined || !constantTimeEqual(expected, claim.signature)) return fail('INVALID_SIGNATURE');
  return { ok: true, accessKeyId: claim.accessKeyId };
}

/** `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex` */
function parseAuthorizationHeader(value: string, rawHeaders: readonly string[]): Claim | SigV4Result {
  const space = value.indexOf(' ');
  const algorithm = space === -1 ? value : value.slice(0, space);
  if (algorithm !== ALGORITHM) return invalid(`Unsupported signing algorithm '${algorithm}': only ${ALGORITHM} is accepted`);
  const fields = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature)
    return invalid("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters");
  const amzDate = headerValues(rawHeaders, 'x-amz-date');
  if (amzDate.length !== 1) return invalid("Authorization header requires exactly one 'X-Amz-Date' header");
  if (!signedHeaders.split(';').includes('x-amz-date')) return invalid("'x-amz-date' must be a signed header");
  return buildClaim(credential, signedHeaders, signature, amzDate[0]!);
}

/** `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=…&X-Amz-SignedHeaders=…&X-Amz-Signature=…` */
function parsePresignedQuery(query: Query): Claim | SigV4Result {
  const values = PRESIGN_PARAMS.map((name) => query[name]);
  if (values.some((value) => typeof value !== 'string' || value === ''))
    return invalid(`A presigned URL needs exactly one of each of ${PRESIGN_PARAMS.join(', ')}`);
  const [algorithm, credential, amzDate, , signedHeaders, signature] = values as string[];
  if (algorithm !== ALGORITHM) return invalid(`Unsupported signing algorithm '${algorithm}': only ${ALGORITHM} is accepted`);
  return buildClaim(credential!, signedHeaders!, signature!, amzDate!);
}

function buildClaim(credential: string, signedHeaders: string, signature: string, amzDate: string): Claim | SigV4Result {
  const scope = credential.split('/');
  if (scope.length !== 5 || scope.some((part) => part === '') || scope[4] !== 'aws4_request')
    return invalid('Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request');
  if (!/^[0-9a-f]{64}$/.test(signature)) return invalid('Signature must be 64 lowercase hex digits');
  const names = signedHeaders.split(';');
  if (names.some((name) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name))) return invalid('SignedHeaders must be lowercase header names separated by ;');
  // AWS: "'Host' or ':authority' must be a 'SignedHeader'" — stops replay against another host.
  if (!names.includes('host')) return invalid("'Host' must be a signed header");
  // smithy's signer always drops `date` (it signs x-amz-date instead), so we cannot recompute it.
  if (names.includes('date')) return invalid("Signing the 'Date' header is not supported: sign 'x-amz-date'");
  const [accessKeyId, scopeDate, scopeRegion, scopeService] = scope as [string, string, string, string];
  return { accessKeyId, scopeDate, scopeRegion, scopeService, signedHeaders: names, signature, amzDate };
}

function checkScope(claim: Claim, options: SigV4Options): SigV4Result | undefined {
  if (claim.scopeService !== options.service)
    return invalid(`Credential should be scoped to correct service: '${options.service}', not '${claim.scopeService}'`);
  if (claim.scopeRegion !== options.region)
    return invalid(`Credential should be scoped to a valid region: '${options.region}', not '${claim.scopeRegion}'`);
  return undefined;
}

function checkClockSkew(signedAt: Date, now: number): SigV4Result | undefined {
  if (Math.abs(now - signedAt.getTime()) > MAX_CLOCK_SKEW_MS) return fail('REQUEST_EXPIRED');
  return undefined;
}

function checkPresignedExpiry(signedAt: Date, query: Query, now: number): SigV4Result | undefined {
  const expires = firstValue(query, 'X-Amz-Expires') ?? '';
  if (!/^[1-9]\d{0,6}$/.test(expires) || Number(expires) > MAX_PRESIGNED_EXPIRES_SECONDS)
    return invalid(`X-Amz-Expires must be 1..${MAX_PRESIGNED_EXPIRES_SECONDS} seconds`);
  if (signedAt.getTime() - now > MAX_CLOCK_SKEW_MS) return fail('REQUEST_EXPIRED');
  if (now > signedAt.getTime() + Number(expires) * 1000) return fail('REQUEST_EXPIRED', 'Request has expired');
  return undefined;
}

/** The headers named in SignedHeaders, repeated ones joined by `,` (SigV4 canonical headers). */
function signedHeaderValues(rawHeaders: readonly string[], names: readonly string[]): Headers | string {
  const wanted = new Set(names);
  const headers: Headers = Object.create(null);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!wanted.has(name)) continue;
    headers[name] = name in headers ? `${headers[name]},${rawHeaders[i + 1]}` : rawHeaders[i + 1]!;
  }
  const missing = names.find((name) => !(name in headers));
  return missing === undefined ? headers : `Signed header '${missing}' is missing from the request`;
}

/** x-amz-content-sha256, when sent, must be the body's digest: smithy trusts the header as given. */
function checkPayloadHash(rawHeaders: readonly string[], body: Buffer | undefined): SigV4Result | undefined {
  const claimed = headerValues(rawHeaders, 'x-amz-content-sha256');
  if (claimed.length === 0) return undefined;
  if (claimed.length > 1 || !/^[0-9a-fA-F]{64}$/.test(claimed[0]!))
    return invalid('x-amz-content-sha256 must be the hex SHA-256 of the body (unsigned and streaming payloads are not accepted)');
  const actual = body && body.length > 0 ? createHash('sha256').update(body).digest('hex') : EMPTY_SHA256;
  if (!constantTimeEqual(actual, claimed[0]!.toLowerCase()))
    return invalid('The provided x-amz-content-sha256 header does not match what was computed');
  return undefined;
}

/** `20240102T030405Z` → Date, or undefined when it is not exactly that shape and a real instant. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  // Round-trip: rejects 20241301T…, 20240230T… (Date.UTC would roll them over).
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '') === value ? date : undefined;
}

/**
 * The query as the signer saw it: keys and values percent-decoded (smithy encodes them again),
 * repeated keys as lists, a key without `=` as the empty string (SigV4: "key="). `+` stays `+`
 * (RFC 3986; the SDK sends spaces as %20). undefined on malformed percent-encoding.
 */
function parseQuery(rawQuery: string): Query | undefined {
  const query: Query = Object.create(null);
  if (rawQuery === '') return query;
  try {
    for (const pair of rawQuery.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const key = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
      const previous = query[key];
      query[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
    }
  } catch {
    return undefined;
  }
  return query;
}

function firstValue(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of one header in Node's `rawHeaders` list, in arrival order. */
export function headerValues(rawHeaders: readonly string[], lowerCaseName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === lowerCaseName) values.push(rawHeaders[i + 1]!);
  return values;
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** smithy's hash constructor shape, backed by node:crypto (native, unlike the pure-JS Sha256). */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}
