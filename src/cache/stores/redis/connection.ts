/**
 * ioredis clients for `store.type: redis` (url: TLS with rediss://, auth and db in the URL) and
 * `redis-cluster` (nodes). Both fail fast while disconnected instead of queueing: the offline
 * queue is off and nothing is retried across reconnects, so a request never waits for Redis
 * longer than its time budget. They reconnect by themselves, quickly and forever.
 *
 * Batching: a standalone client writes each command straight to its socket, held for the rest of
 * the event-loop turn (batchWrites), so the GETs of every request a turn handles leave in one
 * write and Redis reads them in one. ioredis's auto-pipelining batches too, but builds a Pipeline
 * per batch and a promise and a nextTick callback per command, and waits for a batch's replies
 * before sending the next: a third of a Redis hit's CPU (bench/redis-hit.ts). A Cluster keeps
 * auto-pipelining, which groups the commands by node.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Duplex } from 'node:stream';
import type { StoreConfig } from '../../../config/schema.js';
import { SCRIPTS, type ScriptCommands } from './scripts.js';

export type RedisClient = (Redis | Cluster) & ScriptCommands;

/** Reconnect delays: soon after a blip, then every half second while Redis is away. */
const reconnectDelay = (attempt: number): number => Math.min(50 * attempt, 500);

export interface RedisClients {
  /** Commands of the data and control paths. */
  readonly client: RedisClient;
  /** A connection of its own for SUBSCRIBE (a subscribed connection runs no other commands). */
  readonly subscriber: Redis | Cluster;
}

export function connectRedis(config: StoreConfig): RedisClients {
  // Any command still unanswered after this is failed by ioredis itself, so replies a hung server
  // never sends cannot pile up; each store call has its own, shorter budget (timeoutMs) on top.
  const commandTimeout = Math.max(config.timeoutMs * 20, 1000);
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout,
    // batchWrites batches instead (see above).
    enableAutoPipelining: false,
    connectionName: 'cachegate',
  };
  let client: Redis | Cluster;
  let subscriber: Redis | Cluster;
  if (config.type === 'redis-cluster') {
    const nodes = (config.nodes ?? []).map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    });
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      // Reads go to masters: a replica may lag behind a flush's new generation.
      scaleReads: 'master',
      clusterRetryStrategy: reconnectDelay,
      enableAutoPipelining: true,
      slotsRefreshTimeout: 2000,
      redisOptions: { maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout, connectionName: 'cachegate' },
    };
    client = new Cluster(nodes, options);
    subscriber = new Cluster(nodes, { ...options, enableOfflineQueue: true, enableAutoPipelining: false, redisOptions: { connectTimeout: 2000, connectionName: 'cachegate-events' } });
  } else {
    client = new Redis(config.url!, { ...common, retryStrategy: reconnectDelay });
    subscriber = new Redis(config.url!, { connectTimeout: 2000, connectionName: 'cachegate-events', retryStrategy: reconnectDelay, maxRetriesPerRequest: null });
  }
  for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition);
  if (client instanceof Redis) batchWrites(client);
  return { client: client as RedisClient, subscriber };
}

/**
 * Holds a standalone connection's writes from the first command of an event-loop turn to the
 * turn's check phase (setImmediate), then sends them in one write: the commands of every request
 * whose bytes the turn read. A command waits at most for the rest of the turn it was made in.
 * Every command on the client goes through `sendCommand`, so cache lookups, throttle leases,
 * nonce claims and ioredis's own commands are batched alike.
 */
export function batchWrites(client: Redis): void {
  let held: Duplex | undefined;
  const release = (): void => {
    const stream = held;
    held = undefined;
    // The same socket: after a reconnect meanwhile, the old one (uncorking a closed socket is harmless).
    stream?.uncork();
  };
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    if (held === undefined && client.stream) {
      held = client.stream as Duplex;
      held.cork();
      setImmediate(release);
    }
    return send(command, stream);
  };
}
