/**
 * The embedded demo's backend: a small pet store that takes a visible 150 ms per call, so a cache
 * hit is obviously faster than a miss. It counts its calls and says so in every answer.
 */
import { createServer, type Server } from 'node:http';

export const DEMO_BACKEND_DELAY_MS = 150;

const PETS = [
  { id: 1, name: 'Rex', type: 'dog', price: 249.99 },
  { id: 2, name: 'Tom', type: 'cat', price: 124.99 },
  { id: 3, name: 'Nemo', type: 'fish', price: 9.99 },
];

export interface DemoBackend {
  readonly server: Server;
  readonly address: string;
  calls: number;
  close(): Promise<void>;
}

export async function startDemoBackend(delayMs = DEMO_BACKEND_DELAY_MS): Promise<DemoBackend> {
  const backend = { calls: 0 } as DemoBackend;
  const server = createServer((req, res) => {
    backend.calls++;
    const url = new URL(req.url ?? '/', 'http://demo');
    const call = backend.calls;
    setTimeout(() => {
      const pet = /^\/pets\/(\d+)$/.exec(url.pathname);
      let status = 200;
      let body: unknown;
      // Tags for purge by tag (Surrogate-Key, as Fastly and Varnish read it): every answer is "pets";
      // a list is also "type-{type}", one pet "pet-{id}".
      const tags = ['pets'];
      if (url.pathname === '/pets') {
        const type = url.searchParams.get('type');
        body = { pets: PETS.filter((p) => !type || p.type === type), backendCall: call, servedAt: new Date().toISOString() };
        if (type) tags.push(`type-${type}`);
      } else if (pet) {
        const found = PETS.find((p) => p.id === Number(pet[1]));
        status = found ? 200 : 404;
        body = found ? { ...found, backendCall: call, servedAt: new Date().toISOString() } : { message: 'no such pet' };
        tags.push(`pet-${pet[1]}`);
      } else {
        status = 404;
        body = { message: 'not found' };
      }
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'surrogate-key': tags.join(' ') });
      res.end(text);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  Object.assign(backend, {
    server,
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  });
  return backend;
}
