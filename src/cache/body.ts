/** Reading bodies with a bound: what fits is buffered for the cache, the rest streams through. */
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors.js';

export type Collected = { complete: true; body: Buffer } | { complete: false; prefix: Buffer[] };

/**
 * Buffers a stream until it ends or passes `limit` bytes. Past the limit the stream is left
 * paused with what was read in `prefix`, so the caller can write the prefix and pipe the rest.
 */
export function collectUpTo(stream: Readable, limit: number): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        cleanup();
        stream.pause();
        resolve({ complete: false, prefix: chunks });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ complete: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

/** A request body the cache needs whole (a key part, or a SigV4 payload hash); too large → 413. */
export async function readRequestBody(stream: Readable, limit: number): Promise<Buffer> {
  const collected = await collectUpTo(stream, limit);
  if (!collected.complete) {
    stream.resume();
    throw new GatewayError('PAYLOAD_TOO_LARGE', `Request body over ${limit} bytes cannot be part of a cache key`);
  }
  return collected.body;
}
