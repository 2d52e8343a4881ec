/**
 * A running gateway: the compiled snapshot of its APIs, the data-plane and admin listeners, the
 * cache store, metrics and logs, wired together once at start.
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import type { ApiConfig, ListenAddress } from '../config/schema.js';
import { createIntegration, ProxyPool } from '../integrations/index.js';
import { GatewayMetrics } from '../metrics/metrics.js';
import { silentLogger } from '../logging.js';
import { AdminPlane } from '../control/admin.js';
import { DataPlane } from './data-plane.js';
import { createListener, drain, listen } from './listener.js';
import { compileSnapshot, type GatewaySnapshot } from './runtime.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Override `gateway.listen` / `gateway.admin` (e.g. port 0 in tests). */
  listen?: ListenAddress;
  admin?: ListenAddress;
  /** The clock the cache uses; tests drive it instead of sleeping. */
  now?: () => number;
}

export class Gateway {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly proxyPool = new ProxyPool();
  private current: GatewaySnapshot;
  private readonly dataServer: Server;
  private readonly adminServer: Server;
  dataUrl = '';
  adminUrl = '';

  private constructor(readonly loaded: LoadedConfig, private readonly options: GatewayOptions) {
    this.logger = options.logger ?? silentLogger();
    this.metrics = new GatewayMetrics(() => [], { defaultMetrics: true });
    this.current = this.compile(loaded.config.apis);
    const dataPlane = new DataPlane({ snapshot: () => this.current, metrics: this.metrics, logger: this.logger });
    const admin = new AdminPlane({ gateway: this });
    this.dataServer = createListener(dataPlane.handle);
    this.adminServer = createListener(admin.handle);
  }

  static async start(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const gateway = new Gateway(loaded, options);
    const settings = loaded.config.gateway;
    try {
      const data = await listen(gateway.dataServer, options.listen ?? settings.listen, 'data listener');
      gateway.dataUrl = `http://${hostForUrl(data.host)}:${data.port}`;
      const admin = await listen(gateway.adminServer, options.admin ?? settings.admin, 'admin listener');
      gateway.adminUrl = `http://${hostForUrl(admin.host)}:${admin.port}`;
    } catch (error) {
      await gateway.close();
      throw error;
    }
    gateway.logger.info({ data: gateway.dataUrl, admin: gateway.adminUrl, apis: loaded.config.apis.map((api) => api.id) }, 'cachegate started');
    return gateway;
  }

  get snapshot(): GatewaySnapshot {
    return this.current;
  }

  /** Stops accepting, finishes in-flight requests (bounded by gateway.shutdownTimeoutMs), releases pools. */
  async close(): Promise<void> {
    const timeout = this.loaded.config.gateway.shutdownTimeoutMs;
    await Promise.all([drain(this.dataServer, timeout), drain(this.adminServer, timeout)]);
    await this.proxyPool.close();
  }

  private compile(apis: readonly ApiConfig[]): GatewaySnapshot {
    const deps = { baseDir: this.loaded.baseDir, proxyPool: this.proxyPool, accountId: this.loaded.config.gateway.accountId };
    return compileSnapshot(apis, (_api, _resource, _method, definition) => createIntegration(definition.integration, deps));
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
