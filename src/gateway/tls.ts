/**
 * HTTPS for the listeners (SPEC §4, issue 16): `gateway.tls` serves both over TLS, `dataTls` /
 * `adminTls` one each (and take precedence). Files are read at start and again on SIGHUP, so a
 * renewed certificate is served without a restart. TLS 1.2 is the floor (RFC 8996 deprecates 1.0
 * and 1.1); Node's default cipher list is kept (it is maintained with OpenSSL's).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config, ListenAddress, TlsConfig } from '../config/schema.js';

export type Listener = 'data' | 'admin';

/** The TLS settings of one listener, or undefined for plain HTTP. */
export function tlsConfigOf(config: Config, listener: Listener): TlsConfig | undefined {
  return (listener === 'data' ? config.gateway.dataTls : config.gateway.adminTls) ?? config.gateway.tls;
}

/** Reads the PEM files now (throws with the file named when one cannot be read). */
export function readTls(tls: TlsConfig, baseDir: string): SecureContextOptions {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (error) {
      throw new Error(`cannot read TLS ${what} ${resolve(baseDir, file)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return { cert: read(tls.cert, 'certificate'), key: read(tls.key, 'key'), minVersion: tls.minVersion };
}

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/**
 * Secrets sent in the clear: an AppCode (Alibaba requires HTTPS for it) or an API key (`x-api-key`)
 * accepted over plain HTTP on an address other machines can reach. One warning per listener.
 */
export function warnPlainTextSecrets(config: Config, addresses: Record<Listener, ListenAddress>, logger: Logger): void {
  const apiKeys = config.identities.some((identity) => identity.apiKey !== undefined);
  const appCodes = config.apps.some((app) => app.appCode !== undefined);
  for (const listener of ['data', 'admin'] as const) {
    const { host } = addresses[listener];
    if (tlsConfigOf(config, listener) || LOOPBACK.test(host)) continue;
    const secrets = [apiKeys && 'API keys (x-api-key)', listener === 'data' && appCodes && 'AppCodes'].filter(Boolean);
    if (secrets.length === 0) continue;
    logger.warn({ listener, host }, `${secrets.join(' and ')} are accepted over plain HTTP on ${host}, reachable from other machines: set gateway.tls (or ${listener}Tls) so they are not sent in the clear`);
  }
}
