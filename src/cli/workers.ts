/**
 * `cachegate start --workers N`: one primary process forks N gateway workers that share the
 * listening sockets (node:cluster). With the memory store each worker holds its own cache, so the
 * primary relays every flush and control-plane change to the other workers, and aggregates
 * `/metrics` across them (prom-client's AggregatorRegistry). With Redis the store is shared and
 * its pub/sub already reaches every process.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Siblings, SiblingChange } from '../gateway/gateway.js';
import { MemoryNonceStore } from '../auth/nonces/memory.js';
import { answerNonceClaim, RelayedNonceStore } from '../auth/nonces/relayed.js';

const CHANGE = 'cachegate:change';
const METRICS_REQUEST = 'cachegate:metrics-request';
const METRICS_RESPONSE = 'cachegate:metrics-response';
const READY = 'cachegate:ready';
const FAILED = 'cachegate:failed';

type Message =
  | { type: typeof CHANGE; change: SiblingChange }
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_RESPONSE; id: number; text?: string; error?: string }
  | { type: typeof READY; dataUrl: string; adminUrl: string }
  | { type: typeof FAILED; message: string };

export const isGatewayWorker = (): boolean => cluster.isWorker && process.env.CACHEGATE_WORKER === '1';

/** In a worker: how many workers serve together (the memory store divides throttling limits by it). */
export const workerCountOfPrimary = (): number | undefined => (isGatewayWorker() ? Number(process.env.CACHEGATE_WORKERS) || undefined : undefined);

const send = (message: Message) => process.send?.(message);

/** In a worker: changes made here go to the other workers, theirs come back here. */
export function workerSiblings(): Siblings {
  return {
    publish: (change) => send({ type: CHANGE, change }),
    onChange: (listener) => process.on('message', (message: Message) => {
      if (message?.type === CHANGE) listener(message.change);
    }),
  };
}

/** In a worker: `/metrics` text aggregated over every worker by the primary. */
export function workerMetricsText(registry: Registry): () => Promise<string> {
  // prom-client installs a worker's answering listener only when an AggregatorRegistry is made.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let next = 0;
  process.on('message', (message: Message) => {
    if (message?.type !== METRICS_RESPONSE) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.text !== undefined) waiter?.resolve(message.text);
    else waiter?.reject(new Error(message.error ?? 'metrics aggregation failed'));
  });
  return () => new Promise((resolve, reject) => {
    const id = ++next;
    pending.set(id, { resolve, reject });
    send({ type: METRICS_REQUEST, id });
  });
}

/** How long a worker waits for the primary's nonce verdict before checking its own memory instead. */
const NONCE_RELAY_TIMEOUT_MS = 250;

/** In a worker: Alibaba nonces checked by the primary, so a replay to another worker is refused too. */
export function workerNonces(): RelayedNonceStore {
  return new RelayedNonceStore((message) => process.send?.(message), (listener) => process.on('message', listener), NONCE_RELAY_TIMEOUT_MS);
}

export const reportReady = (dataUrl: string, adminUrl: string) => send({ type: READY, dataUrl, adminUrl });
export const reportFailed = (message: string) => send({ type: FAILED, message });

/**
 * The primary: forks the workers, relays their changes, answers metrics requests, prints `banner`
 * once every worker listens, replaces a worker that dies, and on SIGTERM/SIGINT stops them all
 * (each drains) and resolves 0. A worker that fails to start (port in use, …) fails the whole: 1.
 */
export function runPrimary(workers: number, env: Record<string, string>, banner: (dataUrl: string, adminUrl: string) => string): Promise<number> {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let ready = 0;
  const fork = () => cluster.fork({ ...env, CACHEGATE_WORKER: '1', CACHEGATE_WORKERS: String(workers) });
  return new Promise((resolve) => {
    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      const alive = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
      if (alive.length === 0) return resolve(code);
      let left = alive.length;
      for (const worker of alive) {
        worker.once('exit', () => --left === 0 && resolve(code));
        worker.process.kill('SIGTERM');
      }
    };
    const nonces = new MemoryNonceStore();
    cluster.on('message', (worker, message: Message) => {
      const verdict = answerNonceClaim(nonces, message);
      if (verdict) return void worker.send(verdict);
      switch (message?.type) {
        case CHANGE:
          for (const other of Object.values(cluster.workers ?? {})) if (other && other !== worker) other.send(message);
          break;
        case METRICS_REQUEST:
          aggregator.clusterMetrics().then(
            (text) => worker.send({ type: METRICS_RESPONSE, id: message.id, text }),
            (error: Error) => worker.send({ type: METRICS_RESPONSE, id: message.id, error: error.message }),
          );
          break;
        case READY:
          // Announce once every worker listens (and answers metrics requests), not at the first.
          if (++ready === workers) process.stdout.write(banner(message.dataUrl, message.adminUrl));
          break;
        case FAILED:
          process.stderr.write(`cachegate: ${message.message}\n`);
          stopAll(1);
          break;
      }
    });
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      process.stderr.write(`cachegate: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
      fork();
    });
    process.once('SIGTERM', () => stopAll(0));
    process.once('SIGINT', () => stopAll(0));
    // SPEC §8: each worker re-reads the config file itself.
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
    for (let i = 0; i < workers; i++) fork();
  });
}
