/**
 * Structured logs with pino, to stdout: one JSON line per event (`--log-format json`, the
 * default, for log shippers), or one readable line per event (`--log-format pretty`, for a
 * terminal), e.g. `12:00:01.234 INFO  request method=GET path=/prod/pets/1 status=200 cache=hit`.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function createLogger(level: LevelWithSilent = 'info', format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'cachegate' }, timestamp: pino.stdTimeFunctions.isoTime };
  return format === 'pretty' ? pino(options, prettyDestination(process.stdout)) : pino(options);
}

/** A logger that writes nothing, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
// Fields every line has, or that the line shows elsewhere.
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'err']);

/**
 * Writes each pino JSON line as `time LEVEL message key=value …`, coloured on a terminal. Our own
 * few lines instead of pino-pretty: no worker thread, no extra dependency.
 */
export function prettyDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): DestinationStream {
  const colour = out.isTTY === true && !process.env.NO_COLOR;
  return {
    write(line: string) {
      out.write(formatPrettyLine(line, colour));
    },
  };
}

export function formatPrettyLine(line: string, colour = false): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const level = Number(event.level);
  const time = typeof event.time === 'string' ? event.time.slice(11, 23) : new Date(Number(event.time)).toISOString().slice(11, 23);
  const fields = Object.entries(event)
    .filter(([name, value]) => !HIDDEN_FIELDS.has(name) && value !== undefined)
    .map(([name, value]) => `${paint('90', `${name}=`)}${typeof value === 'string' && !/[\s"=]/.test(value) ? value : JSON.stringify(value)}`);
  let text = `${paint('90', time)} ${paint(LEVEL_COLOURS[level] ?? '0', (LEVEL_NAMES[level] ?? String(event.level)).padEnd(5))} ${String(event.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
  const err = event.err as { message?: string; stack?: string } | string | undefined;
  if (typeof err === 'string') text += `  ${paint('31', err)}\n`;
  else if (err) text += `  ${paint('31', err.stack ?? err.message ?? JSON.stringify(err))}\n`.replace(/\n(?=.)/g, '\n  ');
  return text;
}
