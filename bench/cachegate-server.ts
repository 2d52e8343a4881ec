/**
 * cachegate as the benchmark runs it: the real Gateway in its own process, with the bench API, and
 * optionally N entries put straight into the stage cache (filling 1M entries over HTTP would take
 * longer than the whole benchmark). Prints `ready DATA_PORT ADMIN_PORT`.
 */
import { buildCacheKey, compileKeyPlan } from '../src/cache/key.js';
import { CACHE_ENTRY_VERSION } from '../src/cache/entry.js';
import { stageId } from '../src/cache/store.js';
import { validateConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway/gateway.js';
import { createLogger } from '../src/logging.js';
import { benchBody } from './backend-body.js';

const [port = '0', backend = '127.0.0.1:1', prefill = '0', logLevel = 'warn', redisUrl = '', localCacheMs = '0'] = process.argv.slice(2);

const proxy = (path: string) => ({ integration: { type: 'HTTP_PROXY', uri: `http://${backend}${path}` } });
const loaded = validateConfig({
  gateway: { listen: `127.0.0.1:${port}`, admin: '127.0.0.1:0' },
  store: redisUrl ? { type: 'redis', url: redisUrl, localCacheMs: Number(localCacheMs) } : { type: 'memory' },
  identities: [{ name: 'bench', apiKey: 'bench-api-key', policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: '*' }] }],
  apis: [{
    id: 'bench',
    resources: { '/k/{id}': { GET: proxy('/k/{id}') }, '/big/{id}': { GET: proxy('/big/{id}') } },
    stages: {
      prod: { cacheClusterEnabled: true, cacheCapacityBytes: 8 * 2 ** 30, methodSettings: { '*/*': { cacheTtlInSeconds: 3600, requireAuthorizationForCacheControl: false } } },
      dev: { cacheClusterEnabled: false },
    },
  }],
}, { source: '<bench>', baseDir: process.cwd() });

const gateway = await Gateway.start(loaded, { logger: createLogger(logLevel as 'warn') });
const count = Number(prefill);
if (count > 0) {
  const plan = compileKeyPlan('GET', '/k/{id}', []);
  const now = Date.now();
  for (let i = 1; i <= count; i++) {
    const key = buildCacheKey(plan, { method: 'GET', pathParameters: { id: String(i) }, rawQuery: '', headers: {} });
    void gateway.store.set(stageId('bench', 'prod'), key, {
      version: CACHE_ENTRY_VERSION, statusCode: 200, headers: [['content-type', 'application/json']],
      body: benchBody(`/k/${i}`), storedAt: now, staleAt: now + 3_600_000, deleteAt: now + 3_600_000,
    });
  }
}
const ports = [gateway.dataUrl, gateway.adminUrl].map((url) => new URL(url).port);
process.stdout.write(`ready ${ports.join(' ')} rss=${process.memoryUsage().rss}\n`);
process.once('SIGTERM', () => void gateway.close().then(() => process.exit(0)));
