/**
 * Strings a cache entry keeps must keep nothing else alive (SPEC §7: every byte an entry keeps is
 * counted, and only those). V8 represents `a + b` as a ConsString — a tree of its parts, 32 bytes
 * per concatenation — and `s.slice(i, j)` or `split()` as a SlicedString that keeps its whole parent
 * (a request's raw URL, a response's whole header line) alive for as long as the entry lives.
 */

/** V8 never makes a ConsString or SlicedString shorter than this (ConsString/SlicedString::kMinLength). */
const MIN_INDIRECT_LENGTH = 13;

/**
 * A flat, sequential copy of `text`: JSON.parse always builds a new string from the characters.
 * Called once per string stored, never on a hit.
 */
export function ownedString(text: string): string {
  return text.length < MIN_INDIRECT_LENGTH ? text : (JSON.parse(JSON.stringify(text)) as string);
}

/** The same for text known to be Latin-1 (an HTTP head, RFC 9110 §5.5): one copy, no escaping. */
export function ownedLatin1(text: string): string {
  return text.length < MIN_INDIRECT_LENGTH ? text : Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * The same for bytes: a Buffer that owns exactly its memory. A small Buffer from Buffer.concat,
 * Buffer.from or allocUnsafe is a slice of Node's shared 8 KiB pool, and a decoded Redis reply a
 * view into a socket read or the client's buffer pool; an entry keeping either keeps all of it
 * alive, while entrySize counts only `length`. Copied once when stored, never on a hit.
 */
export function ownedBuffer(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}
