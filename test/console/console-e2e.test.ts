/**
 * The web console end to end, in real Chromium: sign in with an API key, read APIs and stages,
 * watch the hit counter move, change a TTL and see it on traffic (the counting backend is the
 * truth of hit vs miss), see a bad value's API error inline, add a per-method override, enable a
 * stage cache, flush with confirmation so the next request misses, and purge by tag and by path
 * prefix (only the matching entry misses; a bad prefix's API error shows inline).
 *
 * CACHEGATE_SCREENSHOTS=1 also writes the README's screenshots to docs/img/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { API_KEY, browserSkipReason, eventually, launchChromium, startConsoleHarness, type ConsoleHarness } from './harness.js';

const skip = browserSkipReason();
const SCREENSHOTS = process.env.CACHEGATE_SCREENSHOTS === '1' ? 'docs/img' : undefined;

describe('web console in Chromium', { skip }, () => {
  let h: ConsoleHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    h = await startConsoleHarness();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) pageErrors.push(message.text());
    });
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  const text = (testId: string) => page.getByTestId(testId).first().innerText();
  const screenshot = async (name: string) => {
    if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
  };
  const openStage = async (stage: string) => {
    await page.goto(`${h.gateway.adminUrl}/console#/restapis/petstore/stages/${stage}`);
    await page.getByTestId('default-ttl').waitFor();
  };
  /** Two GETs of one path: the backend's call count says whether the second was served from the cache. */
  const twice = async (path: string) => {
    const callsBefore = h.backend.calls;
    const first = await h.get(path);
    const second = await h.get(path);
    return { first, second, backendCalls: h.backend.calls - callsBefore };
  };
  const ttlOf = (cacheStatus: string) => Number(/; ttl=(-?\d+)/.exec(cacheStatus)?.[1]);

  it('refuses a wrong API key inline, then signs in and lists APIs → stages with cache status, size, entries, bytes and hit ratio', async () => {
    await page.goto(`${h.gateway.adminUrl}/console`);
    await screenshot('console-login');
    await page.getByTestId('api-key').fill('not-a-key');
    await page.getByTestId('sign-in').click();
    const refusal = await page.getByTestId('login-error').innerText();
    assert.match(refusal, /ForbiddenException/);

    // One miss then one hit on prod before looking.
    const { backendCalls } = await twice('/prod/pets/1');
    assert.equal(backendCalls, 1);

    await page.getByTestId('api-key').fill(API_KEY);
    await page.getByTestId('sign-in').click();
    const prod = page.getByTestId('stage-row-petstore-prod');
    await prod.waitFor();
    assert.equal(await prod.getByTestId('cache-status').innerText(), 'AVAILABLE');
    assert.equal(await prod.getByTestId('size').innerText(), '0.5 GiB');
    assert.equal(await page.getByTestId('stage-row-petstore-dev').getByTestId('cache-status').innerText(), 'NOT_AVAILABLE');
    await eventually(async () => (await prod.getByTestId('entries').innerText()) === '1', 'one entry listed');
    assert.equal(await prod.getByTestId('hit-ratio').innerText(), '50.0 %');
    assert.match(await prod.getByTestId('bytes').innerText(), /[\d.]+ (B|KiB) \/ 512 MiB/); // one entry: its body and ~2 KB of bookkeeping (entry.ts)
    assert.equal(await page.evaluate(() => sessionStorage.getItem('cachegate.apiKey')), API_KEY);
    await screenshot('console-stages');
  });

  it('shows the hit counter moving with traffic, and draws the live charts', async () => {
    await page.getByTestId('stage-row-petstore-prod').getByTestId('stage-link').click();
    await page.getByTestId('default-ttl').waitFor();
    const hits = Number(await eventually(async () => (await text('stat-hits')).replace(/\D/g, ''), 'hit counter'));
    for (let i = 0; i < 3; i++) assert.match((await h.get('/prod/pets/1')).cacheStatus, /hit/);
    await eventually(async () => Number((await text('stat-hits')).replace(/\D/g, '')) === hits + 3, `hits to reach ${hits + 3}`);
    assert.equal(await page.locator('.uplot').count(), 3, 'three uPlot charts');
  });

  it('changes the default TTL in the form and the traffic follows (0 = not cached, then 120 s)', async () => {
    await page.getByTestId('default-ttl').fill('0');
    await page.getByTestId('save-settings').click();
    assert.match(await page.getByTestId('save-ok').innerText(), /ttlInSeconds = 0/);
    const uncached = await twice('/prod/pets/9');
    assert.equal(uncached.backendCalls, 2, 'TTL 0: both requests reach the backend');

    await page.getByTestId('default-ttl').fill('120');
    await page.getByTestId('save-settings').click();
    await page.getByTestId('save-ok').waitFor();
    const cached = await twice('/prod/pets/10');
    assert.equal(cached.backendCalls, 1, 'TTL 120: the second request is a hit');
    const ttl = ttlOf(cached.second.cacheStatus);
    assert.ok(ttl > 110 && ttl <= 120, `Cache-Status ttl ${ttl} from the new TTL: ${cached.second.cacheStatus}`);
  });

  it('shows the API error inline for a bad TTL (4000) and keeps the old value', async () => {
    await page.getByTestId('default-ttl').fill('4000');
    await page.getByTestId('save-settings').click();
    const error = await page.getByTestId('api-error').innerText();
    assert.match(error, /BadRequestException/);
    assert.match(error, /4000/);
    await screenshot('console-error');
    const stage = await (await fetch(`${h.gateway.adminUrl}/restapis/petstore/stages/prod`, { headers: { 'x-api-key': API_KEY } })).json() as { methodSettings: Record<string, { cacheTtlInSeconds: number }> };
    assert.equal(stage.methodSettings['*/*']!.cacheTtlInSeconds, 120);
  });

  it('adds a per-method override whose TTL wins for that method', async () => {
    await openStage('prod');
    await page.getByTestId('override-method').selectOption('pets/{petId}/GET');
    await page.getByTestId('override-ttl').fill('30');
    await page.getByTestId('add-override').click();
    await page.getByTestId('override-pets/{petId}/GET').waitFor();
    const { backendCalls, second } = await twice('/prod/pets/11');
    assert.equal(backendCalls, 1);
    const ttl = ttlOf(second.cacheStatus);
    assert.ok(ttl > 20 && ttl <= 30, `override TTL: ${second.cacheStatus}`);
    // /pets is not overridden: still the stage-wide 120 s.
    assert.ok(ttlOf((await twice('/prod/pets')).second.cacheStatus) > 110);
  });

  it('flushes only after confirmation; the next request misses', async () => {
    assert.match((await h.get('/prod/pets/1')).cacheStatus, /hit/);
    await page.getByTestId('flush').click();
    await page.getByTestId('flush-dialog').waitFor();
    await page.getByTestId('flush-cancel').click();
    assert.match(await page.getByTestId('flush-status').innerText(), /cancelled/);
    assert.match((await h.get('/prod/pets/1')).cacheStatus, /hit/, 'cancel keeps the cache');

    await page.getByTestId('flush').click();
    await page.getByTestId('flush-confirm').click();
    await page.getByTestId('flush-ok').waitFor();
    const calls = h.backend.calls;
    const next = await h.get('/prod/pets/1');
    assert.match(next.cacheStatus, /fwd=uri-miss/);
    assert.equal(h.backend.calls, calls + 1);
    await eventually(async () => (await text('stat-entries')) === '1', 'one entry after the flush and one miss');
  });

  /** Stores `paths` (one miss each), then checks they are all hits: the counting backend is the truth. */
  const store = async (...paths: string[]) => {
    for (const path of paths) {
      const { backendCalls } = await twice(path);
      assert.equal(backendCalls, 1, `${path} stored`);
    }
  };
  /** One GET: true when the backend was not called (a cache hit). */
  const served = async (path: string) => {
    const calls = h.backend.calls;
    await h.get(path);
    return h.backend.calls === calls;
  };
  const purge = async (kind: 'tag' | 'prefix', value: string) => {
    await page.getByTestId('purge-kind').selectOption(kind);
    await page.getByTestId('purge-value').fill(value);
    await page.getByTestId('purge').click();
    await page.getByTestId('purge-dialog').waitFor();
    await page.getByTestId('purge-confirm').click();
  };

  it('purges by tag only after confirmation: the tagged entry misses, the other still hits', async () => {
    await openStage('prod');
    await store('/prod/pets/21', '/prod/pets/22');

    await page.getByTestId('purge-kind').selectOption('tag');
    await page.getByTestId('purge-value').fill('pet-21');
    await page.getByTestId('purge').click();
    await page.getByTestId('purge-dialog').waitFor();
    assert.match(await page.getByTestId('purge-dialog').innerText(), /tagged pet-21/);
    await page.getByTestId('purge-cancel').click();
    assert.match(await page.getByTestId('purge-status').innerText(), /cancelled/);
    assert.ok(await served('/prod/pets/21'), 'cancel keeps the entry');

    await purge('tag', 'pet-21');
    assert.match(await page.getByTestId('purge-ok').innerText(), /^Purged 1 entry tagged pet-21/);
    assert.equal(await served('/prod/pets/21'), false, 'the purged entry misses');
    assert.ok(await served('/prod/pets/21'), '…and is stored again');
    assert.ok(await served('/prod/pets/22'), 'the other tag still hits');
  });

  it('purges by path prefix: the entry under it misses, the other still hits', async () => {
    await store('/prod/pets/31', '/prod/pets/32');
    await purge('prefix', '/pets/31');
    assert.match(await page.getByTestId('purge-ok').innerText(), /^Purged 1 entry under \/pets\/31/);
    assert.equal(await served('/prod/pets/31'), false, 'the purged entry misses');
    assert.ok(await served('/prod/pets/32'), 'the other path still hits');
  });

  it('shows the API error inline for an invalid prefix (no leading /) and purges nothing', async () => {
    await store('/prod/pets/41');
    await purge('prefix', 'pets');
    const error = await page.getByTestId('purge-error').innerText();
    assert.match(error, /^BadRequestException: Invalid prefix "pets"/);
    assert.equal(await page.getByTestId('purge-ok').count(), 0, 'the old success message is replaced');
    assert.ok(await served('/prod/pets/41'), 'nothing purged');
  });

  it('enables the cache of a stage that had none', async () => {
    const before = await twice('/dev/pets/1');
    assert.equal(before.backendCalls, 2, 'dev starts uncached');
    await openStage('dev');
    await page.getByTestId('cache-enabled').check();
    await page.getByTestId('save-settings').click();
    await page.getByTestId('save-ok').waitFor();
    assert.equal(await page.getByTestId('cache-status').innerText(), 'AVAILABLE');
    const after = await twice('/dev/pets/2');
    assert.equal(after.backendCalls, 1, 'dev now caches');
    assert.match(after.second.cacheStatus, /hit/);
  });

  it('ran without page errors', async () => {
    if (SCREENSHOTS) {
      await openStage('prod');
      for (let i = 0; i < 6; i++) {
        await Promise.all(Array.from({ length: 20 }, (_, n) => h.get(`/prod/pets/${n % 7}`)));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await screenshot('console-stage');
    }
    assert.deepEqual(pageErrors, []);
  });
});
