/**
 * Vary (RFC 9111 §4.1): several stored responses per URL, each reused only for requests whose
 * Vary-named header fields match the request that fetched it.
 *
 * Layout in any CacheStore, per request (the store never parses headers, STYLE.md practice 1):
 * - a response without Vary is stored at the URL key itself — one get per hit, as before;
 * - a response with Vary is stored at `URL key + \0v + sha256(names, values)`, and the URL key
 *   holds a *variant index* (statusCode 0) listing, newest first, each variant's Vary names, the
 *   digest of its selecting values and its key — at most MAX_VARIANTS_PER_URL, the oldest dropped.
 *
 * Selecting values are normalised as RFC 9111 §4.1 allows ("combining multiple header lines",
 * whitespace around list commas): the request's raw field lines of a name are joined with ", ",
 * and since those same lines are what the integration receives, what was matched is what was sent.
 */
import { createHash } from 'node:crypto';
import type { CacheEntry } from '../../entry.js';
import { CACHE_ENTRY_VERSION } from '../../entry.js';
import { deleteBestEffort, type CacheStore, type MaybePromise } from '../../store.js';
import { varyNames } from './rules.js';

/** Stored variants per URL; a new one past this drops the oldest (bounds variant explosion). */
export const MAX_VARIANTS_PER_URL = 8;
/** Marks the variant index entry at a URL key (no response has status 0). */
export const VARIANT_INDEX_STATUS = 0;
const INDEX_HEADER = 'x-cachegate-variants';
/** On an entry object just stored: the digest of the selecting values it was stored for (coalescing, never persisted). */
const SELECTED_BY = Symbol('selectedBy');
type Claimed = CacheEntry['headers'] & { [SELECTED_BY]?: string };

interface Variant {
  /** Vary names, sorted, comma-joined. */
  readonly names: string;
  /** sha256 of the selecting values (hex). */
  readonly digest: string;
  readonly key: string;
  readonly deleteAt: number;
}

/** The request's value of one header for Vary matching: its raw lines joined, list whitespace trimmed. */
export function selectingValue(rawHeaders: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== name.length || rawHeaders[i]!.toLowerCase() !== name) continue;
    value = value === undefined ? rawHeaders[i + 1]! : `${value}, ${rawHeaders[i + 1]!}`;
  }
  return value === undefined ? undefined : value.split(',').map((item) => item.trim()).filter((item) => item !== '').join(',');
}

function digestOf(names: string, rawHeaders: readonly string[]): string {
  const hash = createHash('sha256').update(names);
  for (const name of names.split(',')) {
    const value = selectingValue(rawHeaders, name);
    // Absent and empty differ: length-prefixed, so no value can imitate another's parts.
    hash.update(value === undefined ? '\u0000-' : `\u0000${value.length}:${value}`);
  }
  return hash.digest('hex');
}

function readIndex(entry: CacheEntry): Variant[] {
  const field = entry.headers.find(([name]) => name === INDEX_HEADER);
  if (!field) return [];
  try {
    const parsed = JSON.parse(field[1]) as Variant[];
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function indexEntry(variants: readonly Variant[], now: number): CacheEntry {
  const deleteAt = Math.max(now, ...variants.map((variant) => variant.deleteAt));
  return { version: CACHE_ENTRY_VERSION, statusCode: VARIANT_INDEX_STATUS, headers: [[INDEX_HEADER, JSON.stringify(variants)]], body: Buffer.alloc(0), storedAt: now, staleAt: now, deleteAt };
}

/** The Vary names of stored (or to-be-stored) headers: every `vary` line, normalised (varyNames). */
function storedVaryNames(headers: CacheEntry['headers']): string {
  return varyNames(headers.filter(([name]) => name === 'vary').map(([, value]) => value));
}

/**
 * Marks a variant read back from the store with the selecting values it was filed under (its key
 * names them), which a decoded copy does not carry: so a waiter of another thread that reads it
 * after the leader's fill (fill leases) shares it by the same rule as a waiter on the leader's thread.
 */
function selectedBy(entry: CacheEntry, digest: string): CacheEntry {
  if (!Object.hasOwn(entry, SELECTED_BY)) Object.defineProperty(entry, SELECTED_BY, { value: digest, enumerable: false });
  return entry;
}

function then<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * One request's view of a stage space: get() selects the variant its headers match; set() files
 * an answer under the variant its Vary names. Everything else goes straight to the store.
 */
export class VariantStore implements CacheStore {
  constructor(private readonly inner: CacheStore, private readonly rawHeaders: readonly string[], private readonly now: () => number) {}

  get(stage: string, key: string): MaybePromise<CacheEntry | undefined> {
    return then(this.inner.get(stage, key), (found) => {
      if (!found || found.statusCode !== VARIANT_INDEX_STATUS) return found;
      // Newest first: the most recent matching response is the one to use (RFC 9111 §4.1).
      const digests = new Map<string, string>();
      for (const variant of readIndex(found)) {
        let digest = digests.get(variant.names);
        if (digest === undefined) digests.set(variant.names, (digest = digestOf(variant.names, this.rawHeaders)));
        if (digest === variant.digest) return then(this.inner.get(stage, variant.key), (entry) => entry && selectedBy(entry, digest));
      }
      return undefined;
    });
  }

  /**
   * Whether `entry` (fetched for another request, coalescing) is the variant this request selects:
   * no Vary, or the same selecting values as the request it was stored for. An entry that was not
   * stored through a VariantStore (so its selecting values are unknown) selects nothing.
   */
  selects(entry: CacheEntry): boolean {
    const names = storedVaryNames(entry.headers);
    if (names === '') return true;
    const selectedBy = (entry as CacheEntry & { [SELECTED_BY]?: string })[SELECTED_BY] ?? (entry.headers as Claimed)[SELECTED_BY];
    return selectedBy !== undefined && selectedBy === digestOf(names, this.rawHeaders);
  }

  /**
   * Marks the headers an answer to this request will be kept with (the admission's, which become
   * the entry's) with this request's selecting values, so the answer is shared with the waiters it
   * matches even when it is never stored (the store unreachable, the key too long, no room).
   */
  claim(headers: readonly (readonly [string, string])[]): void {
    const names = storedVaryNames(headers);
    if (names === '' || names === '*') return;
    Object.defineProperty(headers, SELECTED_BY, { value: digestOf(names, this.rawHeaders), enumerable: false, configurable: true });
  }

  set(stage: string, key: string, entry: CacheEntry): MaybePromise<void> {
    const names = storedVaryNames(entry.headers);
    if (names === '') return this.inner.set(stage, key, entry);
    const digest = digestOf(names, this.rawHeaders);
    Object.defineProperty(entry, SELECTED_BY, { value: digest, enumerable: false });
    const variantKey = `${key}\u0000v${createHash('sha256').update(`${names}\u0000${digest}`).digest('hex')}`;
    return then(this.inner.get(stage, key), (found) => {
      const now = this.now();
      const previous = found && found.statusCode === VARIANT_INDEX_STATUS ? readIndex(found).filter((variant) => variant.key !== variantKey && variant.deleteAt > now) : [];
      const variants = [{ names, digest, key: variantKey, deleteAt: entry.deleteAt }, ...previous];
      const dropped = variants.splice(MAX_VARIANTS_PER_URL);
      return then(this.inner.set(stage, variantKey, entry), () => {
        // Best effort: a store that fails now (Redis gone mid-request) leaves the dropped variant to
        // its TTL and the LRU budget; its rejection must not go unhandled (that ends the process).
        for (const variant of dropped) deleteBestEffort(this.inner, stage, variant.key);
        return this.inner.set(stage, key, indexEntry(variants, now));
      });
    });
  }

  delete(stage: string, key: string): MaybePromise<void> {
    return this.inner.delete(stage, key);
  }

  flush(stage: string): MaybePromise<void> {
    return this.inner.flush(stage);
  }

  purge(...args: Parameters<CacheStore['purge']>): MaybePromise<number> {
    return this.inner.purge(...args);
  }

  configureStage(stage: string, capacityBytes: number): MaybePromise<void> {
    return this.inner.configureStage(stage, capacityBytes);
  }

  dropStage(stage: string): MaybePromise<void> {
    return this.inner.dropStage(stage);
  }

  stats(stage: string): ReturnType<CacheStore['stats']> {
    return this.inner.stats(stage);
  }

  close(): MaybePromise<void> {
    return this.inner.close();
  }
}
