/**
 * The event a FUNCTION handler receives: AWS's Lambda proxy integration input, payload format 1.0
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html).
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { CallerLink, IntegrationRequest } from './integration.js';

// Lambda: a synchronous invocation's request payload is limited to 6 MB.
export const MAX_EVENT_BODY_BYTES = 6 * 1024 * 1024;

export interface LambdaProxyEvent {
  resource: string;
  path: string;
  httpMethod: string;
  headers: Record<string, string> | null;
  multiValueHeaders: Record<string, string[]> | null;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  pathParameters: Record<string, string> | null;
  stageVariables: Record<string, string> | null;
  requestContext: {
    accountId: string;
    apiId: string;
    stage: string;
    requestId: string;
    resourcePath: string;
    httpMethod: string;
    path: string;
    domainName: string;
    protocol: string;
    requestTime: string;
    requestTimeEpoch: number;
    identity: { sourceIp: string; userAgent: string | null };
  };
  body: string | null;
  isBase64Encoded: boolean;
}

export function buildProxyEvent(request: IntegrationRequest, body: Buffer | null, accountId: string): LambdaProxyEvent {
  // AWS keeps the caller's header-name case in the event; rawHeaders has it. Last value wins in `headers`.
  const multiValueHeaders = collect(pairsOf(request.rawHeaders));
  const headers = lastValues(multiValueHeaders);
  // AWS decodes the query form-style: `+` is a space, `%2B` a plus.
  const multiValueQuery = collect(new URLSearchParams(request.rawQuery));
  // AWS: text bodies are passed as they are; binary ones base64-encoded and flagged.
  const text = body !== null && isUtf8(body);
  return {
    resource: request.resourcePath,
    path: request.path,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters: lastValues(multiValueQuery),
    multiValueQueryStringParameters: multiValueQuery,
    pathParameters: orNull({ ...request.pathParameters }),
    stageVariables: orNull({ ...request.stageVariables }),
    requestContext: {
      accountId,
      apiId: request.apiId,
      stage: request.stage,
      requestId: request.requestId,
      resourcePath: request.resourcePath,
      httpMethod: request.method,
      path: `/${request.stage}${request.path}`,
      // Only from forwarded headers: a cached method's event must not carry an unkeyed, caller-chosen Host.
      domainName: request.headers.host ?? '',
      protocol: 'HTTP/1.1',
      requestTime: clfTime(new Date(request.receivedAt)),
      requestTimeEpoch: request.receivedAt,
      identity: { sourceIp: request.sourceIp, userAgent: request.headers['user-agent'] ?? null },
    },
    body: body === null ? null : body.toString(text ? 'utf8' : 'base64'),
    isBase64Encoded: body !== null && !text,
  };
}

/**
 * The whole request body, at most MAX_EVENT_BODY_BYTES (else 413, as Lambda refuses larger
 * payloads); null when there is none. Past the limit the caller's stream is left paused, not
 * destroyed, so the gateway can still answer on that connection.
 */
export async function readEventBody(body: Buffer | Readable | null, headers: IncomingHttpHeaders, caller: CallerLink): Promise<Buffer | null> {
  if (body === null) return null;
  if (Buffer.isBuffer(body)) {
    if (body.length > MAX_EVENT_BODY_BYTES) throw tooLarge();
    return body.length === 0 ? null : body;
  }
  if (Number(headers['content-length'] ?? 0) > MAX_EVENT_BODY_BYTES) throw tooLarge();
  const buffered = await readLimited(body, MAX_EVENT_BODY_BYTES, caller);
  return buffered.length === 0 ? null : buffered;
}

function readLimited(stream: Readable, limit: number, caller: CallerLink): Promise<Buffer> {
  if (stream.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      if (size > limit) return finish(() => reject(tooLarge()));
      chunks.push(bytes);
    };
    const onEnd = () => finish(() => resolve(Buffer.concat(chunks, size)));
    const onError = (error: Error) => finish(() => reject(error));
    let stopWatching: (() => void) | undefined;
    let finished = false;
    const finish = (settle: () => void) => {
      if (finished) return;
      finished = true;
      stream.off('data', onData).off('end', onEnd).off('error', onError);
      stopWatching?.();
      if (!stream.readableEnded) stream.pause();
      settle();
    };
    stopWatching = caller.onGone((reason) => finish(() => reject(reason)));
    if (finished) return;
    stream.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function tooLarge(): GatewayError {
  return new GatewayError('PAYLOAD_TOO_LARGE', `Request body larger than the ${MAX_EVENT_BODY_BYTES} bytes a function accepts`);
}

function* pairsOf(raw: readonly string[]): Iterable<[string, string]> {
  for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i]!, raw[i + 1]!];
}

// Maps, then Object.fromEntries: a caller's `?__proto__=x` becomes an own key, not a prototype write.
function collect(pairs: Iterable<[string, string]>): Record<string, string[]> | null {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  return grouped.size === 0 ? null : Object.fromEntries(grouped);
}

function lastValues(multi: Record<string, string[]> | null): Record<string, string> | null {
  if (multi === null) return null;
  return Object.fromEntries(Object.entries(multi).map(([name, values]) => [name, values[values.length - 1]!]));
}

/** AWS sends null, not `{}`, for an empty map. */
function orNull<T extends object>(map: T): T | null {
  return Object.keys(map).length === 0 ? null : map;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `09/Apr/2015:12:34:56 +0000`, the format of AWS's `requestContext.requestTime`. */
function clfTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}
