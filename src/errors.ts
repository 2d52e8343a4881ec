/**
 * Every error a caller can receive, data plane and control plane alike (STYLE.md practice 8).
 * Answers are JSON `{"message": …}` with `x-amzn-ErrorType`, the shape Amazon API Gateway uses,
 * so the AWS SDK raises typed exceptions and curl users read a sentence.
 */
import type { ServerResponse } from 'node:http';

export interface ErrorSpec {
  readonly status: number;
  /** AWS-style error type, sent as `x-amzn-ErrorType` (the SDK's exception name). */
  readonly type: string;
  readonly message: string;
  /**
   * Alibaba Cloud API Gateway's six-character `X-Ca-Error-Code` for this error, sent with
   * `X-Ca-Request-Id` and `X-Ca-Error-Message` on routes that use apps or a plug-in (SPEC §6).
   */
  readonly alibabaCode?: string;
}

export const ERRORS = {
  // Data plane: routing and request shape. (Alibaba codes: its "error codes for API Gateway instances of the VPC type".)
  ROUTE_NOT_FOUND: { status: 404, type: 'NotFoundException', message: 'No resource matches this stage and path', alibabaCode: 'I404NF' },
  METHOD_NOT_ALLOWED: { status: 405, type: 'MethodNotAllowedException', message: 'Method not allowed on this resource', alibabaCode: 'I405UM' },
  BAD_REQUEST: { status: 400, type: 'BadRequestException', message: 'Malformed request', alibabaCode: 'I400RU' },
  BAD_PERCENT_ENCODING: { status: 400, type: 'BadRequestException', message: 'Malformed percent-encoding in the request path or query', alibabaCode: 'I400RU' },
  URI_TOO_LONG: { status: 414, type: 'RequestUriTooLongException', message: 'Request URI too long', alibabaCode: 'I413UL' },
  HEADERS_TOO_LARGE: { status: 431, type: 'RequestHeaderFieldsTooLargeException', message: 'Request header fields too large', alibabaCode: 'I400HD' },
  PAYLOAD_TOO_LARGE: { status: 413, type: 'RequestEntityTooLargeException', message: 'Request body too large', alibabaCode: 'I413RL' },
  // Data plane: throttling (SPEC §8), AWS's exact answer.
  TOO_MANY_REQUESTS: { status: 429, type: 'TooManyRequestsException', message: 'Too Many Requests', alibabaCode: 'T429PA' },
  // Data plane: integrations. AWS answers 504 "Endpoint request timed out" on a timeout.
  INTEGRATION_TIMEOUT: { status: 504, type: 'IntegrationTimeout', message: 'Endpoint request timed out', alibabaCode: 'D504TO' },
  INTEGRATION_UNREACHABLE: { status: 502, type: 'IntegrationFailure', message: 'Integration unreachable', alibabaCode: 'D504CO' },
  INTEGRATION_FAILED: { status: 502, type: 'IntegrationFailure', message: 'Internal server error', alibabaCode: 'D502FC' },
  // Alibaba app authentication (SPEC §6): statuses and messages as Alibaba's gateway answers them
  // ("Invalid AppKey", "Nonce Used", "Invalid Signature, Server StringToSign:…" are its own words).
  APP_HEADER_REQUIRED: { status: 400, type: 'BadRequestException', message: 'Header is Required', alibabaCode: 'I400MH' },
  APP_INVALID_HEADER: { status: 400, type: 'BadRequestException', message: 'Invalid Header', alibabaCode: 'I400HD' },
  APP_TIMESTAMP_EXPIRED: { status: 400, type: 'BadRequestException', message: 'Timestamp Expired', alibabaCode: 'I400HD' },
  APP_INVALID_KEY: { status: 400, type: 'BadRequestException', message: 'Invalid AppKey', alibabaCode: 'A400IK' },
  APP_INVALID_SECRET: { status: 403, type: 'ForbiddenException', message: 'Invalid AppSecret', alibabaCode: 'A403IS' },
  APP_INVALID_CODE: { status: 401, type: 'UnauthorizedException', message: 'Invalid AppCode', alibabaCode: 'A401AC' },
  APP_INVALID_SIGNATURE: { status: 400, type: 'BadRequestException', message: 'Invalid Signature', alibabaCode: 'I400SG' },
  APP_NONCE_USED: { status: 400, type: 'BadRequestException', message: 'Nonce Used', alibabaCode: 'I400NC' },
  APP_NEED_AUTHORIZATION: { status: 400, type: 'BadRequestException', message: 'Need Authorization', alibabaCode: 'A400MA' },
  APP_UNAUTHORIZED: { status: 403, type: 'ForbiddenException', message: 'Unauthorized', alibabaCode: 'I403AA' },
  /** An app past its nonce limit (a named bound, not an Alibaba quota): refused rather than forgetting a nonce. */
  APP_THROTTLED: { status: 429, type: 'TooManyRequestsException', message: 'Throttled by APP Flow Control', alibabaCode: 'T429PA' },
  // Data plane: cache control by callers (AWS: FAIL_WITH_403).
  CACHE_CONTROL_FORBIDDEN: { status: 403, type: 'AccessDeniedException', message: 'Unauthorized request to invalidate the cache' },
  // Authentication and authorisation, both planes.
  MISSING_AUTHENTICATION: { status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
  UNRECOGNIZED_CLIENT: { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' },
  INVALID_SIGNATURE: { status: 403, type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' },
  REQUEST_EXPIRED: { status: 403, type: 'InvalidSignatureException', message: 'Signature expired: the request time is more than 15 minutes from the server time.' },
  /** AWS's answer to an unknown or wrong API key. */
  FORBIDDEN: { status: 403, type: 'ForbiddenException', message: 'Forbidden' },
  ACCESS_DENIED: { status: 403, type: 'AccessDeniedException', message: 'User is not authorized to perform this action' },
  // Control plane.
  NOT_FOUND: { status: 404, type: 'NotFoundException', message: 'Not found' },
  CONFLICT: { status: 409, type: 'ConflictException', message: 'Conflict' },
  INVALID_INPUT: { status: 400, type: 'BadRequestException', message: 'Invalid request' },
  /** AWS's answer when a quota (resources per API, deployments, tags, export size) would be exceeded. */
  LIMIT_EXCEEDED: { status: 429, type: 'LimitExceededException', message: 'A limit was exceeded' },
  /** Admin listener: a Host that names neither it nor gateway.adminHosts (DNS rebinding). RFC 9110 §15.5.20. */
  MISDIRECTED_HOST: { status: 421, type: 'MisdirectedRequestException', message: 'Misdirected request' },
  /** Admin listener: too many request bodies being read at once (a named bound); the SDK retries 503. */
  ADMIN_BUSY: { status: 503, type: 'ServiceUnavailableException', message: 'Too many admin request bodies in flight; retry later' },
  INTERNAL: { status: 500, type: 'InternalFailure', message: 'Internal server error', alibabaCode: 'X500ER' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error carrying one registry entry, optionally with a more specific message. */
export class GatewayError extends Error {
  readonly spec: ErrorSpec;
  constructor(readonly code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.name = 'GatewayError';
    this.spec = ERRORS[code];
  }
}

/** Writes an error answer; safe to call on a response whose headers are already sent (it then just ends it). */
export function sendError(res: ServerResponse, code: ErrorCode, message?: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const spec: ErrorSpec = ERRORS[code];
  const text = message ?? spec.message;
  const body = JSON.stringify({ message: text });
  const alibabaRequestId = alibabaResponses.get(res);
  res.writeHead(spec.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': spec.type,
    ...(alibabaRequestId !== undefined && {
      'x-ca-request-id': alibabaRequestId,
      ...(spec.alibabaCode !== undefined && { 'x-ca-error-code': spec.alibabaCode }),
      'x-ca-error-message': headerSafe(text),
    }),
    ...extraHeaders,
  });
  res.end(body);
}

/** Responses of routes that use Alibaba apps or a plug-in, with their request id. */
const alibabaResponses = new WeakMap<ServerResponse, string>();

/** Marks `res` as answering an Alibaba route: its errors carry X-Ca-Request-Id, X-Ca-Error-Code and X-Ca-Error-Message (SPEC §6). */
export function answerAsAlibaba(res: ServerResponse, requestId: string): void {
  alibabaResponses.set(res, requestId);
}

/**
 * A message as a header value. Alibaba: "line breaks cannot be represented in HTTP headers, so
 * the StringToSign's line breaks are replaced with #". Anything else outside visible ASCII (a
 * decoded path may hold any character) is percent-encoded, so no caller input can break the head.
 */
function headerSafe(text: string): string {
  return text.replace(/\n/g, '#').replace(/[^\x20-\x7e]/gu, (char) => {
    const bytes = Buffer.from(char, 'utf8');
    let encoded = '';
    for (const byte of bytes) encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    return encoded;
  });
}
