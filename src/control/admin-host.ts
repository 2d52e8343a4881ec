/**
 * Which `Host` values the admin listener answers (issue 13: `/metrics` answered any Host, so a
 * page on attacker.example whose name was re-pointed at 127.0.0.1 could read it — DNS rebinding).
 *
 * A rebinding page can only send a *name* it controls, so IP literals are always accepted
 * (Prometheus scraping `10.0.0.5:9090` keeps working); names must be `localhost` (or under
 * `.localhost`, RFC 6761 §6.3), the admin listener's own host, or listed in `gateway.adminHosts`.
 * No Host (HTTP/1.0) is accepted: browsers always send one.
 */
import { isIP } from 'node:net';
import { GatewayError } from '../errors.js';

export class AdminHosts {
  private readonly names: ReadonlySet<string>;

  constructor(listenHost: string, configured: readonly string[] = []) {
    this.names = new Set(['localhost', listenHost.toLowerCase(), ...configured.map((name) => name.toLowerCase())]);
  }

  /** Throws 421 MisdirectedRequest for a Host that names something else. */
  check(hostHeader: string | undefined): void {
    if (hostHeader === undefined || hostHeader === '') return;
    const host = hostOf(hostHeader.toLowerCase());
    if (host === undefined) throw new GatewayError('BAD_REQUEST', 'Malformed Host header');
    if (isIP(host) !== 0 || this.names.has(host) || host.endsWith('.localhost')) return;
    throw new GatewayError('MISDIRECTED_HOST', `This admin listener does not answer for host ${JSON.stringify(host)}; add it to gateway.adminHosts`);
  }
}

/** `name`, `name:port`, `[v6]`, `[v6]:port` → the bare host; undefined when malformed. */
function hostOf(value: string): string | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::\d{1,5})?$/.exec(value);
  if (!match) return undefined;
  return (match[1] ?? match[2]!).replace(/\.$/, '');
}
