/**
 * A circuit breaker per Redis node (per connection for standalone, per master for a Cluster), so
 * a store that is down or hung costs no more than caching off (SPEC §7 Guarantees):
 *
 *   closed ──first error, or CIRCUIT_TIMEOUTS_TO_OPEN timeouts in a row──▶ open (calls fail at
 *           once; "cache store unavailable", logged once)
 *   open ──after CIRCUIT_PROBE_MIN_MS, doubling to CIRCUIT_PROBE_MAX_MS──▶ half-open: one PING
 *   half-open ──PING answered within the store timeout──▶ closed ("cache store available again", once)
 *   half-open ──PING failed──▶ open
 *
 * The probe is a PING of its own, not a caller's request: no request ever waits for a node that
 * is known to be away. One log line per outage per node, however many calls fail meanwhile.
 */
import type { Logger } from 'pino';
import { errorMessage } from './health.js';

/**
 * Timeouts in a row (no answer from the node in between) that open the circuit. An error (refused,
 * reset, closed) opens it at once; one late reply on a busy machine does not.
 */
export const CIRCUIT_TIMEOUTS_TO_OPEN = 2;
/** First probe this long after the circuit opens (a blip costs about this much caching). */
export const CIRCUIT_PROBE_MIN_MS = 250;
/** Probes back off, doubling, to at most this interval while the node stays away. */
export const CIRCUIT_PROBE_MAX_MS = 4_000;

/** An error reply (the node answered, refusing) is logged at most this often per node. */
export const CIRCUIT_REFUSAL_LOG_MS = 60_000;

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** `host:port` of the node, or the connection's name for standalone. */
  node: string;
  store: string;
  logger: Logger;
  /** Resolves when the node answers (a PING), bounded by the store timeout. */
  probe: () => Promise<unknown>;
  /** Called when the circuit closes again (the store re-reads what it missed meanwhile). */
  onRecovered?: () => void;
}

export class Circuit {
  state: CircuitState = 'closed';
  /** Calls failed while this outage lasts (reported when it ends). */
  private failures = 0;
  /** Timeouts since the node last answered. */
  private timeoutsInARow = 0;
  private probeDelay = CIRCUIT_PROBE_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The connection came back while a probe was under way: probe again at once if it fails. */
  private probeAgain = false;
  private refusalLoggedAt = -Infinity;

  constructor(private readonly options: CircuitOptions) {}

  get node(): string {
    return this.options.node;
  }

  /** Whether calls may go to the node now (closed); otherwise they fail at once. */
  get allows(): boolean {
    return this.state === 'closed';
  }

  /** A command on this node was answered. */
  answered(): void {
    this.timeoutsInARow = 0;
  }

  /**
   * The node answered a command with an error reply (OOM under maxmemory, READONLY, MISCONF, a
   * script error): it is there, so the circuit stays as it is (opening it would bypass the reads
   * it still serves, then close on the next PING, and flap); logged at most once a minute.
   */
  refused(operation: string, error: unknown): void {
    this.timeoutsInARow = 0;
    const now = Date.now();
    if (now - this.refusalLoggedAt < CIRCUIT_REFUSAL_LOG_MS) return;
    this.refusalLoggedAt = now;
    this.options.logger.warn({ store: this.options.store, node: this.options.node, operation, err: errorMessage(error) },
      'cache store refused a command; the request was served from the integration');
  }

  /** A call on this node failed or timed out: open (logged once per outage). */
  failed(operation: string, error: unknown, timedOut = false): void {
    this.failures++;
    if (this.state !== 'closed' || this.stopped) return;
    if (timedOut && ++this.timeoutsInARow < CIRCUIT_TIMEOUTS_TO_OPEN) return;
    this.timeoutsInARow = 0;
    this.state = 'open';
    this.probeDelay = CIRCUIT_PROBE_MIN_MS;
    this.options.logger.warn({ store: this.options.store, node: this.options.node, operation, err: errorMessage(error) },
      'cache store unavailable; serving from the integrations until it returns');
    this.scheduleProbe();
  }

  /** The connection reports it is ready again: probe at once rather than at the next interval. */
  probeSoon(): void {
    if (this.state === 'half-open') this.probeAgain = true;
    if (this.state !== 'open' || this.stopped) return;
    clearTimeout(this.timer);
    this.probeDelay = CIRCUIT_PROBE_MIN_MS;
    this.timer = setTimeout(() => this.runProbe(), 0);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private scheduleProbe(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runProbe(), this.probeDelay);
    this.timer.unref();
    this.probeDelay = Math.min(Math.max(this.probeDelay * 2, CIRCUIT_PROBE_MIN_MS), CIRCUIT_PROBE_MAX_MS);
  }

  private runProbe(): void {
    if (this.stopped || this.state !== 'open') return;
    this.state = 'half-open';
    this.probeAgain = false;
    this.options.probe().then(
      () => {
        if (this.stopped || this.state !== 'half-open') return;
        this.state = 'closed';
        this.options.logger.info({ store: this.options.store, node: this.options.node, failedCalls: this.failures }, 'cache store available again');
        this.failures = 0;
        this.options.onRecovered?.();
      },
      () => {
        if (this.stopped || this.state !== 'half-open') return;
        this.state = 'open';
        if (this.probeAgain) this.probeDelay = 0;
        this.probeAgain = false;
        this.scheduleProbe();
      },
    );
  }
}

/** The Redis Cluster hash slot of a key (Redis Cluster spec: CRC16-XMODEM of the hash tag or key, mod 16384). */
export function keySlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    // Cluster spec: only a non-empty {…} is a hash tag.
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (const byte of Buffer.from(key.slice(start, end), 'utf8')) crc = ((crc << 8) & 0xff00) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

/** CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), one entry per byte value. */
const CRC16_TABLE: readonly number[] = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});
