/** `cachegate import openapi.yaml` prints a config that `cachegate validate` (and the loader) accept. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../../src/config/load.js';
import { petstoreSpec } from './openapi-fixture.js';

const BIN = fileURLToPath(new URL('../../../../bin/cachegate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cachegate-import-'));
const cachegate = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 20_000 });

describe('cachegate import', () => {
  it('prints a valid cachegate config with warnings on stderr', () => {
    writeFileSync(join(dir, 'pets.yaml'), petstoreSpec('http://127.0.0.1:3000', 'Pet Store'));
    const result = cachegate(['import', 'pets.yaml']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /warning: POST \/lambda: skipped/);
    const { config } = parseConfigText(result.stdout, { source: '<import>', baseDir: dir });
    const api = config.apis[0]!;
    assert.equal(api.id, 'pet-store');
    assert.equal(api.name, 'Pet Store');
    const get = api.resources['/pets/{petId}']!.GET!;
    assert.deepEqual(get.cacheKeyParameters, ['method.request.querystring.type']);
    assert.equal(get.integration?.type === 'HTTP_PROXY' && get.integration.uri, 'http://127.0.0.1:3000/animals/{petId}');
    assert.equal(api.stages.prod!.cacheClusterEnabled, true);

    writeFileSync(join(dir, 'imported.yaml'), result.stdout);
    const validate = cachegate(['validate', 'imported.yaml']);
    assert.equal(validate.status, 0, validate.stderr);
  });

  it('--id and --stage name the API and stage', () => {
    const result = cachegate(['import', 'pets.yaml', '--id', 'pets', '--stage', 'live']);
    assert.equal(result.status, 0, result.stderr);
    const { config } = parseConfigText(result.stdout, { source: '<import>', baseDir: dir });
    assert.equal(config.apis[0]!.id, 'pets');
    assert.deepEqual(Object.keys(config.apis[0]!.stages), ['live']);
  });

  it('a missing or non-OpenAPI file: one line, exit 1', () => {
    const missing = cachegate(['import', 'nope.yaml']);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    assert.match(missing.stderr, /cannot read nope\.yaml: file not found/);
    writeFileSync(join(dir, 'plain.yaml'), 'hello: world\n');
    const plain = cachegate(['import', 'plain.yaml']);
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, /not an OpenAPI document/);
  });
});
