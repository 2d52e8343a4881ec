import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router, decodePathSegments } from '../../src/gateway/router.js';

function table(paths: string[]): Router<string> {
  const router = new Router<string>();
  for (const path of paths) router.add(path, path);
  return router;
}

const route = (router: Router<string>, path: string) => {
  const segments = decodePathSegments(path);
  assert.ok(segments, `malformed ${path}`);
  const match = router.match(segments);
  return match && { resource: match.value, params: match.pathParameters };
};

describe('router', () => {
  const router = table(['/', '/pets', '/pets/{petId}', '/pets/mine', '/pets/{petId}/toys/{toyId}', '/files/{proxy+}', '/{proxy+}', '/a/{x}/c', '/a/b/{y}']);

  const cases: [string, string | undefined, Record<string, string>?][] = [
    ['/', '/', {}],
    ['', '/', {}],
    ['/pets', '/pets', {}],
    ['/pets/', '/pets', {}],
    ['/pets/42', '/pets/{petId}', { petId: '42' }],
    ['/pets/mine', '/pets/mine', {}], // a literal beats a parameter
    ['/pets/7/toys/ball', '/pets/{petId}/toys/{toyId}', { petId: '7', toyId: 'ball' }],
    ['/files/a/b/c.txt', '/files/{proxy+}', { proxy: 'a/b/c.txt' }],
    ['/files', '/{proxy+}', { proxy: 'files' }], // greedy needs at least one segment of its own
    ['/anything/else', '/{proxy+}', { proxy: 'anything/else' }],
    ['/a/z/c', '/a/{x}/c', { x: 'z' }],
    ['/a/b/c', '/a/b/{y}', { y: 'c' }], // backtracking keeps both reachable
    ['/a/q/c', '/a/{x}/c', { x: 'q' }],
    ['/pets/a%20b', '/pets/{petId}', { petId: 'a b' }], // parameters are decoded
    ['/pets/a%2Fb', '/pets/{petId}', { petId: 'a/b' }], // an encoded slash stays inside its segment
  ];
  for (const [path, resource, params] of cases) {
    it(`${path || '(empty)'} → ${resource}`, () => {
      assert.deepEqual(route(router, path), resource && { resource, params });
    });
  }

  it('does not match an empty parameter segment', () => {
    const strict = table(['/pets/{petId}']);
    assert.equal(route(strict, '/pets//'), undefined);
    assert.equal(route(strict, '/pets/1/extra'), undefined);
    assert.equal(route(strict, '/cats/1'), undefined);
  });

  it('rejects malformed percent-encoding', () => {
    assert.equal(decodePathSegments('/pets/%E0%A4%A'), undefined);
    assert.equal(decodePathSegments('/pets/%FF'), undefined);
  });
});
