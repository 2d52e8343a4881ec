/**
 * Request ids in AWS's UUID shape, made from a random per-process prefix and a counter: unique
 * within a process and across restarts, without a random draw per request (crypto.randomUUID
 * showed in the hit-path profile).
 */
import { randomBytes } from 'node:crypto';

const prefix = randomBytes(10).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})$/, '$1-$2-$3-$4-');
let counter = 0;

export function nextRequestId(): string {
  counter = (counter + 1) % 0xffffffffffff;
  return prefix + counter.toString(16).padStart(12, '0');
}
