/**
 * Key layout of the Redis store, one layout for standalone and Cluster.
 *
 * A stage id contains a NUL byte (stageId()), so stages are named by a hash of it. Braces mark
 * Redis Cluster hash tags: everything a stage keeps about itself shares the tag `{s:<stage>}` and
 * so one slot (the accounting script can touch it atomically), while entry keys carry no tag and
 * spread over every slot by their full name. Key and purge tag hashes are base64url, which has no
 * braces and no spaces; tags (backend values and request paths) are never stored in clear here.
 *
 *   cachegate:{s:<stage>}:meta              hash: gen (generation), cap (byte budget), evictions
 *   cachegate:{s:<stage>}:exp:<gen>         zset: entry hash → deleteAt (expired entries leave the accounting)
 *   cachegate:{s:<stage>}:age:<gen>         zset: entry hash → store sequence number (eviction order)
 *   cachegate:{s:<stage>}:size:<gen>        hash: entry hash → bytes, plus "#bytes" (total), "#seq" (sequence)
 *   cachegate:{s:<stage>}:tags:<gen>        hash: entry hash → its tag hashes, space-separated (purge, tags.ts)
 *   cachegate:{s:<stage>}:tags:<gen>:<tag hash>  set: entry hashes carrying the tag
 *   cachegate:e:<stage>:<gen>:<entry hash>  the encoded entry (entry-codec.ts), PX = deleteAt - now
 *   cachegate:{control}:apis                control-plane state (API definitions, JSON)
 *   channel cachegate:events                pub/sub for flushes, stage changes and API changes
 */
import { createHash, hash } from 'node:crypto';

export const KEY_PREFIX = 'cachegate';
export const EVENTS_CHANNEL = `${KEY_PREFIX}:events`;
export const APIS_KEY = `${KEY_PREFIX}:{control}:apis`;

/** A stage's name in Redis: 128 bits of SHA-256 of its stage id, base64url. */
export function stageHash(stage: string): string {
  return createHash('sha256').update(stage).digest('base64url').slice(0, 22);
}

/**
 * An entry key's hash: 192 bits of SHA-256, base64url (keys may be long and binary). Made on every
 * hit: the one-shot crypto.hash builds no Hash object (a third of createHash's time).
 */
export function entryHash(key: string): string {
  return hash('sha256', key, 'base64url').slice(0, 32);
}

/** A purge tag's hash (tags may be long and hold any character): 192 bits of SHA-256, base64url. */
export function tagHash(tag: string): string {
  return createHash('sha256').update('tag\u0000').update(tag).digest('base64url').slice(0, 32);
}

export function metaKey(stage: string): string {
  return `${KEY_PREFIX}:{s:${stage}}:meta`;
}
/**
 * The four accounting keys of a stage generation, in the order the scripts take them. The tag
 * sets are named after the tag index (`<tags>:<tag hash>`), so they share the stage's slot.
 */
export function accountingKeys(stage: string, generation: number): [expiry: string, age: string, size: string, tags: string] {
  const base = `${KEY_PREFIX}:{s:${stage}}`;
  return [`${base}:exp:${generation}`, `${base}:age:${generation}`, `${base}:size:${generation}`, `${base}:tags:${generation}`];
}
export function entryKey(stage: string, generation: number, hash: string): string {
  return `${KEY_PREFIX}:e:${stage}:${generation}:${hash}`;
}
