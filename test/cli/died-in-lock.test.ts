/**
 * A gateway thread that dies inside a shared-memory lock (terminated out of memory in the middle
 * of a store write) leaves the lock held forever and the structure half-written: every other
 * thread would sleep on it for good (test/security/store-faults.test.ts shows the hang). The main
 * thread sees which thread slot held a lock when it exited and ends the process with exit code 70,
 * so a supervisor restarts it; a thread that died holding none is replaced as before.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { DIED_IN_LOCK_EXIT_CODE } from '../../src/cli/workers.js';

const MAIN = fileURLToPath(new URL('./died-in-lock.main.js', import.meta.url));

function run(mode: 'holding' | 'released'): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('a gateway thread that dies holding a shared-memory lock', () => {
  it('ends the process (exit 70, a line naming why) instead of leaving the other threads asleep on the lock', async () => {
    const { code, output } = await run('holding');
    assert.equal(code, DIED_IN_LOCK_EXIT_CODE, output);
    assert.match(output, /holding a shared-memory lock/);
    assert.doesNotMatch(output, /alive/);
  });

  it('a thread that died holding no lock is replaced and the process goes on', async () => {
    const { code, output } = await run('released');
    assert.equal(code, 0, output);
    assert.match(output, /starting another/);
    assert.match(output, /alive/);
  });
});
