/**
 * cachegate for bench/failure-modes.ts: the real Gateway in its own process, on a store given as
 * JSON (memory, redis, redis-cluster), with a cached stage `prod` and an uncached stage `dev` over
 * the same backend. Prints `ready DATA_PORT`.
 */
import { validateConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway/gateway.js';
import { createLogger } from '../src/logging.js';

const [backend = '127.0.0.1:1', storeJson = '{"type":"memory"}'] = process.argv.slice(2);
const proxy = (path: string) => ({ GET: { integration: { type: 'HTTP_PROXY', uri: `http://${backend}${path}`, timeoutMs: 5000 } } });
const loaded = validateConfig({
  gateway: { listen: '127.0.0.1:0', admin: '127.0.0.1:0' },
  store: JSON.parse(storeJson) as unknown,
  apis: [{
    id: 'bench',
    resources: { '/k/{id}': proxy('/k/{id}'), '/cookie/{id}': proxy('/cookie/{id}') },
    stages: {
      prod: { cacheClusterEnabled: true, methodSettings: { '*/*': { cacheTtlInSeconds: 3600 } } },
      dev: { cacheClusterEnabled: false },
    },
  }],
}, { source: '<bench>', baseDir: process.cwd() });

const gateway = await Gateway.start(loaded, { logger: createLogger('warn') });
process.stdout.write(`ready ${new URL(gateway.dataUrl).port}\n`);
process.once('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
