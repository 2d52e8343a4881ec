/**
 * The shared store on Redis / Valkey, standalone or Cluster (SPEC §7): every gateway node on one
 * Redis shares entries, flushes and control-plane changes.
 *
 * - A hit is one GET of a binary value (entry-codec.ts) under a key that names the stage's
 *   current generation (keys.ts); the same bytes read again are not decoded again
 *   (decoded-values.ts). The generation is cached per node and kept current by pub/sub, re-read
 *   in the background every few seconds and after any reconnect, so a lost message costs seconds
 *   of staleness at worst, never a wrong stage.
 * - Flush is O(1): the next generation. Old entries are never read again and age out by their PX.
 * - Per-stage byte budgets are kept by a Lua script on the stage's own slot (scripts.ts).
 * - Purge (tags.ts) reads per-generation tag sets on the stage's slot, kept in step by the same
 *   scripts, then unlinks the entries. Redis is the only state, so every node misses at once.
 * - Every call is bounded by `store.timeoutMs`; a call while disconnected fails at once. Failures
 *   reject (the cache step then serves from the integration).
 * - A circuit breaker per node (circuit.ts): the first error of a command on a node (or two
 *   timeouts in a row) opens its circuit, and calls that need that node fail at once until a PING probe finds it
 *   again. For a Cluster that is per master, found from the key's slot: keys on healthy masters
 *   keep caching. Each node's outage is logged once, and its end once.
 * - Generations never go backwards on a node (SPEC §5: a flush never comes back): a Redis that
 *   restarts from a snapshot taken before a flush has an older generation, which the node
 *   refuses, moving the stage on past the highest generation it has seen (scripts.ts).
 */
import { randomBytes } from 'node:crypto';
import { ReplyError, type Cluster, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { StoreConfig } from '../../../config/schema.js';
import { silentLogger } from '../../../logging.js';
import { entrySize, type CacheEntry } from '../../entry.js';
import { LocalEntries } from './local-entries.js';
import type { SharedState } from '../../shared-state.js';
import type { CacheStore, StageStats } from '../../store.js';
import { purgeTags, type PurgeMatch } from '../../tags.js';
import { encodeEntry } from '../entry-codec.js';
import { DecodedValues } from './decoded-values.js';
import { connectRedis, type RedisClient } from './connection.js';
import { Circuit, keySlot } from './circuit.js';
import { CircuitOpenError, errorMessage, StoreTimeoutError, StoreUnavailableError } from './health.js';
import { accountingKeys, APIS_KEY, entryHash, entryKey, EVENTS_CHANNEL, metaKey, stageHash, tagHash } from './keys.js';

/** A cached generation older than this is re-read in the background (pub/sub keeps it current before). */
const GENERATION_RECHECK_MS = 5_000;
/** stats() is synchronous: it answers what it knows and refreshes in the background this often. */
const STATS_REFRESH_MS = 2_000;
const STATE_VERSION = 1;

interface Space {
  readonly hash: string;
  readonly capacityBytes: number;
  generation: number | undefined;
  /** Bumped whenever `generation` is set, so a slow read cannot overwrite a newer value. */
  generationUpdates: number;
  generationCheckedAt: number;
  pendingGeneration: Promise<number> | undefined;
  bytes: number;
  entries: number;
  evictions: number;
  statsReadAt: number;
}

type StoreEvent =
  | { o: string; t: 'gen'; s: string; g: number }
  | { o: string; t: 'inv'; s: string }
  | { o: string; t: 'apis'; apis: unknown };

export interface RedisStoreOptions {
  now?: () => number;
  logger?: Logger;
}

export class RedisStore implements CacheStore, SharedState {
  readonly type: 'redis' | 'redis-cluster';
  readonly client: RedisClient;
  private readonly subscriber: Redis | Cluster;
  private readonly spaces = new Map<string, Space>();
  /** Stage hash → the highest generation this node has used; outlives a resized or dropped Space. */
  private readonly seenGenerations = new Map<string, number>();
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** Control-path calls (configure, flush, shared state) get a longer budget than a lookup. */
  private readonly controlTimeoutMs: number;
  private readonly logger: Logger;
  /** One circuit per node: `host:port` of a Cluster master, or STANDALONE_NODE. */
  private readonly circuits = new Map<string, Circuit>();
  private readonly nodeId = randomBytes(8).toString('hex');
  private readonly apiListeners: ((apis: unknown) => void)[] = [];
  private hadReady = false;
  private closed = false;
  /** In-process copies of recent entries (`store.localCacheMs` > 0). */
  private readonly local: LocalEntries | undefined;
  /** The entries decoded from the last values read under recent keys: the same bytes are not decoded again. */
  private readonly decoded = new DecodedValues();

  constructor(config: StoreConfig, options: RedisStoreOptions = {}) {
    this.type = config.type === 'redis-cluster' ? 'redis-cluster' : 'redis';
    this.now = options.now ?? Date.now;
    this.timeoutMs = config.timeoutMs;
    this.controlTimeoutMs = Math.max(config.timeoutMs * 20, 2000);
    this.local = config.localCacheMs > 0 ? new LocalEntries(config.localCacheMs) : undefined;
    this.logger = options.logger ?? silentLogger();
    const { client, subscriber } = connectRedis(config);
    this.client = client;
    this.subscriber = subscriber;

    if (this.type === 'redis') client.on('error', (error: unknown) => this.circuit(STANDALONE_NODE).failed('connection', error));
    else {
      client.on('node error', (error: unknown, node: string) => this.circuit(node).failed('connection', error));
      // Cluster-wide failures ("Failed to refresh slots cache" while every node is away): the nodes'
      // own errors open their circuits; unheard, ioredis prints each one with its stack to stderr.
      client.on('error', (error: unknown) => this.logger.debug({ store: this.type, err: errorMessage(error) }, 'cache store cluster error'));
    }
    client.on('ready', () => {
      for (const circuit of this.circuits.values()) circuit.probeSoon();
      // After a reconnect Redis may have restarted empty: re-create the stages and re-read generations.
      if (this.hadReady) this.resync();
      this.hadReady = true;
    });
    subscriber.on('error', () => undefined); // the command connection reports outages
    subscriber.on('ready', () => {
      // Messages sent while this connection was down are lost: re-read what they would have said.
      void this.subscriber.subscribe(EVENTS_CHANNEL).then(() => this.resync(), () => undefined);
    });
    subscriber.on('message', (_channel: string, text: string) => this.receive(text));
  }

  /** Resolves once the command connection is ready (tests, start-up); rejects after `timeoutMs`. */
  ready(timeoutMs = this.controlTimeoutMs): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new StoreUnavailableError(`${this.client.status} after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', onReady);
    });
  }

  get(stage: string, key: string): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    const space = this.spaces.get(stage);
    if (!space) return undefined;
    if (this.local && space.generation !== undefined) {
      // A recent copy answers synchronously, without a Redis round trip.
      const copy = this.local.get(LocalEntries.id(space.hash, space.generation, key), this.now());
      if (copy) return copy;
    }
    return this.bounded('get', this.timeoutMs, async (attempt) => {
      const generation = await this.generationOf(space, attempt);
      const member = entryHash(key);
      const redisKey = entryKey(space.hash, generation, member);
      const entry = this.decoded.decode(redisKey, await attempt.on(redisKey, () => this.client.getBuffer(redisKey)));
      // PX runs on Redis's clock, deleteAt on ours (which tests drive): past deleteAt the entry is
      // gone for good, even should our clock go back.
      if (entry && this.now() >= entry.deleteAt) {
        await this.forget(attempt, space, generation, member, redisKey);
        return undefined;
      }
      if (entry) this.local?.set(LocalEntries.id(space.hash, generation, key), entry, this.now());
      return entry;
    });
  }

  set(stage: string, key: string, entry: CacheEntry): void | Promise<void> {
    const space = this.spaces.get(stage);
    if (!space) return;
    return this.bounded('set', this.timeoutMs, async (attempt) => {
      const generation = await this.generationOf(space, attempt);
      const member = entryHash(key);
      const redisKey = entryKey(space.hash, generation, member);
      const size = entrySize(key, entry);
      const now = this.now();
      const ttl = Math.ceil(entry.deleteAt - now);
      if (size > space.capacityBytes || ttl <= 0) {
        // Never stored (as in the memory store); the entry it replaces goes all the same.
        this.local?.delete(LocalEntries.id(space.hash, generation, key));
        await this.forget(attempt, space, generation, member, redisKey);
        return;
      }
      const meta = metaKey(space.hash);
      // Both nodes first: an entry written without its accounting would escape the budget.
      attempt.check(redisKey, meta);
      const [, accounted] = await Promise.all([
        attempt.on(redisKey, () => this.client.set(redisKey, encodeEntry(entry), 'PX', ttl)),
        attempt.on(meta, () => this.client.cgAccount(...accountingKeys(space.hash, generation), meta, now, member, size, entry.deleteAt, space.capacityBytes, ...tagHashes(entry))),
      ]);
      const [bytes, entries, evictions, ...evicted] = accounted;
      this.local?.set(LocalEntries.id(space.hash, generation, key), entry, now);
      this.recordStats(space, generation, Number(bytes), Number(entries), Number(evictions));
      // One UNLINK per key: in Cluster the evicted entries live on other slots.
      for (const victim of evicted) this.client.unlink(entryKey(space.hash, generation, victim)).catch(() => undefined);
    });
  }

  delete(stage: string, key: string): void | Promise<void> {
    const space = this.spaces.get(stage);
    if (!space) return;
    return this.bounded('delete', this.timeoutMs, async (attempt) => {
      const generation = await this.generationOf(space, attempt);
      const member = entryHash(key);
      await this.forget(attempt, space, generation, member, entryKey(space.hash, generation, member));
      await this.dropLocalCopies(space.hash);
    });
  }

  /** The next generation, at once on this node and by pub/sub on the others. */
  flush(stage: string): Promise<void> {
    const hash = stageHash(stage);
    return this.bounded('flush', this.controlTimeoutMs, async (attempt) => {
      const meta = metaKey(hash);
      const generation = Number(await attempt.on(meta, () => this.client.cgFlush(meta, this.seenGenerations.get(hash) ?? 0)));
      const space = this.spaces.get(stage);
      if (space) {
        this.setGeneration(space, generation);
        this.recordStats(space, generation, 0, 0, space.evictions);
      }
      await this.announce({ o: this.nodeId, t: 'gen', s: hash, g: generation });
    });
  }

  /** Removes the entries carrying any of the tags; resolves once their keys are gone (for every node). */
  purge(stage: string, match: PurgeMatch): number | Promise<number> {
    const space = this.spaces.get(stage);
    const tags = purgeTags(match);
    if (!space || tags.length === 0) return 0;
    return this.bounded('purge', this.controlTimeoutMs, async (attempt) => {
      const generation = await this.generationOf(space, attempt);
      const [bytes, entries, purged, ...members] = await attempt.on(metaKey(space.hash), () => this.client.cgPurge(...accountingKeys(space.hash, generation), this.now(), ...tags.map(tagHash)));
      this.recordStats(space, generation, Number(bytes), Number(entries), space.evictions);
      // One UNLINK per key: in Cluster the entries live on other slots.
      await Promise.all(members.map((member) => this.client.unlink(entryKey(space.hash, generation, member))));
      await this.dropLocalCopies(space.hash);
      return Number(purged);
    });
  }

  /** Creates the stage in Redis, or joins it as it is when another node created it with the same budget. */
  configureStage(stage: string, capacityBytes: number): void | Promise<void> {
    if (this.spaces.get(stage)?.capacityBytes === capacityBytes) return;
    const space: Space = {
      hash: stageHash(stage), capacityBytes, generation: undefined, generationUpdates: 0, generationCheckedAt: 0,
      pendingGeneration: undefined, bytes: 0, entries: 0, evictions: 0, statsReadAt: 0,
    };
    this.spaces.set(stage, space);
    return this.configureInRedis(space).then(() => undefined, () => undefined);
  }

  dropStage(stage: string): void | Promise<void> {
    const space = this.spaces.get(stage);
    this.spaces.delete(stage);
    const hash = space?.hash ?? stageHash(stage);
    return this.bounded('dropStage', this.controlTimeoutMs, async (attempt) => {
      const meta = metaKey(hash);
      const generation = Number(await attempt.on(meta, () => this.client.cgDrop(meta, this.seenGenerations.get(hash) ?? 0)));
      await this.announce({ o: this.nodeId, t: 'gen', s: hash, g: generation });
    }).catch(() => undefined);
  }

  /** This node's view: exact for its own writes, refreshed from Redis in the background every few seconds. */
  stats(stage: string): StageStats | undefined {
    const space = this.spaces.get(stage);
    if (!space) return undefined;
    if (Date.now() - space.statsReadAt > STATS_REFRESH_MS && space.generation !== undefined) this.refreshStats(space, space.generation);
    return { entries: space.entries, bytes: space.bytes, capacityBytes: space.capacityBytes, evictions: space.evictions };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.spaces.clear();
    for (const circuit of this.circuits.values()) circuit.stop();
    await Promise.all([this.client, this.subscriber].map(async (connection) => {
      const quit = connection.quit().catch(() => undefined);
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      connection.disconnect();
    }));
  }

  // SharedState: the API definitions, shared by every node on this Redis.

  async loadApis(): Promise<unknown | undefined> {
    await this.ready();
    const text = await this.bounded('loadApis', this.controlTimeoutMs, (attempt) => attempt.on(APIS_KEY, () => this.client.get(APIS_KEY)));
    if (text === null) return undefined;
    const saved = JSON.parse(text) as { version?: unknown; apis?: unknown };
    if (saved.version !== STATE_VERSION) throw new Error(`shared API definitions have version ${String(saved.version)}, expected ${STATE_VERSION}`);
    return saved.apis;
  }

  saveApis(apis: unknown): Promise<void> {
    return this.bounded('saveApis', this.controlTimeoutMs, async (attempt) => {
      await attempt.on(APIS_KEY, () => this.client.set(APIS_KEY, JSON.stringify({ version: STATE_VERSION, savedAt: new Date().toISOString(), apis })));
      await this.announce({ o: this.nodeId, t: 'apis', apis });
    });
  }

  onApisChanged(listener: (apis: unknown) => void): void {
    this.apiListeners.push(listener);
  }

  /** The generation this node reads and writes for a stage (tests and diagnostics). */
  knownGeneration(stage: string): number | undefined {
    return this.spaces.get(stage)?.generation;
  }

  // ——— internals ———

  /** The circuit of every node this store has used (tests and diagnostics): node → state. */
  circuitStates(): Record<string, string> {
    return Object.fromEntries([...this.circuits].map(([node, circuit]) => [node, circuit.state]));
  }

  /**
   * Runs one store call within its time budget. Its commands go through `attempt.on(key, …)`,
   * which fails at once when the key's node has an open circuit, and opens it when a command on
   * that node fails; commands still unanswered when the budget runs out open their nodes' circuits.
   */
  private bounded<T>(operation: string, timeoutMs: number, work: (attempt: Attempt) => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') {
      const error = new StoreUnavailableError(this.client.status);
      if (this.type === 'redis') this.circuit(STANDALONE_NODE).failed(operation, error);
      return Promise.reject(error);
    }
    const attempt = new Attempt(operation, (key) => this.circuitOf(key));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      // Timers run before I/O in Node's loop: after a busy stretch the reply may already be read
      // and waiting. Decide after that I/O (setImmediate), so a late loop is not a slow node.
      const timer = setTimeout(() => setImmediate(() => {
        if (settled) return;
        settled = true;
        const error = new StoreTimeoutError(operation, timeoutMs);
        attempt.timedOut(error);
        reject(error);
      }), timeoutMs);
      work(attempt).then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** The circuit of the node that serves `key`: its slot's master in a Cluster. */
  private circuitOf(key: string): Circuit {
    if (this.type === 'redis') return this.circuit(STANDALONE_NODE);
    const owner = (this.client as Cluster).slots[keySlot(key)]?.[0];
    return this.circuit(owner ?? UNKNOWN_NODE);
  }

  private circuit(node: string): Circuit {
    let circuit = this.circuits.get(node);
    if (!circuit) {
      // Back from an outage, Redis may have restarted empty or from an old snapshot: resync.
      circuit = new Circuit({ node, store: this.type, logger: this.logger, probe: () => this.ping(node), onRecovered: () => this.resync() });
      this.circuits.set(node, circuit);
    }
    return circuit;
  }

  /** A circuit's probe: PING the node, within the store timeout. */
  private ping(node: string): Promise<unknown> {
    let target: Redis | Cluster | undefined = this.client;
    if (this.type === 'redis-cluster') {
      target = node === UNKNOWN_NODE ? this.client : (this.client as Cluster).nodes('master').find((redis) => `${redis.options.host}:${redis.options.port}` === node);
    }
    if (!target || target.status !== 'ready') return Promise.reject(new StoreUnavailableError(target?.status ?? 'not connected'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreTimeoutError('ping', this.timeoutMs)), this.timeoutMs);
      target.ping().then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  private generationOf(space: Space, attempt?: Attempt): number | Promise<number> {
    if (space.generation !== undefined) {
      if (Date.now() - space.generationCheckedAt > GENERATION_RECHECK_MS && !space.pendingGeneration && this.circuitOf(metaKey(space.hash)).allows) {
        this.readGeneration(space).catch(() => undefined);
      }
      return space.generation;
    }
    return space.pendingGeneration ?? this.readGeneration(space, attempt);
  }

  private readGeneration(space: Space, attempt?: Attempt): Promise<number> {
    const updates = space.generationUpdates;
    const meta = metaKey(space.hash);
    const read = (attempt ? attempt.on(meta, () => this.client.hget(meta, 'gen')) : this.client.hget(meta, 'gen')).then((value) => {
      // The stage is gone from Redis (restarted empty, or evicted): create it again.
      if (value === null) return this.configureInRedis(space);
      const generation = Number(value);
      // Older than one this node has seen: Redis came back from a snapshot taken before a flush.
      // Its entries must not come back: move the stage on past every generation seen.
      if (generation < this.generationFloor(space)) return this.configureInRedis(space);
      if (space.generationUpdates === updates) this.setGeneration(space, generation);
      return space.generation ?? generation;
    });
    return this.track(space, read);
  }

  private configureInRedis(space: Space): Promise<number> {
    // At start-up the connection may still be opening: wait for it rather than fail.
    const configure = this.ready().then(() => this.bounded('configureStage', this.controlTimeoutMs, async (attempt) => {
      const meta = metaKey(space.hash);
      const generation = Number(await attempt.on(meta, () => this.client.cgConfigure(meta, space.capacityBytes, this.generationFloor(space))));
      if (space.generation !== generation) {
        this.setGeneration(space, generation);
        await this.announce({ o: this.nodeId, t: 'gen', s: space.hash, g: generation });
      }
      space.generationCheckedAt = Date.now();
      return generation;
    }));
    return this.track(space, configure);
  }

  /** Remembers an in-flight generation read so concurrent calls share it. */
  private track(space: Space, pending: Promise<number>): Promise<number> {
    space.pendingGeneration = pending;
    const clear = (): void => {
      if (space.pendingGeneration === pending) space.pendingGeneration = undefined;
    };
    pending.then(clear, clear);
    return pending;
  }

  /** The highest generation this node has used for the stage (0: none): Redis is never trusted below it. */
  private generationFloor(space: Space): number {
    return this.seenGenerations.get(space.hash) ?? 0;
  }

  /** Takes a generation, unless it is older than one seen already (false: refused). */
  private setGeneration(space: Space, generation: number): boolean {
    if (generation < this.generationFloor(space)) return false;
    this.seenGenerations.set(space.hash, generation);
    if (space.generation !== generation) {
      space.bytes = 0;
      space.entries = 0;
      space.statsReadAt = 0;
    }
    space.generation = generation;
    space.generationUpdates++;
    space.generationCheckedAt = Date.now();
    return true;
  }

  private async forget(attempt: Attempt, space: Space, generation: number, member: string, redisKey: string): Promise<void> {
    const meta = metaKey(space.hash);
    attempt.check(redisKey, meta);
    const [, [bytes, entries]] = await Promise.all([
      attempt.on(redisKey, () => this.client.unlink(redisKey)),
      attempt.on(meta, () => this.client.cgUnaccount(...accountingKeys(space.hash, generation), member)),
    ]);
    this.recordStats(space, generation, Number(bytes), Number(entries), space.evictions);
  }

  private recordStats(space: Space, generation: number, bytes: number, entries: number, evictions: number): void {
    if (space.generation !== generation) return;
    space.bytes = bytes;
    space.entries = entries;
    space.evictions = evictions;
    space.statsReadAt = Date.now();
  }

  private refreshStats(space: Space, generation: number): void {
    space.statsReadAt = Date.now();
    if (this.client.status !== 'ready' || !this.circuitOf(metaKey(space.hash)).allows) return;
    this.client.cgStats(...accountingKeys(space.hash, generation), metaKey(space.hash), this.now())
      .then(([bytes, entries, evictions]) => this.recordStats(space, generation, Number(bytes), Number(entries), Number(evictions)), () => undefined);
  }

  /** After a reconnect: re-create every stage (Redis may have come back empty) and take its generation. */
  private resync(): void {
    if (this.closed || this.client.status !== 'ready') return;
    for (const space of this.spaces.values()) this.configureInRedis(space).catch(() => undefined);
  }

  /** Removed entries must not live on in any node's local copies. */
  private async dropLocalCopies(stageHash: string): Promise<void> {
    if (!this.local) return;
    this.local.forgetStage(stageHash);
    await this.announce({ o: this.nodeId, t: 'inv', s: stageHash });
  }

  private async announce(event: StoreEvent): Promise<void> {
    try {
      await this.client.publish(EVENTS_CHANNEL, JSON.stringify(event));
    } catch {
      // The change is made; other nodes catch up when they re-read generations.
    }
  }

  private receive(text: string): void {
    let event: StoreEvent;
    try {
      event = JSON.parse(text) as StoreEvent;
    } catch {
      return;
    }
    if (event.o === this.nodeId) return;
    if (event.t === 'gen') {
      for (const space of this.spaces.values()) if (space.hash === event.s) this.setGeneration(space, Number(event.g));
    } else if (event.t === 'inv') {
      this.local?.forgetStage(event.s);
    } else if (event.t === 'apis') {
      for (const listener of this.apiListeners) {
        try {
          listener(event.apis);
        } catch (error) {
          this.logger.error({ err: errorMessage(error) }, 'applying shared API definitions failed');
        }
      }
    }
  }
}

/** The entry's purge tags as the scripts index them (hashed, once each). */
function tagHashes(entry: CacheEntry): string[] {
  return entry.tags === undefined ? [] : [...new Set(entry.tags.map(tagHash))];
}

/** The circuit name of a standalone Redis (one connection, one circuit). */
const STANDALONE_NODE = 'standalone';
/** Keys whose slot has no known master yet (slots not loaded): one shared circuit. */
const UNKNOWN_NODE = 'unknown';

/**
 * One bounded store call: which nodes its commands wait on, so a timeout opens the circuits of
 * the nodes still silent and no other. Failures after the budget ran out are not counted again.
 */
class Attempt {
  private readonly waiting: Circuit[] = [];
  private over = false;

  constructor(private readonly operation: string, private readonly circuitOf: (key: string) => Circuit) {}

  /** Fails at once (CircuitOpenError) when any of the keys' nodes has an open circuit. */
  check(...keys: string[]): void {
    for (const key of keys) {
      const circuit = this.circuitOf(key);
      if (!circuit.allows) throw new CircuitOpenError(circuit.node);
    }
  }

  /** Runs a command on the node of `key`, unless its circuit is open. */
  on<T>(key: string, command: () => Promise<T>): Promise<T> {
    const circuit = this.circuitOf(key);
    if (!circuit.allows) return Promise.reject(new CircuitOpenError(circuit.node));
    this.waiting.push(circuit);
    const done = (): void => {
      const at = this.waiting.indexOf(circuit);
      if (at >= 0) this.waiting.splice(at, 1);
    };
    const pending = command();
    pending.then(() => {
      done();
      circuit.answered();
    }, (error: unknown) => {
      done();
      // An error reply is an answer: the node is there (circuit.ts refused).
      if (error instanceof ReplyError) circuit.refused(this.operation, error);
      else if (!this.over) circuit.failed(this.operation, error);
    });
    return pending;
  }

  timedOut(error: Error): void {
    this.over = true;
    for (const circuit of new Set(this.waiting)) circuit.failed(this.operation, error, true);
  }
}
