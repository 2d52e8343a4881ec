/** The Node limit: a bare node:http server writing the same bytes the cache would, from memory. */
import { createServer } from 'node:http';
import { benchBody } from './backend-body.js';

const port = Number(process.argv[2] ?? 0);
const bodies = new Map<string, Buffer>();
const server = createServer((req, res) => {
  const path = (req.url ?? '/').replace(/^\/prod/, '');
  let body = bodies.get(path);
  if (!body) bodies.set(path, (body = benchBody(path)));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`));
process.once('SIGTERM', () => process.exit(0));
