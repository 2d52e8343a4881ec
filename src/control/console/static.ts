/**
 * The web console's static files, served by the admin listener without authentication: the page
 * holds no data, it logs in with an API key and then calls the authenticated control plane.
 *
 * Only a fixed set of files is reachable (no path from the URL ever reaches the file system), read
 * once and kept in memory. Plain ES modules and CSS, no build step; uPlot comes from its npm
 * package, never a CDN.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

// Everything the page loads comes from this listener; the console talks only to it.
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** URL path → file, relative to the assets folder or (`vendor:`) resolved in node_modules. */
const FILES: Record<string, string> = {
  '/console': 'index.html',
  '/console/': 'index.html',
  '/console/assets/app.js': 'app.js',
  '/console/assets/api.js': 'api.js',
  '/console/assets/charts.js': 'charts.js',
  '/console/assets/dom.js': 'dom.js',
  '/console/assets/format.js': 'format.js',
  '/console/assets/stage-page.js': 'stage-page.js',
  '/console/assets/stages-page.js': 'stages-page.js',
  '/console/assets/style.css': 'style.css',
  '/console/assets/favicon.svg': 'favicon.svg',
  '/console/vendor/uPlot.iife.min.js': 'vendor:uplot/dist/uPlot.iife.min.js',
  '/console/vendor/uPlot.min.css': 'vendor:uplot/dist/uPlot.min.css',
};

const loaded = new Map<string, Promise<Buffer>>();

/**
 * Answers `GET`/`HEAD` of a console file and returns true; returns false for anything else
 * (including `/console/api/…`, which is authenticated like the rest of the admin API).
 */
export async function serveConsoleAsset(req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const file = FILES[rawPath];
  if (file === undefined) return false;
  let content: Buffer;
  try {
    content = await read(file);
  } catch {
    loaded.delete(file);
    const text = `console asset ${file} is missing from this installation`;
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return true;
  }
  const extension = file.slice(file.lastIndexOf('.') + 1);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
    'content-length': content.length,
    // Revalidate every time: a gateway upgrade must never leave an old app.js next to a new API.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(extension === 'html' ? { 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-frame-options': 'DENY' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : content);
  return true;
}

function read(file: string): Promise<Buffer> {
  let pending = loaded.get(file);
  if (!pending) loaded.set(file, (pending = readFile(locate(file))));
  return pending;
}

function locate(file: string): string {
  if (file.startsWith('vendor:')) return createRequire(import.meta.url).resolve(file.slice('vendor:'.length));
  return fileURLToPath(new URL(file, assetsDir()));
}

let assets: URL | undefined;

/**
 * The assets folder: beside this module when run from source, else `src/control/console/assets`
 * of the package (tsc compiles to dist/ and does not copy non-TS files).
 */
function assetsDir(): URL {
  if (assets) return assets;
  const candidates = [new URL('./assets/', import.meta.url), new URL('../../../../src/control/console/assets/', import.meta.url)];
  assets = candidates.find((candidate) => existsSync(new URL('index.html', candidate))) ?? candidates[candidates.length - 1]!;
  return assets;
}
