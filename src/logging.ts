/** Structured logs with pino: one JSON line per event, to stdout. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino({ level, base: { service: 'cachegate' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that writes nothing, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
