/**
 * `cachegate start …` as the memory invariant runs it: the real CLI, plus one hook only a test
 * needs — on SIGUSR2 it collects garbage (`--expose-gc`) and prints `HEAP <bytes>` (heap used plus
 * Buffer memory), so the test can tell retained memory from garbage not yet collected.
 */
import { main } from '../../src/cli/main.js';

const gc = (globalThis as { gc?: () => void }).gc;
process.on('SIGUSR2', () => {
  for (let i = 0; i < 6; i++) gc?.();
  const usage = process.memoryUsage();
  process.stdout.write(`HEAP ${usage.heapUsed + usage.arrayBuffers}\n`);
});

main(['node', 'cachegate', ...process.argv.slice(2)]).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
