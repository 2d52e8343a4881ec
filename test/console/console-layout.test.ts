/**
 * The console's layout in real Chromium at a laptop (1280 px) and a phone (390 px) width: nothing
 * is clipped or scrolls the page sideways, every control of a per-method override is on screen,
 * and "Sign out" shows only once signed in. CACHEGATE_SCREENSHOTS=1 writes docs/img/console-*-{1280,390}.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { API_KEY, browserSkipReason, launchChromium, startConsoleHarness, type ConsoleHarness } from './harness.js';

const skip = browserSkipReason();
const SCREENSHOTS = process.env.CACHEGATE_SCREENSHOTS === '1' ? 'docs/img' : undefined;

/** Elements of `selector` whose box leaves the viewport horizontally, or the page itself when it scrolls sideways. */
async function clipped(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((css) => {
    const out: string[] = [];
    if (document.documentElement.scrollWidth > innerWidth) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${innerWidth}`);
    for (const element of document.querySelectorAll(css)) {
      const box = element.getBoundingClientRect();
      if (box.left < 0 || box.right > innerWidth) out.push(`${element.tagName} ${element.getAttribute('data-testid') ?? element.getAttribute('aria-label') ?? ''}: ${Math.round(box.left)}..${Math.round(box.right)} of ${innerWidth}`);
      let parent = element.parentElement;
      while (parent) {
        const style = getComputedStyle(parent);
        const outer = parent.getBoundingClientRect();
        if (style.overflowX !== 'visible' && (box.right > outer.right + 1 || box.left < outer.left - 1)) {
          out.push(`${element.tagName} ${element.getAttribute('data-testid') ?? ''} hidden by the overflow of ${parent.className}`);
          break;
        }
        parent = parent.parentElement;
      }
    }
    return out;
  }, selector);
}

describe('web console layout at 1280 and 390 px', { skip }, () => {
  let h: ConsoleHarness;
  let browser: Browser;

  before(async () => {
    h = await startConsoleHarness();
    browser = await launchChromium();
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  for (const width of [1280, 390]) {
    it(`at ${width} px: no Sign out before sign-in; the stage page and its override row fit`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      try {
        await page.goto(`${h.gateway.adminUrl}/console`);
        await page.getByTestId('api-key').waitFor();
        assert.equal(await page.locator('#logout').isVisible(), false, 'Sign out shows before sign-in');
        if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/console-login-${width}.png` });
        await page.getByTestId('api-key').fill(API_KEY);
        await page.getByTestId('sign-in').click();
        await page.getByTestId('stage-link').first().waitFor();
        assert.equal(await page.locator('#logout').isVisible(), true, 'Sign out shows once signed in');
        assert.deepEqual(await clipped(page, 'table, button'), []);

        await page.goto(`${h.gateway.adminUrl}/console#/restapis/petstore/stages/prod`);
        await page.getByTestId('default-ttl').waitFor();
        const key = await page.getByTestId('override-method').inputValue();
        if (await page.locator(`[data-testid="override-${key}"]`).count() === 0) {
          await page.getByTestId('add-override').click();
          await page.locator(`[data-testid="override-${key}"]`).waitFor();
        }
        const problems = await clipped(page, '.overrides input, .overrides select, .overrides button, .card button, .card select');
        assert.deepEqual(problems, []);
        assert.match(await page.getByTestId('cache-size').locator('option:checked').innerText(), /^0\.5 GiB$/, 'the size says the unit the budget is shown in');
        if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/console-stage-${width}.png`, fullPage: true });
      } finally {
        await page.close();
      }
    });
  }
});
