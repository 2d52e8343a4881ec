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
}

export const ERRORS = {
  // Data plane: routing and request shape.
  ROUTE_NOT_FOUND: { status: 404, type: 'NotFoundException', message: 'No resource matches this stage and path' },
  METHOD_NOT_ALLOWED: { status: 405, type: 'MethodNotAllowedException', message: 'Method not allowed on this resource' },
  BAD_REQUEST: { status: 400, type: 'BadRequestException', message: 'Malformed request' },
  BAD_PERCENT_ENCODING: { status: 400, type: 'BadRequestException', message: 'Malformed percent-encoding in the request path or query' },
  URI_TOO_LONG: { status: 414, type: 'RequestUriTooLongException', message: 'Request URI too long' },
  HEADERS_TOO_LARGE: { status: 431, type: 'RequestHeaderFieldsTooLargeException', message: 'Request header fields too large' },
  PAYLOAD_TOO_LARGE: { status: 413, type: 'RequestEntityTooLargeException', message: 'Request body too large' },
  // Data plane: throttling (SPEC §8), AWS's exact answer.
  TOO_MANY_REQUESTS: { status: 429, type: 'TooManyRequestsException', message: 'Too Many Requests' },
  // Data plane: integrations. AWS answers 504 "Endpoint request timed out" on a timeout.
  INTEGRATION_TIMEOUT: { status: 504, type: 'IntegrationTimeout', message: 'Endpoint request timed out' },
  INTEGRATION_UNREACHABLE: { status: 502, type: 'IntegrationFailure', message: 'Integration unreachable' },
  INTEGRATION_FAILED: { status: 502, type: 'IntegrationFailure', message: 'Internal server error' },
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
  INTERNAL: { status: 500, type: 'InternalFailure', message: 'Internal server error' },
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
  const spec = ERRORS[code];
  const body = JSON.stringify({ message: message ?? spec.message });
  res.writeHead(spec.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': spec.type,
    ...extraHeaders,
  });
  res.end(body);
}
