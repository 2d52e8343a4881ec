/**
 * `cachegate start --workers N`: N gateway threads in one process (worker_threads), each with its
 * own event loop and node:http servers on the *same* listening sockets. The main thread listens
 * first and serves too; the others are started with its descriptors and `listen({ fd })` on
 * them, so the kernel hands each connection to whichever thread accepts first (verified on Node
 * 20/Linux; see /work/shared/BENCH-NOTES.md).
 *
 * Why threads and not processes (node:cluster, the previous design): threads share memory, so
 * the memory store becomes one SharedArrayBuffer store for all of them (stores/shared/) — one
 * copy of each entry, one backend fill per key, and a flush or purge on any thread is a flush for
 * all (the store's generation), with nothing to relay; throttling buckets likewise live in one
 * shared table (gateway/throttle-shared.ts). With processes each kept its own cache. We
 * kept no process mode: nothing here needs separate address spaces, and a thread that dies is
 * replaced like a process was.
 *
 * What still travels between threads, by BroadcastChannel: control-plane API changes (each
 * thread compiles its own snapshot) and `/metrics` scrapes (each thread counts its own requests;
 * the scraped thread gathers the others' and aggregates).
 */
import { BroadcastChannel, isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { FillLeases } from '../cache/stores/shared/leases.js';
import { countLocksIn } from '../cache/stores/shared/lock.js';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { SharedStoreBuffers } from '../cache/stores/shared/layout.js';
import type { GatewayOptions, Siblings, SiblingChange } from '../gateway/gateway.js';
import type { LoadedConfig } from '../config/load.js';
import { createSharedMemory, memoryArenaBytes } from '../cache/stores/index.js';
import { createThrottleTable } from '../gateway/throttle-shared.js';
import { MemoryNonceStore } from '../auth/nonces/memory.js';
import { answerNonceClaim, RelayedNonceStore } from '../auth/nonces/relayed.js';

/** What a gateway thread starts with (structured-cloned; the SharedArrayBuffers are shared, not copied). */
export interface ThreadStart {
  readonly cachegateThread: true;
  readonly listenFds: { readonly data: number; readonly admin: number };
  /** How many gateway threads serve together, this one included. */
  readonly threads: number;
  readonly sharedStore?: SharedStoreBuffers;
  /** The throttling buckets every thread uses with the memory store (gateway/throttle-shared.ts). */
  readonly throttleTable?: SharedArrayBuffer;
  readonly demoBackend?: string;
  /**
   * Names this group's channels (threadSiblings, threadMetricsText) when one process runs several
   * groups — tests do; BroadcastChannels of one name reach every thread of the process. The CLI runs one group: none.
   */
  readonly group?: string;
  /** One Int32 cell per thread slot: how many shared-memory locks the thread holds (lock.ts countLocksIn). */
  readonly lockCounters?: SharedArrayBuffer;
  readonly lockSlot?: number;
}

type ToMain = { type: 'ready' } | { type: 'failed'; message: string };
type ToThread = { type: 'stop' } | { type: 'reload' };
type MetricsMessage =
  | { type: 'request'; id: number; from: number }
  | { type: 'response'; id: number; to: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };

const CHANGES_CHANNEL = 'cachegate:changes';
const METRICS_CHANNEL = 'cachegate:metrics';
/** How long a scrape waits for the other threads; a thread that does not answer is left out. */
const METRICS_WAIT_MS = 2_000;
const channelName = (name: string, group: string) => (group ? `${name}:${group}` : name);

/** Whether this thread is a gateway thread started by startThreads(). */
export const isGatewayThread = (): boolean => !isMainThread && (workerData as Partial<ThreadStart> | null)?.cachegateThread === true;

export const threadStart = (): ThreadStart => workerData as ThreadStart;

// A gateway thread counts the shared-memory locks it holds where the main thread sees them on its exit.
if (isGatewayThread()) {
  const { lockCounters, lockSlot } = threadStart();
  if (lockCounters && lockSlot !== undefined) countLocksIn(new Int32Array(lockCounters), lockSlot);
}

/** Exit code of a process whose gateway thread died inside a shared-memory lock (EX_SOFTWARE). */
export const DIED_IN_LOCK_EXIT_CODE = 70;

/** What one gateway thread of several shares with the others (threadSharing). */
export interface ThreadSharing {
  /** Gateway.start options of this thread. */
  readonly options: Pick<GatewayOptions, 'sharedMemory' | 'siblings' | 'nonces' | 'threadBuckets' | 'listenFds'>;
  /** What the first thread hands the others through startThreads (made there). */
  readonly start: Pick<ThreadStart, 'sharedStore' | 'throttleTable'>;
  close(): void;
}

/**
 * What a gateway thread of `threads` shares with the others: with the memory store the off-heap
 * store and the throttling table (made on the first thread, taken from ThreadStart on the
 * others), API changes (threadSiblings, on `group`'s channel) and Alibaba nonces (the main
 * thread's one record); Redis shares all of it itself. The others also serve on the first
 * thread's listening descriptors.
 */
export function threadSharing(loaded: LoadedConfig, threads: number, group = ''): ThreadSharing {
  const start = isGatewayThread() ? threadStart() : undefined;
  const listenFds = start?.listenFds;
  if (loaded.config.store.type !== 'memory') return { options: { listenFds }, start: {}, close: () => undefined };
  const sharedStore = start ? start.sharedStore : createSharedMemory(memoryArenaBytes(loaded.config));
  const throttleTable = start ? start.throttleTable : createThrottleTable();
  const siblings = threadSiblings(start?.group ?? group);
  return {
    options: {
      listenFds, sharedMemory: sharedStore, siblings,
      nonces: start ? threadNonces() : mainThreadNonces,
      threadBuckets: throttleTable && { table: throttleTable, threads: start?.threads ?? threads },
    },
    start: { sharedStore, throttleTable },
    close: () => siblings.close(),
  };
}

/**
 * Control-plane API changes made on this thread go to the others; theirs come here. Flushes and
 * purges are not sent: the shared store already applied them for every thread.
 */
export function threadSiblings(group = ''): Siblings & { close(): void } {
  const channel = new BroadcastChannel(channelName(CHANGES_CHANNEL, group));
  channel.unref();
  return {
    publish: (change) => {
      if (change.kind === 'apis') channel.postMessage(change);
    },
    onChange: (listener) => {
      channel.onmessage = (event) => listener((event as { data: SiblingChange }).data);
    },
    close: () => channel.close(),
  };
}

/**
 * `/metrics` over every thread: this thread asks the others for their metrics and aggregates
 * them (prom-client's AggregatorRegistry.aggregate: counters and histograms add up). Metrics that
 * read shared state — the stage caches' bytes, entries and evictions (one shared store) and the
 * process metrics (one process) — are the same on every thread: one thread's value is kept.
 */
export function threadMetricsText(registry: Registry, threads: number, self: number, group = ''): { text: () => Promise<string>; close(): void } {
  const channel = new BroadcastChannel(channelName(METRICS_CHANNEL, group));
  channel.unref();
  const pending = new Map<number, { metrics: MetricObjectWithValues<MetricValue<string>>[][]; done: () => void }>();
  let next = 0;
  channel.onmessage = (event) => {
    const message = (event as { data: MetricsMessage }).data;
    if (message.type === 'request') {
      registry.getMetricsAsJSON().then((metrics) => channel.postMessage({ type: 'response', id: message.id, to: message.from, metrics } satisfies MetricsMessage));
    } else if (message.to === self) {
      const waiter = pending.get(message.id);
      if (waiter === undefined) return;
      waiter.metrics.push(message.metrics);
      if (waiter.metrics.length === threads) waiter.done();
    }
  };
  const text = async () => {
    const id = ++next;
    const gathered: MetricObjectWithValues<MetricValue<string>>[][] = [await registry.getMetricsAsJSON()];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, METRICS_WAIT_MS);
      function done() {
        clearTimeout(timer);
        pending.delete(id);
        resolve();
      }
      pending.set(id, { metrics: gathered, done });
      if (gathered.length >= threads) done();
      else channel.postMessage({ type: 'request', id, from: self } satisfies MetricsMessage);
    });
    for (const metrics of gathered) for (const metric of metrics) if (sameOnEveryThread(metric.name)) (metric as { aggregator: string }).aggregator = 'first';
    return AggregatorRegistry.aggregate(gathered).metrics();
  };
  return { text, close: () => channel.close() };
}

const SHARED_STORE_METRICS: ReadonlySet<string> = new Set(['cachegate_cache_bytes', 'cachegate_cache_entries', 'cachegate_cache_evictions_total']);
const sameOnEveryThread = (name: string) => SHARED_STORE_METRICS.has(name) || name.startsWith('cachegate_process_');

/** In a gateway thread: tells the main thread it serves, or why it could not start. */
export const reportReady = () => parentPort?.postMessage({ type: 'ready' } satisfies ToMain);
export const reportFailed = (message: string) => parentPort?.postMessage({ type: 'failed', message } satisfies ToMain);

/** How long a gateway thread waits for the main thread's nonce verdict before checking its own memory instead. */
const NONCE_RELAY_TIMEOUT_MS = 250;

/**
 * Alibaba nonces with the memory store and several threads: one record, kept by the main thread
 * (`mainThreadNonces`), checked by every thread, so a replay sent to another thread is refused too.
 */
export const mainThreadNonces = new MemoryNonceStore();

/** In a gateway thread: nonce claims relayed to the main thread's record. */
export function threadNonces(): RelayedNonceStore {
  return new RelayedNonceStore((message) => parentPort?.postMessage(message), (listener) => {
    parentPort?.on('message', listener);
    // A port with a listener keeps the thread alive; the verdicts must not stop it ending once drained.
    parentPort?.unref();
  }, NONCE_RELAY_TIMEOUT_MS);
}

/**
 * In a gateway thread: calls `reload` when the main thread relays a SIGHUP (signals reach only
 * the main thread), and resolves when the main thread asks it to drain and stop.
 */
export function stopRequested(reload: () => void): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: ToThread) => {
      if (message?.type === 'reload') return reload();
      if (message?.type !== 'stop') return;
      // A port with a listener keeps the thread alive: let it end once drained.
      parentPort?.off('message', listener);
      resolve();
    };
    parentPort?.on('message', listener);
  });
}

export interface ThreadGroup {
  /** Resolves once every thread serves; rejects with the first thread's start failure. */
  readonly ready: Promise<void>;
  /** Asks every thread to drain, and resolves when all have exited. */
  stop(): Promise<void>;
  /** Relays a SIGHUP: every thread re-reads the config file (SPEC §8). */
  reload(): void;
}

/**
 * Starts `count` more gateway threads running this same program (`script` with `argv`), which
 * serve on `start.listenFds`. A thread that dies after starting is replaced; one that fails to
 * start fails the group (port, config: the others would fail the same way).
 */
export function startThreads(count: number, script: string, argv: readonly string[], start: Omit<ThreadStart, 'cachegateThread' | 'lockCounters' | 'lockSlot'>): ThreadGroup {
  const threads = new Set<Worker>();
  const lockCounters = new SharedArrayBuffer(4 * count);
  const heldLocks = new Int32Array(lockCounters);
  const freeSlots = Array.from({ length: count }, (_, slot) => slot);
  let stopping = false;
  let started = 0;
  let settle: { resolve: () => void; reject: (error: Error) => void };
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const spawn = (): void => {
    const lockSlot = freeSlots.pop()!;
    const thread = new Worker(script, { argv: [...argv], workerData: { ...start, cachegateThread: true, lockCounters, lockSlot } satisfies ThreadStart });
    threads.add(thread);
    let serving = false;
    thread.on('message', (message: ToMain) => {
      const verdict = answerNonceClaim(mainThreadNonces, message);
      if (verdict) return void thread.postMessage(verdict);
      if (message?.type === 'ready' && !serving) {
        serving = true;
        if (++started === count) settle.resolve();
      } else if (message?.type === 'failed') settle.reject(new Error(message.message));
    });
    thread.on('error', (error) => {
      if (!serving) settle.reject(error);
    });
    const id = thread.threadId;
    thread.on('exit', (code) => {
      threads.delete(thread);
      if (heldLocks[lockSlot] !== 0) {
        // It died inside a critical section (terminated, e.g. out of memory): the store, lease or
        // throttle table it was changing may be half-written, and its lock is held forever — every
        // thread would hang on it. Exit instead, so a supervisor restarts a clean process.
        process.stderr.write(`cachegate: gateway thread ${id} exited (${code}) holding a shared-memory lock; exiting (the shared cache cannot be trusted)\n`);
        process.exit(DIED_IN_LOCK_EXIT_CODE);
      }
      freeSlots.push(lockSlot);
      // Its fills will never end: the other threads' callers waiting for them go on now, not at the leases' expiry.
      if (start.sharedStore) new FillLeases(start.sharedStore.leases, threadId).releaseOwnedBy(id);
      if (stopping || !serving) return;
      process.stderr.write(`cachegate: gateway thread ${id} exited (${code}); starting another\n`);
      spawn();
    });
  };
  for (let i = 0; i < count; i++) spawn();
  return {
    ready,
    reload: () => {
      for (const thread of threads) thread.postMessage({ type: 'reload' } satisfies ToThread);
    },
    stop: async () => {
      stopping = true;
      await Promise.all([...threads].map((thread) => new Promise<void>((resolve) => {
        thread.once('exit', () => resolve());
        thread.postMessage({ type: 'stop' } satisfies ToThread);
      })));
    },
  };
}
