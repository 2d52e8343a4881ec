/** Raw-socket exchanges (node:net) for protocol tests: what the server wrote, and whether it closed. */
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface Exchange {
  text: string;
  /** The server closed the connection (rather than our timer cutting it). */
  closedByServer: boolean;
  /** Status codes of every response line, in order. */
  statuses: number[];
}

/** Writes `parts` on one connection (`gapMs` apart) and reads until the server closes or `timeoutMs`. */
export function exchange(port: number, parts: (string | Buffer)[], { timeoutMs = 3_000, gapMs = 0, tls = false } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', () => (closedByServer = true));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
      resolve({ text, closedByServer, statuses });
    });
    let index = 0;
    const writeNext = () => {
      if (index >= parts.length || socket.destroyed) return;
      socket.write(parts[index++]!);
      if (index < parts.length) setTimeout(writeNext, gapMs);
    };
    socket.once(tls ? 'secureConnect' : 'connect', writeNext);
  });
}
