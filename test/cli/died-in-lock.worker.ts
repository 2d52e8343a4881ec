/** A gateway thread stand-in (died-in-lock.test.ts): takes a shared-memory lock, says it serves, and dies — holding it or not (argv[2]). */
import { lock, unlock } from '../../src/cache/stores/shared/lock.js';
import { reportReady } from '../../src/cli/workers.js';

// Importing workers.js registered this thread's lock counter (as in every gateway thread).
const cells = new Int32Array(new SharedArrayBuffer(4));
lock(cells, 0);
if (process.argv[2] !== 'holding') unlock(cells, 0);
reportReady();
setTimeout(() => process.exit(1), 50);
