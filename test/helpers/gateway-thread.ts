/**
 * One more gateway thread of a test's threaded gateway (threads.ts): what `cachegate start
 * --workers N` runs in each thread after the first (cli/start.ts serve), given the test's config
 * object (argv: its JSON, then the base directory) instead of a file.
 */
import { threadId } from 'node:worker_threads';
import { reportFailed, reportReady, stopRequested, threadMetricsText, threadSharing, threadStart, type ThreadSharing } from '../../src/cli/workers.js';
import { validateConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';

async function serveThread(configJson: string, baseDir: string): Promise<void> {
  const start = threadStart();
  let sharing: ThreadSharing | undefined;
  let gateway: Gateway;
  try {
    const loaded = validateConfig(JSON.parse(configJson), { source: '<test>', baseDir });
    // What the first thread made and passed on (the memory store, its throttling table, …), as under the CLI.
    sharing = threadSharing(loaded, start.threads);
    gateway = await Gateway.start(loaded, sharing.options);
  } catch (error) {
    sharing?.close();
    reportFailed(`gateway thread failed to start: ${(error as Error).message}`);
    return;
  }
  const metrics = threadMetricsText(gateway.metrics.registry, start.threads, threadId, start.group);
  gateway.setMetricsText(metrics.text);
  reportReady();
  // Tests send no SIGHUP: nothing to reload.
  await stopRequested(() => undefined);
  await gateway.close();
  metrics.close();
  sharing.close();
}

await serveThread(process.argv[2] ?? '{}', process.argv[3] ?? process.cwd());
