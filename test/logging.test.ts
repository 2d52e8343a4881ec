/** `--log-format pretty`: one readable line per pino event; json stays pino's own lines. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrettyLine } from '../src/logging.js';

describe('pretty log lines', () => {
  it('shows time, level, message and the fields as key=value', () => {
    const line = JSON.stringify({ level: 30, time: '2026-01-02T12:00:01.234Z', service: 'cachegate', msg: 'request', method: 'GET', path: '/prod/pets/1', status: 200, cache: 'hit', key: 'ab12', note: 'two words' });
    assert.equal(formatPrettyLine(line), '12:00:01.234 INFO  request method=GET path=/prod/pets/1 status=200 cache=hit key=ab12 note="two words"\n');
  });

  it('puts an error stack under its line, and passes non-JSON through', () => {
    const line = JSON.stringify({ level: 50, time: '2026-01-02T12:00:01.234Z', msg: 'admin request failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } });
    assert.equal(formatPrettyLine(line), '12:00:01.234 ERROR admin request failed\n  Error: boom\n      at x\n');
    assert.equal(formatPrettyLine('not json'), 'not json\n');
  });

  it('colours only when asked (a terminal)', () => {
    assert.match(formatPrettyLine(JSON.stringify({ level: 40, time: '2026-01-02T12:00:01.234Z', msg: 'm' }), true), /\u001b\[33mWARN/);
  });
});
