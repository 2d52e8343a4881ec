/**
 * One interface for every integration type (HTTP_PROXY, MOCK, FUNCTION). The gateway routes a
 * request, the cache step may answer it, and otherwise an Integration produces the response.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { HttpMethod } from '../config/schema.js';

export interface IntegrationRequest {
  /** The caller's method. */
  readonly method: HttpMethod;
  /** Canonical request path after the stage (one spelling per resource): `/pets/1%202`. */
  readonly path: string;
  /** The matched resource template: `/pets/{petId}`. */
  readonly resourcePath: string;
  /** Decoded path parameters; a greedy `{proxy+}` holds the rest of the path, slashes included. */
  readonly pathParameters: Readonly<Record<string, string>>;
  /** Query string without `?`, exactly as received (may be ''). */
  readonly rawQuery: string;
  /** Node's lower-cased request headers. */
  readonly headers: IncomingHttpHeaders;
  /** Node's raw header list [name, value, name, value, …], original case and order. */
  readonly rawHeaders: readonly string[];
  /** The request body: buffered when the gateway needed it, else the live request stream; null when none. */
  readonly body: Buffer | Readable | null;
  readonly apiId: string;
  readonly stage: string;
  readonly stageVariables: Readonly<Record<string, string>>;
  readonly requestId: string;
  /** Epoch milliseconds when the gateway received the request. */
  readonly receivedAt: number;
  readonly sourceIp: string;
  /** The Host header the caller sent. */
  readonly host: string;
  /** The caller's connection: integrations stop work and release resources when it goes away. */
  readonly caller: CallerLink;
}

/**
 * Word of the caller going away before its answer is complete. Not an AbortSignal: creating one
 * per request cost more than the rest of the routing (an EventTarget each); this is a listener on
 * the response the gateway already has.
 */
export interface CallerLink {
  /** Why the caller is gone (set once it closed the connection early); undefined while it waits. */
  readonly goneReason: Error | undefined;
  /** Calls `listener` once when the caller goes away (at once if it already has); the result stops listening. */
  onGone(listener: (reason: Error) => void): () => void;
  /** Relays a 1xx interim answer (102, 103) to the caller before the final one (RFC 9110 §15.2); never stored. */
  interim?(statusCode: number, headers: Record<string, string | string[]>): void;
}

export interface IntegrationResponse {
  statusCode: number;
  /** Lower-case header names; multi-valued headers (set-cookie) as arrays. */
  headers: Record<string, string | string[]>;
  /** A buffered body, or a stream the gateway pipes to the caller (and may buffer for the cache). */
  body: Buffer | Readable;
}

export interface Integration {
  invoke(request: IntegrationRequest): Promise<IntegrationResponse>;
}

/**
 * Why an integration failed. The gateway maps it to the caller's answer:
 * `timeout` → 504, `unreachable` / `bad-response` → 502 (all JSON).
 */
export class IntegrationError extends Error {
  constructor(
    readonly kind: 'timeout' | 'unreachable' | 'bad-response',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IntegrationError';
  }
}
