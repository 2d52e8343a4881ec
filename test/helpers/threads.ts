/**
 * A gateway of several threads inside the test process, started the way `cachegate start
 * --workers N` starts one (cli/start.ts serve): this thread is the first gateway thread, made with
 * a new off-heap store; the others (gateway-thread.ts, started by cli/workers.ts startThreads)
 * validate the same config object and serve on this thread's listening descriptors with the same
 * SharedStoreBuffers. The kernel gives each new connection to whichever thread accepts first, so a
 * test spreads its requests by opening fresh connections.
 *
 * The Gateway returned is the first thread's: its URLs, its store (the shared one, so
 * `store.stats()` counts every thread's entries) and `metricsText()` (every thread's, as
 * /metrics is); `metrics.registry` counts this thread's requests only. Its `close()` stops the
 * other threads first.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { startThreads, threadMetricsText, threadSharing } from '../../src/cli/workers.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';

/** The invariant suites run once per count: one gateway thread, and two sharing one store (issue 17). */
export const THREAD_COUNTS = [1, 2] as const;

export const threadsLabel = (threads: number): string => (threads === 1 ? '1 gateway thread' : `${threads} gateway threads`);

/** What a threaded test gateway takes besides its config: only what can be the same on every thread (no clock, no siblings). */
export type ThreadedOptions = Pick<GatewayOptions, 'listen' | 'admin' | 'logger'>;

const THREAD_SCRIPT = fileURLToPath(new URL('./gateway-thread.js', import.meta.url));
/** Each group's channels get their own names: several groups may serve at once in one test process. */
let groups = 0;

/**
 * Starts `threads` gateway threads on `loaded` (validated from `raw`, which the other threads
 * validate again, relative to `baseDir`). With the memory store the threads share it, pass API
 * changes to each other and relay Alibaba nonces to this thread, as under the CLI (whose one
 * record, mainThreadNonces, every group in this test process shares).
 */
export async function startThreadedGateway(raw: unknown, loaded: LoadedConfig, threads: number, baseDir: string, options: ThreadedOptions): Promise<Gateway> {
  const group = `test-${++groups}`;
  const sharing = threadSharing(loaded, threads, group);
  const gateway = await Gateway.start(loaded, { ...options, ...sharing.options });
  const metrics = threadMetricsText(gateway.metrics.registry, threads, threadId, group);
  gateway.setMetricsText(metrics.text);
  const others = startThreads(threads - 1, THREAD_SCRIPT, [JSON.stringify(raw), baseDir], { listenFds: gateway.listenFds, threads, ...sharing.start, group });
  const closeFirst = gateway.close.bind(gateway);
  const close = async () => {
    await others.stop();
    await closeFirst();
    metrics.close();
    sharing.close();
  };
  try {
    await others.ready;
  } catch (error) {
    await close();
    throw error;
  }
  return Object.assign(gateway, { close });
}

/** Data-plane requests answered (`cachegate_requests_total`) by the first thread, and by all threads together. */
export async function requestsAnswered(gateway: Gateway): Promise<{ firstThread: number; allThreads: number }> {
  const total = (text: string) => text.split('\n')
    .filter((line) => line.startsWith('cachegate_requests_total{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { firstThread: total(await gateway.metrics.registry.metrics()), allThreads: total(await gateway.metricsText()) };
}

/** Fails unless the first thread and the other threads each answered some of the requests so far. */
export async function assertAnsweredByBothThreads(gateway: Gateway): Promise<void> {
  const { firstThread, allThreads } = await requestsAnswered(gateway);
  assert.ok(firstThread > 0 && allThreads > firstThread, `the first thread answered ${firstThread} of ${allThreads} requests`);
}

/**
 * Sends bursts of concurrent requests (`burst(round)`, with fresh keys each round) until one was
 * answered partly by the first thread and partly by the others, and returns what that burst
 * returned. The kernel decides which thread accepts a connection, and a burst this (busy) thread
 * sends often lands on the other thread whole; a cross-thread property needs one that did not.
 */
export async function burstAcrossThreads<T>(gateway: Gateway, burst: (round: number) => Promise<T>, rounds = 20): Promise<T> {
  for (let round = 0; round < rounds; round++) {
    const before = await requestsAnswered(gateway);
    const result = await burst(round);
    const after = await requestsAnswered(gateway);
    const first = after.firstThread - before.firstThread;
    if (first > 0 && after.allThreads - before.allThreads > first) return result;
  }
  throw new Error(`none of ${rounds} bursts was answered by more than one thread`);
}
