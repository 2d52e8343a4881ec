/**
 * `node dist/bench/nonce-micro.js [path/to/dist/src/auth/apps.js]`: CPU per signed request's app
 * check (AppRegistry.identify: signature + nonce), measured in-process with an injected clock,
 * when 0 and when 100,000 nonces of the window are on record. The old check walked them all on
 * every request; pass an older build's apps.js to compare. Less sensitive to a busy machine
 * than the HTTP benchmark (alibaba-nonces.ts), since it is one process timing its own work.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const APP = { id: '1001', appKey: 'bench-key', appSecret: 'bench-secret', nonceLimit: 10_000_000 };
const PATH = '/prod/items';

function signedRequest(now: number) {
  const headers: Record<string, string> = { accept: 'application/json', 'x-ca-key': APP.appKey, 'x-ca-nonce': randomUUID(), 'x-ca-timestamp': String(now) };
  const names = ['x-ca-key', 'x-ca-nonce', 'x-ca-timestamp'];
  headers['x-ca-signature-headers'] = names.join(',');
  const toSign = `GET\n${headers.accept}\n\n\n\n${names.map((name) => `${name}:${headers[name]}\n`).join('')}${PATH}`;
  headers['x-ca-signature'] = createHmac('sha256', APP.appSecret).update(toSign).digest('base64');
  return { method: 'GET', rawUrl: PATH, headers };
}

async function main(): Promise<void> {
  const modulePath = process.argv[2] ? pathToFileURL(resolve(process.argv[2])).href : new URL('../src/auth/apps.js', import.meta.url).href;
  const { AppRegistry } = (await import(modulePath)) as { AppRegistry: new (apps: unknown[]) => { identify(request: unknown, now: number): unknown } };
  const registry = new AppRegistry([APP]);
  let now = 1_800_000_000_000;
  const measure = (count: number) => {
    const requests = Array.from({ length: count }, () => signedRequest(now));
    const started = process.cpuUsage();
    for (const request of requests) {
      const caller = registry.identify(request, now) as { kind: string };
      if (caller.kind !== 'app') throw new Error(`refused: ${JSON.stringify(caller)}`);
    }
    const used = process.cpuUsage(started);
    return (used.user + used.system) / count;
  };
  const empty = measure(2_000);
  // 100,000 nonces over the last 10 minutes, as an app sending ~170 req/s leaves on record.
  for (let i = 0; i < 100; i++) {
    now += 6_000;
    measure(1_000);
  }
  const full = measure(2_000);
  process.stdout.write(`${modulePath}\nµs CPU per signed request: ${empty.toFixed(1)} with no nonces on record, ${full.toFixed(1)} with ~100,000 (${(full / empty).toFixed(1)}x)\n`);
}

void main();
