/**
 * ioredis clients for `store.type: redis` (url: TLS with rediss://, auth and db in the URL) and
 * `redis-cluster` (nodes). Both fail fast while disconnected instead of queueing: the offline
 * queue is off and nothing is retried across reconnects, so a request never waits for Redis
 * longer than its time budget. They reconnect by themselves, quickly and forever.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
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
    enableAutoPipelining: true,
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
  return { client: client as RedisClient, subscriber };
}
