// The status page in headless Chromium: where each service is running, as a person reads the grid.
//
// Run through run.sh, which starts the servers and sets:
//   STATUS_URL  `spektate dashboard` over the Fabrikam store after its last step, plus a newer
//               frontend image sent to dev (its approval PR open) and a live service, ring and
//               cluster whose names are markup
//   CHROMIUM, BROWSER_PROFILE, SCREENSHOT_DIR
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

const shots = env('SCREENSHOT_DIR');
const EVIL_CLUSTER = '<script>alert(1)</script>';
const EVIL_SERVICE = '<img src=x onerror=alert(1)>';
let context;

before(async () => {
  mkdirSync(shots, { recursive: true });
  context = await chromium.launchPersistentContext(`${env('BROWSER_PROFILE')}-status`, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1400, height: 700 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
  });
});

after(async () => {
  await context?.close();
});

// Opens a page and collects what must not happen: script errors, dialogs (an injected
// alert()), CSP violations, requests anywhere but the server.
async function open(url) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') problems.push(`request outside the server: ${r.url()}`);
  });
  await page.goto(url);
  return { page, problems };
}

// The grid as a person reads it: the column heads, and per row its service, ring and cells.
function gridOf(page) {
  return page.evaluate(() => {
    const text = (node, sel) => (node.querySelector(sel)?.textContent ?? '').trim();
    const heads = [...document.querySelectorAll('#grid-head th')].map((th) => th.textContent.trim());
    const rows = [...document.querySelectorAll('#grid-rows tr')].map((tr) => ({
      service: text(tr, 'th'),
      ring: text(tr, '.ring'),
      cells: Object.fromEntries([...tr.querySelectorAll('td[data-cluster]')].map((td) => [td.dataset.cluster, {
        tag: text(td, '.tag'),
        commit: text(td, '.commit'),
        since: text(td, '.since'),
        behind: text(td, '.behind'),
        lagging: td.classList.contains('lagging'),
        text: td.textContent.trim(),
      }])),
    }));
    return { heads, rows };
  });
}

function waitForGridRows(page, count) {
  return page.waitForFunction((n) => document.querySelectorAll('#grid-rows tr').length === n, count, { timeout: 20000 });
}

test('the main page links to the status page, whose grid says where each service runs', async () => {
  const { page, problems } = await open(env('STATUS_URL'));
  const link = page.getByTestId('status-link');
  assert.equal((await link.textContent()).trim(), 'Where each service runs');
  await page.waitForFunction(() => document.getElementById('status-link').search === '?partition=fabrikam');
  assert.equal(await page.evaluate(() => document.getElementById('insights-link').search), '?partition=fabrikam', 'the insights link keeps the partition too');
  await link.click();
  await page.waitForURL(/\/status\.html\?partition=fabrikam$/);
  await waitForGridRows(page, 3);
  const { heads, rows } = await gridOf(page);
  assert.deepEqual(heads, ['Service', 'Ring', EVIL_CLUSTER, 'central-us', 'east-us', 'west-eu'], 'one column per cluster, names as text');
  assert.deepEqual(rows.map((r) => [r.service, r.ring]), [
    [EVIL_SERVICE, '<b>ring</b>'],
    ['backend', 'securitybugfix'],
    ['frontend', 'dev'],
  ]);

  const [evil, backend, frontend] = rows;
  assert.equal(backend.cells['east-us'].tag, 'backend-2001');
  assert.equal(backend.cells['east-us'].commit, '2c3d4e5', 'east-us runs its own manifest commit');
  assert.match(backend.cells['east-us'].since, /^since (just now|\d+ (second|minute)s? ago)$/);
  assert.equal(backend.cells['east-us'].behind, 'up to date');

  const east = frontend.cells['east-us'];
  assert.equal(east.tag, 'frontend-1001', 'still live in east-us after the backend synced');
  assert.equal(east.commit, '2c3d4e5 (later)');
  assert.match(east.since, /or earlier$/);
  assert.match(east.behind, /^1 behind: frontend-1002, built (just now|\d+ (second|minute)s? ago)$/);
  assert.ok(east.lagging);
  // Flux v2 in west-eu failed on the backend's commit and still runs the dev manifests;
  // Argo CD in central-us synced the backend's.
  assert.equal(frontend.cells['west-eu'].commit, 'e9f8a7b');
  assert.equal(frontend.cells['west-eu'].tag, 'frontend-1001');
  assert.equal(backend.cells['west-eu'].text, '–', 'never applied in west-eu');
  assert.equal(backend.cells['central-us'].commit, '2c3d4e5');
  assert.equal(frontend.cells['central-us'].commit, '2c3d4e5 (later)');

  assert.equal(evil.cells[EVIL_CLUSTER].tag, 'evil-667');
  assert.equal(evil.cells['east-us'].text, '–', 'not live in east-us');
  assert.equal(await page.evaluate(() => document.querySelectorAll('#grid img, #grid script, #grid b').length), 0, 'markup stays text');

  assert.match(await page.textContent('#last-updated'), /^Last updated at .+ \(.+\)$/);
  assert.equal((await page.textContent('#partition')).trim(), 'fabrikam');
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(shots, 'dashboard-status.png'), fullPage: true, animations: 'disabled' });
  await page.close();
});

test('filters narrow the grid, stay in the URL and carry over to the deployments page', async () => {
  const { page, problems } = await open(`${env('STATUS_URL')}status.html?cluster=east-us`);
  await waitForGridRows(page, 2);
  assert.deepEqual((await gridOf(page)).heads, ['Service', 'Ring', 'east-us']);

  await page.fill('input[name=service]', 'frontend');
  await waitForGridRows(page, 1);
  await page.waitForURL(/service=frontend/);
  const { rows } = await gridOf(page);
  assert.deepEqual(rows.map((r) => r.service), ['frontend']);
  assert.equal(rows[0].cells['east-us'].tag, 'frontend-1001');
  assert.equal(await page.getByTestId('deployments-link').getAttribute('href'), 'index.html?service=frontend');

  await page.fill('input[name=service]', 'payments');
  await page.waitForFunction(() => !document.getElementById('empty').hidden);
  assert.equal((await page.textContent('#empty-text')).trim(), 'Nothing live matches these filters.');
  await page.click('#clear');
  await waitForGridRows(page, 3);
  assert.equal(new URL(page.url()).search, '');
  assert.deepEqual(problems, []);
  await page.close();
});

test('an image tag in the URL narrows the grid and stays in the URL; env and image-tag are read as ring and imageTag', async () => {
  const { page, problems } = await open(`${env('STATUS_URL')}status.html?imageTag=evil-667`);
  await waitForGridRows(page, 1);
  assert.deepEqual((await gridOf(page)).rows.map((r) => r.service), [EVIL_SERVICE]);
  assert.equal(await page.inputValue('input[name=imageTag]'), 'evil-667');
  assert.equal(new URL(page.url()).search, '?imageTag=evil-667', 'kept in the URL');

  await page.fill('input[name=imageTag]', 'backend-2001');
  await page.waitForURL(/\?imageTag=backend-2001$/);
  await page.waitForFunction(() => [...document.querySelectorAll('#grid-rows th')].map((th) => th.textContent).join() === 'backend');
  await page.click('#clear');
  await waitForGridRows(page, 3);
  assert.equal(new URL(page.url()).search, '');
  await page.close();

  const other = await open(`${env('STATUS_URL')}status.html?image-tag=frontend-1001&env=dev`);
  await other.page.waitForURL(/\?ring=dev&imageTag=frontend-1001$/);
  await waitForGridRows(other.page, 1);
  assert.deepEqual((await gridOf(other.page)).rows.map((r) => [r.service, r.ring]), [['frontend', 'dev']]);
  assert.equal(await other.page.inputValue('input[name=ring]'), 'dev');
  assert.equal(await other.page.inputValue('input[name=imageTag]'), 'frontend-1001');
  assert.deepEqual([...problems, ...other.problems], []);
  await other.page.close();
});
