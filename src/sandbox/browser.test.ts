// The sandbox in a real browser, end to end: `serve` with no credentials (a child process, like
// `npm start`), driven in headless Chromium (Debian's `chromium` package through playwright-core;
// no browser download). It installs through the real browser redirect (emulator → our /setup →
// back to the emulator), creates an issue with a non-ASCII title and sees it on the Pushover phone,
// advances Sentry's clock 8 hours and sees the token refresh on the wire, uninstalls and sees no
// further notification. A screenshot of each step goes to artifacts/sandbox/.
//
// Skips, saying why, only when no Chromium is installed (set CHROMIUM_PATH to use another binary).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../testing/runtime.ts';
import { startServe, type ServeChild } from './testing.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../artifacts/sandbox/', import.meta.url));
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH`;
// Non-ASCII that Debian's default fonts render (the screenshots are the README's), astral plane included.
const FIRST = 'Ошибка: Zürich ☕ — Ελλάδα 😀';
const SECOND = 'TypeError: ñandú is undefined ⚠ 𝔸';
const AFTER_UNINSTALL = 'Après la désinstallation';

type Page = import('playwright-core').Page;
type Browser = import('playwright-core').Browser;

describe('sandbox in a real browser', { skip }, () => {
  let dir: { path: string; remove(): Promise<void> };
  let child: ServeChild;
  let browser: Browser | undefined;
  before(async () => {
    dir = await tempDir('sik-browser-');
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    if (child) {
      child.stop();
      await child.exited;
    }
    await dir.remove();
  });

  it('install → issue → phone → 8-hour refresh → uninstall, every step visible', { timeout: 180_000 }, async () => {
    child = startServe({ PORT: '0', DATA_DIR: `${dir.path}/data` });
    const ready = await child.ready;
    const serverUrl = String(ready.url);
    const open = String(ready.open);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(30_000);
    const visited: string[] = [];
    page.on('request', (request) => { if (request.isNavigationRequest()) visited.push(request.url()); });
    const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png` });

    // 1. The Integrations page: the app, not installed yet.
    await page.goto(open);
    await loaded(page);
    assert.equal(await page.textContent('#app-status'), 'not installed');
    await shot('1-integrations');

    // 2. Install: the browser goes to our /setup (with the grant code) and comes back installed.
    await page.click('#install');
    await page.waitForURL(/\/settings\/acme\/sentry-apps\/pushover-notifier\/$/);
    assert.ok(visited.some((u) => u.startsWith(`${serverUrl}/setup?`) && u.includes('code=') && u.includes('orgSlug=acme')), visited.join('\n'));
    await loaded(page);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'installed');
    await timelineShows(page, 'Token exchange');
    await timelineShows(page, 'Verify install');
    await shot('2-installed');

    // 3. A new issue with a non-ASCII title reaches the phone.
    await page.fill('#issue-title', FIRST);
    await page.click('#create-issue');
    await phoneShows(page, 1);
    assert.ok((await page.textContent('#phone .notification'))!.includes(FIRST));
    await timelineShows(page, 'Webhook issue.created');
    await timelineShows(page, 'Pushover: send a notification');
    assert.equal(await countTimeline(page, 'Token refresh'), 0);
    await shot('3-notification');

    // 4. Sentry's clock moves 8 hours: the token has expired.
    await page.click('#advance-clock');
    await page.waitForFunction(() => document.querySelector('#clock')?.textContent?.includes('+ 8 h'));
    await shot('4-clock');

    // 5. The next issue needs a refreshed token first; it reaches the phone too.
    await page.fill('#issue-title', SECOND);
    await page.click('#create-issue');
    await phoneShows(page, 2);
    assert.ok((await page.textContent('#phone .notification'))!.includes(SECOND), 'newest first');
    await timelineShows(page, 'Token refresh');
    await shot('5-refresh');

    // 6. Uninstall; an issue created afterwards sends nothing and the phone stays at two.
    await page.click('#uninstall');
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'uninstalled');
    await timelineShows(page, 'Webhook installation.deleted');
    await page.fill('#issue-title', AFTER_UNINSTALL);
    await page.click('#create-issue');
    await page.waitForFunction(() => document.querySelector('#action-result')?.textContent?.includes('no webhook'));
    await timelineShows(page, AFTER_UNINSTALL);
    const feed = await (await fetch(new URL('/_ui/feed', open))).json() as { phone: unknown[]; timeline: { title: string }[] };
    assert.equal(feed.phone.length, 2);
    const titles = feed.timeline.map((e) => e.title);
    const deleted = titles.indexOf('Webhook installation.deleted');
    assert.ok(deleted > 0);
    assert.deepEqual(titles.slice(deleted).filter((t) => t.startsWith('Webhook') || t.startsWith('Pushover')), ['Webhook installation.deleted']);
    assert.equal(await page.locator('#phone .notification').count(), 2);
    await shot('6-uninstalled');
    // The whole flow on one screen (docs/sandbox.png is a copy of this one).
    await page.setViewportSize({ width: 1440, height: 1360 });
    await shot('7-full-flow');

    // Nothing on the pages is a secret: the grant code and tokens appear only as fingerprints.
    const html = await page.content();
    assert.doesNotMatch(html, /"code":\s*"[0-9a-f]{32}/);
    assert.match(html, /«redacted #[0-9a-f]{6}»/);
  });
});

async function loaded(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.loaded === 'true');
}

async function phoneShows(page: Page, count: number): Promise<void> {
  await page.waitForFunction((n) => document.querySelectorAll('#phone .notification').length >= n, count);
  assert.equal(await page.locator('#phone .notification').count(), count);
}

async function timelineShows(page: Page, text: string): Promise<void> {
  await page.waitForFunction((t) => [...document.querySelectorAll('#timeline .e-title')].some((e) => e.textContent?.includes(t)), text);
}

function countTimeline(page: Page, text: string): Promise<number> {
  return page.evaluate((t) => [...document.querySelectorAll('#timeline .e-title')].filter((e) => e.textContent?.includes(t)).length, text);
}
