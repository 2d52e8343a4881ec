/**
 * Child process of the memory invariant (memory.test.ts), run with `--expose-gc` so that retained
 * heap can be measured after full collections. Prints one JSON line per fast-check run and exits
 * non-zero when the property fails. Argument: JSON `{ mode, seed, numRuns, budget, maxEntries }`.
 *
 * - `gateway`: a real gateway with a `{proxy+}` AWS stage cache and an Alibaba plug-in space of
 *   `budget` bytes each, a real backend and real sockets, all in this process so that one heap holds
 *   everything an entry keeps (key, tags, head block, headers, body, bookkeeping). Each generated
 *   adversarial shape is stored and hit (the hit builds the head block) until both budgets are
 *   overrun by half or `maxEntries` are stored.
 * - `store`: the memory store alone, filled with tens of thousands of entries made the way the
 *   flow makes them (key built from slices of a raw URL, tags and headers through tags.ts and
 *   entry-writer.ts), so that a per-entry undercount of a few bytes adds up to a visible one.
 *
 * The property: after GC, heap + Buffer memory retained since the space was empty is at most the
 * bytes counted (cachegate_cache_bytes) plus FIXED_OVERHEAD_BYTES, and no space counts more than
 * its budget.
 */
import { request as httpRequest, Agent } from 'node:http';
import fc from 'fast-check';
import { CACHE_ENTRY_VERSION, type CacheEntry } from '../../src/cache/entry.js';
import { replayableHeaders } from '../../src/cache/entry-writer.js';
import { buildCacheKey, compileKeyPlan } from '../../src/cache/key.js';
import { stageId } from '../../src/cache/store.js';
import { MemoryStore } from '../../src/cache/stores/memory.js';
import { entryTags } from '../../src/cache/tags.js';
import { decodePathSegments } from '../../src/gateway/router.js';
import { startBackend } from '../helpers/backend.js';
import { startGateway } from '../helpers/gateway.js';
import { adversarialShape, requestFor, responseFor, type Shape } from './memory-shapes.js';

/** What a full GC leaves besides the entries: sockets, parsers, JIT code of the first requests, metrics series. */
export const FIXED_OVERHEAD_BYTES = 2 * 1024 * 1024;

interface Options { mode: 'gateway' | 'store'; seed: number; numRuns: number; budget: number; maxEntries: number }
const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function retainedBytes(): number {
  for (let i = 0; i < 6; i++) gc!();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function report(line: Record<string, unknown>, counted: number, retained: number): void {
  process.stdout.write(`${JSON.stringify({ ...line, counted, retained })}\n`);
  if (retained > counted + FIXED_OVERHEAD_BYTES) {
    throw new Error(`retained ${retained} bytes > counted ${counted} + ${FIXED_OVERHEAD_BYTES}`);
  }
}

const summary = (shape: Shape) => {
  const sample = requestFor(shape, 0);
  const answer = responseFor(shape, sample.path);
  return { pathChars: sample.path.length, headerChars: sample.headers['x-k']!.length, responseHeaderChars: Object.entries(answer.headers).join('').length, bodyBytes: answer.body.length };
};

async function gatewayMode(): Promise<void> {
  let shape: Shape | undefined;
  const backend = await startBackend((req, res) => {
    const answer = responseFor(shape!, req.url ?? '/');
    res.writeHead(200, answer.headers).end(answer.body);
  });
  const gateway = await startGateway({
    cachePlugins: { adversarial: { varyByApp: false, varyByParameters: ['q'], varyByHeaders: ['X-K'], duration: 3600, cacheSpaceBytes: options.budget } },
    apis: [{
      id: 'adv',
      resources: {
        '/{proxy+}': { GET: { cacheKeyParameters: ['method.request.querystring.q', 'method.request.header.X-K'], integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } },
        '/ali/{proxy+}': { GET: { cachePlugin: 'adversarial', integration: { type: 'HTTP_PROXY', uri: `${backend.url}/{proxy}` } } },
      },
      stages: { prod: { cacheClusterEnabled: true, cacheCapacityBytes: options.budget, methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 3600 } } } },
    }],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const port = Number(new URL(gateway.dataUrl).port);
  const get = (path: string, headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  const stage = stageId('adv', 'prod');
  const spaces = [stage, `${stage}\u0000plugin\u0000adversarial\u0000`];
  const counted = () => spaces.reduce((sum, space) => sum + (gateway.store.stats(space)?.bytes ?? 0), 0);

  /** Stores (and hits) entries of a shape until both spaces have been overrun by half, or maxEntries. */
  const fill = async (generated: Shape) => {
    let requests = 0;
    let stored = 0;
    while (stored < options.maxEntries) {
      const batch = Array.from({ length: 8 }, (_, j) => stored + j);
      await Promise.all(batch.map(async (n) => {
        const { path, headers } = requestFor(generated, n);
        for (const prefix of ['/prod', '/prod/ali']) {
          for (let twice = 0; twice < 2; twice++) {
            const status = await get(prefix + path, headers);
            if (status !== 200) throw new Error(`status ${status} for ${prefix}${path.slice(0, 80)}…`);
            requests++;
          }
        }
      }));
      stored += batch.length;
      backend.seen.length = 0; // the test backend's log of requests is not the cache's
      for (const space of spaces) {
        const stats = gateway.store.stats(space)!;
        if (stats.bytes > stats.capacityBytes) throw new Error(`space counts ${stats.bytes} bytes over its budget ${stats.capacityBytes}`);
      }
      const perEntry = counted() / Math.max(1, gateway.store.stats(stage)!.entries);
      if (stored * perEntry > 1.5 * options.budget) break;
    }
    return requests;
  };

  // Warm-up: JIT code, sockets and pools exist before the first baseline.
  shape = { segments: 2, segmentChars: 10, alphabet: 'ascii', queryChars: 5, queryAlphabet: 'ascii', headerChars: 5, tags: 2, tagChars: 5, responseHeaders: 2, responseHeaderChars: 5, bodyBytes: 10 };
  await fill(shape);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(adversarialShape(), async (generated) => {
      shape = generated;
      await gateway.flushStage('adv', 'prod');
      const baseline = retainedBytes();
      const requests = await fill(generated);
      backend.seen.length = 0;
      report({ run: run++, requests, shape: summary(generated) }, counted(), retainedBytes() - baseline);
    }),
    { seed: options.seed, numRuns: options.numRuns, endOnFailure: true },
  );
  agent.destroy();
  await gateway.close();
  await backend.close();
}

function storeMode(): void {
  const stage = stageId('adv', 'prod');
  const plan = compileKeyPlan('GET', '/{proxy+}', ['method.request.querystring.q', 'method.request.header.x-k']);
  let run = 0;
  fc.assert(
    fc.property(adversarialShape(), (generated) => {
      const store = new MemoryStore({ now: () => 0 });
      store.configureStage(stage, options.budget);
      const baseline = retainedBytes();
      let stored = 0;
      for (; stored < options.maxEntries; stored++) {
        const { path, headers } = requestFor(generated, stored);
        // A raw URL as Node hands it over, then slices of it, as the router and key builder take them.
        const rawUrl = `/prod${path}`;
        const query = rawUrl.indexOf('?');
        const segments = decodePathSegments(rawUrl.slice(5, query)) ?? [];
        const key = buildCacheKey(plan, { method: 'GET', pathParameters: { proxy: segments.join('/') }, rawQuery: rawUrl.slice(query + 1), headers });
        const answer = responseFor(generated, path);
        const entry: CacheEntry = {
          version: CACHE_ENTRY_VERSION, statusCode: 200, headers: replayableHeaders(answer.headers), body: Buffer.from(answer.body),
          storedAt: 1, staleAt: 2e12, deleteAt: 3e12, tags: entryTags(rawUrl.slice(5, query), answer.headers),
        };
        store.set(stage, key, entry);
        const stats = store.stats(stage)!;
        if (stats.bytes > stats.capacityBytes) throw new Error(`counts ${stats.bytes} bytes over its budget ${stats.capacityBytes}`);
        if (stats.evictions > stats.entries / 2) break;
      }
      const stats = store.stats(stage)!;
      const retained = retainedBytes() - baseline;
      // Emptied before the next baseline: nothing of this run may stay reachable into the next.
      store.close();
      report({ run: run++, stored, entries: stats.entries, shape: summary(generated) }, stats.bytes, retained);
    }),
    { seed: options.seed, numRuns: options.numRuns, endOnFailure: true },
  );
}

if (options.mode === 'store') storeMode();
else await gatewayMode();
process.exit(0);
