/**
 * The in-memory store: one byte-budgeted LRU per stage space (SPEC §5: "when full, least recently
 * used entries are evicted"). A hot data structure, so it is written for the hit path:
 * synchronous answers (no promise), no allocation on a hit, entries kept as given (no copies).
 * Every byte a stored entry keeps — its node, map slot and tag index records included — is counted
 * against the space's budget by entrySize (entry.ts, SPEC §7).
 *
 * Each space is a Map from key to a node of a doubly linked recency list (newest ↔ oldest). We
 * keep our own list rather than re-inserting into the Map on every hit: re-insertion leaves a
 * deleted slot behind, and V8 rehashes the whole table when they pile up, a pause proportional
 * to the entry count (see bench/store-micro.ts for the measurement against lru-cache).
 *
 * Expiry: an entry past `deleteAt` (by the injected clock) is never returned; it is dropped when
 * met — on a get, or when it reaches the old end of the list — and counted as an expiration,
 * not an eviction. Flushing swaps in an empty map and list: O(1) whatever the size; the old ones
 * are left to the garbage collector.
 *
 * Purge (tags.ts): backend tags are indexed per space (tag → nodes), kept in step with every way
 * an entry leaves, so a tag purge touches only what it removes. Path tags are not indexed — every
 * entry has several, and an index would cost more memory than the entries' headers — so a path
 * prefix purge walks the space: an admin operation, not the hot path.
 */
import { entrySize, type CacheEntry } from '../entry.js';
import { ownedString } from '../owned-string.js';
import type { CacheStore, StageStats } from '../store.js';
import { isPathTag, purgeTags, type PurgeMatch } from '../tags.js';

export interface MemoryStageStats extends StageStats {
  /** Entries dropped because they passed `deleteAt` (not counted in `evictions`). */
  expirations: number;
}

interface LruNode {
  readonly key: string;
  entry: CacheEntry;
  size: number;
  /** Towards the most recently used end. */
  newer: LruNode | undefined;
  /** Towards the least recently used end. */
  older: LruNode | undefined;
}

class StageSpace {
  nodes = new Map<string, LruNode>();
  /** Backend tag → the nodes carrying it (path tags are matched by a walk, see above). */
  tagged = new Map<string, Set<LruNode>>();
  newest: LruNode | undefined = undefined;
  oldest: LruNode | undefined = undefined;
  bytes = 0;
  // Counters are monotonic for the life of the stage (Prometheus counters): flush and resize keep them.
  evictions = 0;
  expirations = 0;

  constructor(public capacityBytes: number) {}

  /** Forgets every entry at once: no walk, the old map and list become garbage. */
  clear(): void {
    this.nodes = new Map();
    this.tagged = new Map();
    this.newest = this.oldest = undefined;
    this.bytes = 0;
  }

  unlink(node: LruNode): void {
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
    node.newer = node.older = undefined;
  }

  pushNewest(node: LruNode): void {
    node.older = this.newest;
    node.newer = undefined;
    if (this.newest) this.newest.newer = node;
    else this.oldest = node;
    this.newest = node;
  }

  remove(node: LruNode): void {
    this.unlink(node);
    this.nodes.delete(node.key);
    this.bytes -= node.size;
    if (node.entry.tags) this.unindex(node);
  }

  index(node: LruNode): void {
    for (const tag of node.entry.tags!) {
      if (isPathTag(tag)) continue;
      let nodes = this.tagged.get(tag);
      if (nodes === undefined) this.tagged.set(tag, (nodes = new Set()));
      nodes.add(node);
    }
  }

  unindex(node: LruNode): void {
    for (const tag of node.entry.tags!) {
      const nodes = this.tagged.get(tag);
      if (nodes?.delete(node) && nodes.size === 0) this.tagged.delete(tag);
    }
  }
}

export class MemoryStore implements CacheStore {
  private readonly spaces = new Map<string, StageSpace>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  get(stage: string, key: string): CacheEntry | undefined {
    const space = this.spaces.get(stage);
    if (space === undefined) return undefined;
    const node = space.nodes.get(key);
    if (node === undefined) return undefined;
    if (this.now() >= node.entry.deleteAt) {
      space.remove(node);
      space.expirations++;
      return undefined;
    }
    if (space.newest !== node) {
      space.unlink(node);
      space.pushNewest(node);
    }
    return node.entry;
  }

  /** Stores or replaces; a stage never configured stores nothing. */
  set(stage: string, key: string, entry: CacheEntry): void {
    const space = this.spaces.get(stage);
    if (space === undefined) return;
    const existing = space.nodes.get(key);
    const size = entrySize(key, entry);
    // Larger than the whole budget (it would evict everything and still not fit), or already dead.
    if (size > space.capacityBytes || this.now() >= entry.deleteAt) {
      // The old response is outdated all the same: never serve it after a failed replace.
      if (existing !== undefined) space.remove(existing);
      return;
    }
    if (existing !== undefined) {
      // Replace in place: no map churn (a delete + set leaves a hole the Map must later rehash away).
      space.unlink(existing);
      space.bytes -= existing.size;
      if (existing.entry.tags) space.unindex(existing);
      existing.entry = entry;
      if (entry.tags) space.index(existing);
      existing.size = size;
      if (space.bytes + size > space.capacityBytes) this.makeRoom(space, size);
      space.pushNewest(existing);
      space.bytes += size;
      return;
    }
    if (space.bytes + size > space.capacityBytes) this.makeRoom(space, size);
    // The key is built by concatenation from slices of the request (key.ts): keep a flat copy, not the request.
    const owned = ownedString(key);
    const node: LruNode = { key: owned, entry, size, newer: undefined, older: undefined };
    space.nodes.set(owned, node);
    if (entry.tags) space.index(node);
    space.pushNewest(node);
    space.bytes += size;
  }

  delete(stage: string, key: string): void {
    const space = this.spaces.get(stage);
    const node = space?.nodes.get(key);
    if (node !== undefined) space!.remove(node);
  }

  flush(stage: string): void {
    this.spaces.get(stage)?.clear();
  }

  /** Backend tags through the index; path tags by a walk of the space (admin operation). */
  purge(stage: string, match: PurgeMatch): number {
    const space = this.spaces.get(stage);
    if (space === undefined) return 0;
    const wanted = purgeTags(match);
    const doomed = new Set<LruNode>();
    for (const tag of wanted) for (const node of space.tagged.get(tag) ?? []) doomed.add(node);
    const paths = wanted.filter(isPathTag);
    if (paths.length > 0) {
      for (const node of space.nodes.values()) {
        if (node.entry.tags?.some((tag) => paths.includes(tag))) doomed.add(node);
      }
    }
    const now = this.now();
    let purged = 0;
    for (const node of doomed) {
      space.remove(node);
      // An entry already past deleteAt was gone for callers: it leaves as an expiration.
      if (now >= node.entry.deleteAt) space.expirations++;
      else purged++;
    }
    return purged;
  }

  /** Creates a space, or resizes one: a new capacity starts empty (AWS: a new cache cluster). */
  configureStage(stage: string, capacityBytes: number): void {
    const space = this.spaces.get(stage);
    if (space === undefined) this.spaces.set(stage, new StageSpace(capacityBytes));
    else if (space.capacityBytes !== capacityBytes) {
      space.clear();
      space.capacityBytes = capacityBytes;
    }
  }

  dropStage(stage: string): void {
    this.spaces.delete(stage);
  }

  stats(stage: string): MemoryStageStats | undefined {
    const space = this.spaces.get(stage);
    if (space === undefined) return undefined;
    return {
      entries: space.nodes.size,
      bytes: space.bytes,
      capacityBytes: space.capacityBytes,
      evictions: space.evictions,
      expirations: space.expirations,
    };
  }

  close(): void {
    this.spaces.clear();
  }

  /**
   * Drops every entry past its deleteAt. A walk: for spaces that never evict (the Alibaba plug-in's),
   * called when such a space is full, not on the hot path.
   */
  pruneExpired(stage: string): void {
    const space = this.spaces.get(stage);
    if (space === undefined) return;
    const now = this.now();
    for (const node of [...space.nodes.values()]) {
      if (now >= node.entry.deleteAt) {
        space.remove(node);
        space.expirations++;
      }
    }
  }

  /** Drops least recently used entries until `size` more bytes fit. */
  private makeRoom(space: StageSpace, size: number): void {
    const now = this.now();
    while (space.bytes + size > space.capacityBytes && space.oldest !== undefined) {
      const oldest = space.oldest;
      space.remove(oldest);
      // An entry past deleteAt leaving is an expiration, not an eviction.
      if (now >= oldest.entry.deleteAt) space.expirations++;
      else space.evictions++;
    }
  }
}
