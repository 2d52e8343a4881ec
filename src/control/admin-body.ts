/**
 * Reading admin request bodies within named bounds (SPEC §7 Guarantees: "bodies are read only
 * after the caller is authenticated, or up to a small bound before it"; issue 13: 40 anonymous
 * 16 MB POSTs took the process from 190 to 726 MiB).
 *
 * - MAX_ADMIN_BODY_BYTES: one request, once its caller is proven (an OpenAPI import is the big one).
 * - MAX_UNVERIFIED_BODY_BYTES: what is read before the caller is proven — SigV4 signs the payload's
 *   hash, so a signed request without a signed `x-amz-content-sha256` must be read to be verified.
 * - MAX_INFLIGHT_ADMIN_BODY_BYTES: all admin bodies being read at once; past it a request gets 503
 *   (the SDK retries those) and its connection is closed.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

export const MAX_ADMIN_BODY_BYTES = 16 * 1024 * 1024;
export const MAX_UNVERIFIED_BODY_BYTES = 256 * 1024;
export const MAX_INFLIGHT_ADMIN_BODY_BYTES = 64 * 1024 * 1024;

export interface BodyRead {
  readonly body: Buffer;
  /** Hex SHA-256 of the body, computed while it streamed in. */
  readonly sha256: string;
}

/** Counts body bytes held by all admin requests of one listener. */
export class BodyBudget {
  private held = 0;

  constructor(private readonly limit = MAX_INFLIGHT_ADMIN_BODY_BYTES) {}

  get bytesHeld(): number {
    return this.held;
  }

  /**
   * Reads the whole body, at most `maxBytes` (413 beyond; a declared Content-Length over it is
   * refused before a byte is read). Bytes count against the budget until the returned `release`
   * runs; over the budget → 503.
   */
  async read(req: IncomingMessage, maxBytes: number): Promise<BodyRead & { release(): void }> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let size = 0;
    let released = false;
    const release = () => {
      if (!released) this.held -= size;
      released = true;
    };
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        this.held += chunk.length;
        if (size > maxBytes) throw tooLarge(maxBytes);
        if (this.held > this.limit) throw new GatewayError('ADMIN_BUSY');
        hash.update(chunk);
        chunks.push(chunk);
      }
    } catch (error) {
      release();
      throw error;
    }
    return { body: Buffer.concat(chunks, size), sha256: hash.digest('hex'), release };
  }
}

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError('PAYLOAD_TOO_LARGE', `Request body too large: at most ${maxBytes} bytes here`);
}
