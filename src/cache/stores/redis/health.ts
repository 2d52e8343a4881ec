/**
 * Store availability as the logs see it: one warning when an outage starts, one line when it ends,
 * however many requests fail in between (the requests themselves are counted in
 * cachegate_store_errors_total by the cache step).
 */
import type { Logger } from 'pino';

export class StoreHealth {
  available = true;
  private failures = 0;

  constructor(private readonly logger: Logger, private readonly store: string) {}

  failed(operation: string, error: unknown): void {
    this.failures++;
    if (!this.available) return;
    this.available = false;
    this.logger.warn({ store: this.store, operation, err: errorMessage(error) }, 'cache store unavailable; serving from the integrations until it returns');
  }

  succeeded(): void {
    if (this.available) return;
    this.available = true;
    this.logger.info({ store: this.store, failedCalls: this.failures }, 'cache store available again');
    this.failures = 0;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A store call that did not answer within `store.timeoutMs`. */
export class StoreTimeoutError extends Error {
  constructor(operation: string, timeoutMs: number) {
    super(`cache store ${operation} took longer than ${timeoutMs} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/** A store call refused at once because the connection is down (nothing is queued). */
export class StoreUnavailableError extends Error {
  constructor(status: string) {
    super(`cache store connection is ${status}`);
    this.name = 'StoreUnavailableError';
  }
}
