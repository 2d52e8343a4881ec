/**
 * Where Alibaba request nonces are remembered (SPEC §6, §7 "no per-request work grows with
 * history"). Alibaba: "X-Ca-Nonce … the same nonce may be used only once within 15 minutes";
 * a request's timestamp may itself be up to 15 minutes away from the server's clock, so a nonce
 * is kept until its own timestamp's window closes (timestamp + 15 min), never for a fixed time
 * from arrival (a +14 min timestamp would otherwise outlive its record and replay).
 *
 * Nonces are scoped by app: one app can never burn another's. Each app has a named bound
 * (`apps[].nonceLimit`); past it a request is refused, never admitted by forgetting a nonce.
 */
export type NonceVerdict = 'fresh' | 'replayed' | 'full';

export interface NonceStore {
  /** Records `nonce` for `appId` until `expiresAt` (epoch ms) unless it is on record already. */
  claim(appId: string, nonce: string, expiresAt: number, limit: number, now: number): NonceVerdict | Promise<NonceVerdict>;
  close?(): void;
}

/** Alibaba's replay window: timestamps within 15 minutes of the server, nonces unique within it. */
export const NONCE_WINDOW_MS = 15 * 60 * 1000;

/** Longest X-Ca-Nonce accepted (the SDKs send a 36-character UUID): bounds what a record holds. */
export const MAX_NONCE_LENGTH = 128;
