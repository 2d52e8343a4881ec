/** The bytes every benchmark server answers for a path: 1 KB of JSON naming it, 64 KB under /big/. */
export function benchBody(path: string): Buffer {
  const size = path.startsWith('/big/') ? 64 * 1024 : 1024;
  const head = JSON.stringify({ path, pad: '' });
  return Buffer.from(head.replace('"pad":""', `"pad":"${'x'.repeat(size - head.length)}"`));
}
