/**
 * The Node limit for the miss path: a bare node:http server relaying each request to the backend
 * over undici's lowest-level API (dispatch, one pooled connection per request in flight) and
 * writing the status, two headers and the body back — no routing, no header rules, no errors
 * handled. `/dev/…` is relayed as `/…`, like cachegate's `dev` stage.
 */
import { createServer } from 'node:http';
import { Agent, type Dispatcher } from 'undici';

const port = Number(process.argv[2] ?? 0);
const backend = `http://${process.argv[3] ?? '127.0.0.1:1'}`;
const agent = new Agent({ keepAliveTimeout: 60_000 });

const server = createServer((req, res) => {
  const path = (req.url ?? '/').replace(/^\/dev/, '');
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {},
    onResponseStart(_controller, statusCode, headers) {
      res.writeHead(statusCode, { 'content-type': String(headers['content-type'] ?? 'application/octet-stream'), 'content-length': String(headers['content-length'] ?? '0') });
    },
    onResponseData(controller, chunk) {
      if (!res.write(chunk)) {
        controller.pause();
        res.once('drain', () => controller.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError() {
      res.destroy();
    },
  };
  agent.dispatch({ origin: backend, path, method: 'GET', headers: { 'x-forwarded-for': req.socket.remoteAddress ?? '' } }, handler);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`));
process.once('SIGTERM', () => process.exit(0));
