/**
 * `cacheForwarding` (issue 13): where unkeyed query parameters of a cached method reach the
 * integration (AWS behaviour, the default), `cachegate validate` says so as a hint (exit 0), and
 * `keyed-only` is accepted and silences it. Through the real CLI binary.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BIN = fileURLToPath(new URL('../../../bin/cachegate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cachegate-forwarding-'));

function validate(forwarding: string, stage = 'cacheClusterEnabled: true'): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `
apis:
  - id: demo
    resources:
      /users:
        GET:
          requestParameters: [method.request.querystring.type, method.request.querystring.department]
          cacheKeyParameters: [method.request.querystring.type]
          ${forwarding}
          integration: { type: HTTP_PROXY, uri: "http://127.0.0.1:3000/users" }
    stages:
      prod: { ${stage} }
`);
  const result = spawnSync(process.execPath, [BIN, 'validate', file], { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('cacheForwarding and the validate hint', () => {
  it('a cached method with a declared query parameter outside its key gets a hint naming it, and stays valid', () => {
    const result = validate('');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /valid/);
    assert.match(result.stdout, /hint: apis\[0\]\.resources\["?\/users"?\]\.GET: cached on prod, .*department.*cacheForwarding: keyed-only/);
  });

  it('no hint with cacheForwarding set, or when no stage caches the method', () => {
    for (const result of [validate('cacheForwarding: keyed-only'), validate('cacheForwarding: all'), validate('', 'cacheClusterEnabled: false')]) {
      assert.equal(result.status, 0, result.stderr);
      assert.doesNotMatch(result.stdout, /hint:/);
    }
  });

  it('another value is an error naming the path', () => {
    const result = validate('cacheForwarding: none');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cacheForwarding: must be all or keyed-only/);
  });
});
