// `spektate serve --auth header` in headless Chromium: behind an authenticating proxy (such as
// oauth2-proxy), the proxy adds the viewer's name as a header to every request. Playwright
// cannot put a proxy in front, so the browser context sends that header itself.
//
// Run through run.sh, which starts the server and sets:
//   SERVE_URL   `spektate serve --auth header` over the Fabrikam store
//   CHROMIUM, SCREENSHOT_DIR
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const url = env('SERVE_URL');
const shots = env('SCREENSHOT_DIR');
let browser;

before(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

// A context whose every request carries `headers`, as the proxy's would; and what went
// wrong on its pages (script errors, requests anywhere but the server).
async function contextWith(headers) {
  const context = await browser.newContext({
    extraHTTPHeaders: headers,
    viewport: { width: 1680, height: 860 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const problems = [];
  const answers = [];
  context.on('page', (page) => {
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') problems.push(`request outside the server: ${r.url()}`);
    });
    page.on('response', (r) => answers.push({ path: new URL(r.url()).pathname, status: r.status() }));
  });
  return { context, problems, answers };
}

test('with the proxy header the page shows the deployments and who is signed in', async () => {
  const { context, problems, answers } = await contextWith({ 'X-Forwarded-Email': 'mona@fabrikam.com' });
  try {
    const page = await context.newPage();
    const response = await page.goto(url);
    assert.equal(response.status(), 200);
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length > 0, null, { timeout: 20000 });
    await page.waitForFunction(() => document.querySelector('#viewer')?.textContent !== '', null, { timeout: 10000 });
    assert.equal((await page.textContent('#viewer')).trim(), 'Signed in as mona@fabrikam.com');

    // The page's own requests carried the header: the API answered it, with the same rows
    // (the page hides manual HLD edits by default).
    const api = await page.evaluate(async () => {
      const r = await fetch('/api/deployments?type=deployment');
      return { status: r.status, body: await r.json() };
    });
    assert.equal(api.status, 200);
    assert.equal(api.body.viewer, 'mona@fabrikam.com');
    const rows = await page.evaluate(() => document.querySelectorAll('#rows tr').length);
    assert.equal(rows, api.body.deployments.length);
    assert.ok(rows >= 3, `only ${rows} rows`);
    const refused = answers.filter((a) => a.status === 401 || a.status === 403);
    assert.deepEqual(refused, [], 'a request of the signed-in page was refused');
    assert.deepEqual(problems, []);
    await page.screenshot({ path: path.join(shots, 'dashboard-signed-in.png') });
  } finally {
    await context.close();
  }
});

test('without the proxy header the page and its data are refused', async () => {
  for (const headers of [{}, { 'X-Forwarded-Email': '   ' }, { 'X-Forwarded-Groups': 'admins' }]) {
    const what = JSON.stringify(headers);
    const { context, problems } = await contextWith(headers);
    try {
      const page = await context.newPage();
      const response = await page.goto(url);
      assert.equal(response.status(), 401, what);
      const body = JSON.parse(await response.text());
      assert.match(body.error, /sign in through the proxy/, what);
      assert.equal(await page.$('#rows'), null, `${what}: the dashboard was served`);
      assert.equal(await page.$('#viewer'), null, what);
      const api = await page.evaluate(async () => (await fetch('/api/deployments')).status);
      assert.equal(api, 401, `${what}: the data was served`);
      const script = await page.evaluate(async () => (await fetch('/assets/app.js')).status);
      assert.equal(script, 401, `${what}: the page's script was served`);
      // Probes stay open for the platform, and say nothing about the deployments.
      const health = await page.evaluate(async () => {
        const r = await fetch('/api/health');
        return { status: r.status, body: await r.json() };
      });
      assert.deepEqual(Object.keys(health.body).sort(), ['status', 'version'], what);
      assert.deepEqual(problems, [], what);
    } finally {
      await context.close();
    }
  }
});
