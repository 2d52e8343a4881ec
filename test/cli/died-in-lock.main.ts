/** The main thread of died-in-lock.test.ts: one stand-in gateway thread (argv[2]: `holding` or `released`); prints `alive` if the process survives its deaths. */
import { fileURLToPath } from 'node:url';
import { startThreads } from '../../src/cli/workers.js';

const script = fileURLToPath(new URL('./died-in-lock.worker.js', import.meta.url));
const group = startThreads(1, script, [process.argv[2] ?? 'holding'], { listenFds: { data: -1, admin: -1 }, threads: 2 });
await group.ready;
setTimeout(() => {
  process.stdout.write('alive\n');
  process.exit(0);
}, 1_500);
