/**
 * Why a Redis store call failed without an answer. Availability itself (the outage logged once
 * per node, the recovery once) is the circuit breakers' (circuit.ts).
 */

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

/** A store call refused at once because its node's circuit is open (circuit.ts). */
export class CircuitOpenError extends Error {
  constructor(node: string) {
    super(`cache store node ${node} is unavailable (circuit open)`);
    this.name = 'CircuitOpenError';
  }
}

/** A store call refused at once because the connection is down (nothing is queued). */
export class StoreUnavailableError extends Error {
  constructor(status: string) {
    super(`cache store connection is ${status}`);
    this.name = 'StoreUnavailableError';
  }
}
