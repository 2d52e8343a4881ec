// Runs every compiled test file with node's own test runner (Node 20 has no --test globs).
// Progress goes to stdout with the spec reporter; a TAP copy is parsed for the closing line
// "N passed, N failed, N skipped" that CI reads.
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

const filter = process.argv[2];
const files = findTests('dist/test').filter((f) => !filter || f.includes(filter)).sort();
const tap = join(mkdtempSync(join(tmpdir(), 'cachegate-tests-')), 'results.tap');
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit' },
);
const summary = readFileSync(tap, 'utf8');
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(summary)?.[1] ?? 0);
const failed = count('fail') + count('cancelled');
process.stdout.write(`\n${count('pass')} passed, ${failed} failed, ${count('skipped')} skipped\n`);
process.exit(result.status ?? 1);
