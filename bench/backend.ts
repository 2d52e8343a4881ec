/**
 * The benchmark's backend: `/k/{n}` answers 1 KB of JSON naming n (so a checker can tell wrong
 * bodies), `/big/{n}` 64 KB, after `--delay` ms. `GET /__calls` tells how often it was called.
 */
import { createServer } from 'node:http';
import { benchBody } from './backend-body.js';

const port = Number(process.argv[2] ?? 0);
const delayMs = Number(process.argv[3] ?? 2);
let calls = 0;

const server = createServer((req, res) => {
  if (req.url === '/__calls') return res.end(String(calls));
  calls++;
  const body = benchBody(req.url ?? '/');
  const answer = () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  if (delayMs > 0) setTimeout(answer, delayMs);
  else answer();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`));
process.once('SIGTERM', () => process.exit(0));
