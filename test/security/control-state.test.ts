/**
 * The admin state on a bad day (docs/notes/attack-control.md): a SIGHUP reload that changes APIs
 * while a control-plane change is being saved must leave a state file that is whole and equal to
 * what serves, so that the next start reads it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { call } from '../helpers/http.js';

const listeners = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } };
const KEY = 'state-admin-key-123456';

it('a reload racing a control-plane change leaves a whole state file that matches what serves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-control-state-'));
  const file = join(dir, 'cachegate.json');
  const config = (description: string) => JSON.stringify({
    gateway: { stateFile: join(dir, 'state.json') },
    identities: [{ name: 'admin', apiKey: KEY, policy: [{ effect: 'Allow', action: 'apigateway:*', resource: '*' }] }],
    apis: [
      { id: 'shop', description, resources: { '/pets': { GET: { integration: { type: 'MOCK' } } } }, stages: { prod: {} } },
      { id: 'other', resources: { '/x': { GET: { integration: { type: 'MOCK' } } } }, stages: { prod: {} } },
    ],
  });
  writeFileSync(file, config('d'.repeat(3 * 2 ** 20)));
  const gateway = await Gateway.start(loadConfigFile(file), listeners);
  try {
    for (let round = 0; round < 6; round++) {
      // The operator edits the file (a long description, so the save takes a while) and sends SIGHUP
      // while a control-plane caller renames the other API.
      writeFileSync(file, config(`${round}`.repeat((round % 2 ? 1 : 5) * 2 ** 20)));
      const admin = call(`${gateway.adminUrl}/restapis/other`, {
        method: 'PATCH', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ patchOperations: [{ op: 'replace', path: '/name', value: `renamed-${round}` }] }),
      });
      await new Promise((resolve) => setTimeout(resolve, round * 3));
      await Promise.all([gateway.reload(loadConfigFile(file)).catch(() => undefined), admin]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const text = readFileSync(join(dir, 'state.json'), 'utf8');
      let saved: { apis: unknown };
      assert.doesNotThrow(() => { saved = JSON.parse(text); }, `round ${round}: the state file is not JSON (${text.length} bytes)`);
      assert.deepEqual(JSON.parse(JSON.stringify(saved!.apis)), JSON.parse(JSON.stringify(gateway.apis)), `round ${round}: the state file is not what serves`);
    }
  } finally {
    await gateway.close();
  }
});
