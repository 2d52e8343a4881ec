/**
 * A gateway with one cached API in front of a counting backend, and (for the e2e suite) a real
 * Chromium driven by playwright-core. Chromium is Debian's `/usr/bin/chromium` (installed by
 * .ci/run); where it is missing the browser suite skips with that reason, except in CI.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type BackendHandler, type CountingBackend } from '../helpers/backend.js';
import { call } from '../helpers/http.js';
import { startGateway } from '../helpers/gateway.js';

export const API_KEY = 'console-e2e-admin-key';
export const CHROMIUM = '/usr/bin/chromium';

export interface ConsoleHarness {
  gateway: Gateway;
  backend: CountingBackend;
  /** GET on the data plane; returns status, Cache-Status and the backend's call number. */
  get(path: string): Promise<{ status: number; cacheStatus: string; call: number | undefined }>;
  close(): Promise<void>;
}

/**
 * The echo backend, tagging what it answers like a CDN-aware origin: `Surrogate-Key: pets pet-7`
 * for /pets/7 and `pets` for /pets, so the console can purge by tag.
 */
export const taggingHandler: BackendHandler = (req, res, _body, call) => {
  const text = JSON.stringify({ path: req.url, call });
  const id = /^\/pets\/([^/?]+)/.exec(req.url ?? '')?.[1];
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'surrogate-key': id ? `pets pet-${id}` : 'pets' });
  res.end(text);
};

export async function startConsoleHarness(): Promise<ConsoleHarness> {
  const backend = await startBackend(taggingHandler);
  const gateway = await startGateway({
    identities: [
      { name: 'console-admin', apiKey: API_KEY, policy: [{ effect: 'Allow', action: ['apigateway:*', 'execute-api:*'], resource: '*' }] },
      { name: 'reader', apiKey: 'reader-key', policy: [{ effect: 'Allow', action: ['apigateway:GET'], resource: '*' }] },
    ],
    apis: [
      {
        id: 'petstore',
        name: 'PetStore',
        resources: {
          '/pets': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets` } } },
          '/pets/{petId}': { GET: { integration: { type: 'HTTP_PROXY', uri: `${backend.url}/pets/{petId}` } } },
        },
        stages: {
          prod: {
            cacheClusterEnabled: true,
            cacheClusterSize: '0.5',
            methodSettings: { '*/*': { cachingEnabled: true, cacheTtlInSeconds: 300 } },
          },
          dev: { cacheClusterEnabled: false },
        },
      },
    ],
  });
  return {
    gateway,
    backend,
    async get(path) {
      const answer = await call(`${gateway.dataUrl}${path}`);
      let backendCall: number | undefined;
      try {
        backendCall = answer.json().call;
      } catch {
        backendCall = undefined;
      }
      return { status: answer.status, cacheStatus: String(answer.headers['cache-status'] ?? ''), call: backendCall };
    },
    async close() {
      await gateway.close();
      await backend.close();
    },
  };
}

/** Why the browser suite cannot run here, or undefined when it can. In CI a missing browser is a failure, not a skip. */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `${CHROMIUM} not found (Debian package "chromium"; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`console e2e cannot run in CI: ${reason}`);
  return reason;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Polls until `check` returns a truthy value (returned) or throws its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, what: string, timeoutMs = 8000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
