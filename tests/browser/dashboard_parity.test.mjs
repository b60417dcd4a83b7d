// What users of the original Spektate dashboard had, in headless Chromium: sorting by column,
// multi-select filters, manual HLD edits hidden until asked for, 50 rows and "show more", a
// cluster cell that says "and N more", a link to the stage a multi-stage run failed in, and
// the original URL parameters (keyword, service, author, env, type, limit, refresh).
//
// The data is a busy Azure DevOps Server project (dashboard-azdo.mjs): 54 journeys recorded
// with `spektate record`, their builds, timelines, commits and pull requests served by a fake
// of the Azure DevOps REST API, read by `spektate dashboard --org --project --azdo-url`.
//
// Run through run.sh, which sets SPEKTATE_BIN, CHROMIUM, BROWSER_PROFILE and SCREENSHOT_DIR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  AUTHORS, CLUSTERS, COLLECTION, COUNT, FAILED, FAILED_STAGE_ID, PROJECT, SPREAD, recordJourneys, startFakeAzureDevOps,
} from './dashboard-azdo.mjs';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const shots = env('SCREENSHOT_DIR');
let fake;
let work;
let dashboard;
let base;
let browser;

// Starts `spektate dashboard` and resolves to the URL it prints.
function startDashboard(spektate, store, azdo) {
  const child = spawn(spektate, [
    'dashboard', '--store', store, '--partition-key', COLLECTION, '--port', '0', '--bind', '127.0.0.1', '--refresh', '2',
    '--org', COLLECTION, '--project', PROJECT, '--azdo-url', azdo,
  ], { env: { ...process.env, SPEKTATE_AZDO_TOKEN: 'fake-pat-for-the-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const url = out.match(/http:\/\/127\.0\.0\.1:\d+\/\S*/);
      if (url) resolve({ child, url: url[0] });
    });
    child.on('exit', (code) => reject(new Error(`spektate dashboard exited (${code}): ${err}`)));
  });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), 'spektate-parity-'));
  const now = Date.now();
  fake = await startFakeAzureDevOps(now);
  const store = `sqlite:${path.join(work, 'fabrikam.db')}`;
  recordJourneys(env('SPEKTATE_BIN'), store, fake);
  dashboard = await startDashboard(env('SPEKTATE_BIN'), store, fake.url);
  base = dashboard.url.replace(/\/$/, '');
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
  dashboard?.child.kill('SIGTERM');
  await fake?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

// A page and what must not happen on it: script errors, dialogs, CSP violations, requests
// anywhere but the dashboard.
async function open(query = '') {
  const context = await browser.newContext({ viewport: { width: 1680, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== new URL(base).origin) problems.push(`request outside the server: ${r.url()}`);
  });
  await page.goto(`${base}/${query}`);
  return { page, problems, close: () => context.close() };
}

function rowsOf(page) {
  return page.evaluate(() => [...document.querySelectorAll('#rows tr')].map((tr) => {
    const text = (sel) => (tr.querySelector(sel)?.textContent ?? '').trim();
    return {
      id: tr.dataset.id,
      kind: tr.dataset.kind,
      state: tr.dataset.state,
      service: text('.c-service'),
      ring: text('.c-ring'),
      author: text('.c-author .name') || text('.c-author'),
      mergedBy: text('.c-merged .name') || text('.c-merged'),
      image: text('.c-image'),
      metadata: text('.c-metadata'),
      updated: tr.querySelector('.c-updated .when')?.title,
      clusters: [...tr.querySelectorAll('.cluster')].map((c) => c.textContent.trim()),
      more: tr.querySelector('.more-clusters') && {
        text: tr.querySelector('.more-clusters').textContent,
        href: tr.querySelector('.more-clusters').href,
        title: tr.querySelector('.more-clusters').title,
      },
      links: Object.fromEntries([...tr.querySelectorAll('a')].map((a) => [a.textContent.trim(), a.href])),
    };
  }));
}

const count = (page, n, timeout = 30000) =>
  page.waitForFunction((want) => document.querySelectorAll('#rows tr').length === want, n, { timeout });
const search = (page, want) => page.waitForFunction((w) => location.search === w, want);
const query = (page) => decodeURIComponent(new URL(page.url()).search.replace(/\+/g, ' '));

// Opens a multi-select and sets a value on or off, as a person would with the mouse.
async function pick(page, name, value, on = true) {
  const box = page.locator(`details.multi[data-name="${name}"]`);
  if (!(await box.evaluate((d) => d.open))) await box.locator('summary').click();
  const choice = box.getByRole('checkbox', { name: value, exact: true });
  if (on) await choice.check();
  else await choice.uncheck();
  await page.keyboard.press('Escape');
}

const sorted = (values, dir = 1) => [...values].sort((a, b) => dir * (a < b ? -1 : a > b ? 1 : 0));

// Waits until the rows are ordered by the text of a cell (lower-cased; `-1` Z to A).
function rowsSortedBy(page, cell, dir = 1) {
  return page.waitForFunction(([sel, d]) => {
    const values = [...document.querySelectorAll(`#rows tr ${sel}`)].map((c) => c.textContent.trim().toLowerCase());
    return values.length > 1 && values.every((v, i) => i === 0 || d * (values[i - 1] < v ? -1 : values[i - 1] > v ? 1 : 0) <= 0);
  }, [cell, dir]);
}

test('manual HLD edits are hidden until the toggle shows them', { timeout: 120000 }, async () => {
  const { page, problems, close } = await open();
  // The first refresh reads every build, timeline, commit and pull request.
  await count(page, 50, 60000);
  assert.ok((await rowsOf(page)).every((r) => r.kind === 'deployment'), 'no manual HLD edit by default');
  assert.equal(await page.textContent('#shown'), `Showing the newest 50 of ${COUNT} deployments`);
  const manual = page.getByRole('checkbox', { name: 'Manual HLD edits' });
  assert.equal(await manual.isChecked(), false);

  await manual.check();
  await search(page, '?type=deployment&type=manual-hld-edit');
  await page.waitForFunction(() => document.querySelector('#rows tr[data-kind=manualHldEdit]'));
  const edit = (await rowsOf(page)).find((r) => r.kind === 'manualHldEdit');
  assert.equal(edit.service, 'Manual HLD edit');
  assert.equal(await page.textContent('#shown'), `Showing the newest 50 of ${COUNT + 1} deployments`);

  // Only the edits: the other type off; the last type shown cannot be turned off too.
  await page.getByRole('checkbox', { name: 'Deployments' }).uncheck();
  await search(page, '?type=manual-hld-edit');
  await count(page, 1);
  assert.equal((await rowsOf(page))[0].kind, 'manualHldEdit');
  assert.equal(await manual.isDisabled(), true, 'the last type shown stays on');
  await page.click('#clear');
  await search(page, '');
  await count(page, 50);
  assert.deepEqual(problems, []);
  await close();
});

test('50 rows, then "show more" adds the rest and keeps the count in the URL', async () => {
  const { page, problems, close } = await open();
  await count(page, 50);
  const more = page.getByRole('button', { name: `Show ${COUNT - 50} more` });
  await more.click();
  await search(page, '?limit=100');
  await count(page, COUNT);
  assert.ok(await page.isHidden('#more'), 'nothing more to show');
  assert.equal(await page.textContent('#shown'), `${COUNT} deployments`);
  // The newest first, every row once.
  const rows = await rowsOf(page);
  assert.equal(new Set(rows.map((r) => r.id)).size, COUNT);
  const times = rows.map((r) => Date.parse(r.updated));
  assert.deepEqual(times, sorted(times, -1));
  assert.deepEqual(problems, []);
  await close();
});

test('columns sort by service, ring, author, merged by and last updated, over every match', async () => {
  const { page, problems, close } = await open();
  await count(page, 50);
  const header = (name) => page.getByRole('columnheader', { name });
  const sortButton = (name) => page.getByRole('button', { name, exact: true });

  await sortButton('Service').click();
  await search(page, '?sort=service');
  await rowsSortedBy(page, '.c-service');
  let rows = await rowsOf(page);
  assert.deepEqual(rows.map((r) => r.service), sorted(rows.map((r) => r.service)));
  assert.equal(rows.filter((r) => r.service === 'backend').length, COUNT / 3, 'every backend deployment, not only the newest 50');
  assert.equal(await header('Service').getAttribute('aria-sort'), 'ascending');
  assert.match(await page.textContent('#shown'), /^Showing 50 of 54 deployments, by service, A to Z$/);

  await sortButton('Service').click();
  await search(page, '?sort=service&order=desc');
  await rowsSortedBy(page, '.c-service', -1);
  rows = await rowsOf(page);
  assert.deepEqual(rows.map((r) => r.service), sorted(rows.map((r) => r.service), -1));
  assert.equal(await header('Service').getAttribute('aria-sort'), 'descending');

  await sortButton('Ring').click();
  await search(page, '?sort=ring');
  await rowsSortedBy(page, '.c-ring');
  rows = await rowsOf(page);
  assert.deepEqual(rows.map((r) => r.ring), sorted(rows.map((r) => r.ring)));
  assert.equal(await header('Service').getAttribute('aria-sort'), 'none');

  await sortButton('Author').click();
  await search(page, '?sort=author');
  await rowsSortedBy(page, '.c-author .name');
  rows = await rowsOf(page);
  assert.deepEqual(rows.map((r) => r.author.toLowerCase()), sorted(rows.map((r) => r.author.toLowerCase())));

  // Merged by, Z to A: the deployment whose build failed before its pull request comes last.
  await sortButton('Merged By').click();
  await sortButton('Merged By').click();
  await search(page, '?sort=mergedBy&order=desc');
  await page.waitForFunction(() => document.querySelector('#rows tr .c-merged .name')?.textContent === 'Frank Li');
  await page.getByRole('button', { name: 'Show 4 more' }).click();
  await count(page, COUNT);
  rows = await rowsOf(page);
  assert.equal(rows[0].mergedBy, 'Frank Li');
  assert.equal(rows.at(-1).mergedBy, '–');
  assert.equal(rows.at(-1).state, 'failed');

  // Last updated: newest first is the default; a click shows the oldest first.
  assert.equal(await header('Last Updated').getAttribute('aria-sort'), 'none');
  await sortButton('Last Updated').click();
  await search(page, '?sort=lastUpdated&limit=100');
  await page.waitForFunction(() => {
    const t = [...document.querySelectorAll('#rows tr .c-updated .when')].map((w) => Date.parse(w.title));
    return t.length > 1 && t.every((v, i) => i === 0 || t[i - 1] <= v);
  });
  rows = await rowsOf(page);
  const times = rows.map((r) => Date.parse(r.updated));
  assert.deepEqual(times, sorted(times));
  assert.equal(await header('Last Updated').getAttribute('aria-sort'), 'ascending');
  await sortButton('Last Updated').click();
  await search(page, '?limit=100');
  assert.equal(await header('Last Updated').getAttribute('aria-sort'), 'descending');
  assert.deepEqual(problems, []);
  await close();
});

test('multi-select filters pick several services, rings and authors, kept in the URL', async () => {
  const { page, problems, close } = await open();
  await count(page, 50);
  // The lists offer every value of the project, whatever the rows shown.
  const offered = await page.evaluate(() => Object.fromEntries(['service', 'ring', 'author'].map((n) => [n,
    [...document.querySelectorAll(`details[data-name=${n}] .choice`)].map((c) => c.textContent.trim())])));
  assert.deepEqual(offered, {
    service: ['backend', 'frontend', 'payments'],
    ring: ['dev', 'prod', 'qa'],
    author: AUTHORS.map((a) => a.name),
  });

  await pick(page, 'service', 'frontend');
  await search(page, '?service=frontend');
  await count(page, COUNT / 3);
  await pick(page, 'service', 'payments');
  await search(page, '?service=frontend&service=payments');
  await count(page, 36);
  assert.ok((await rowsOf(page)).every((r) => ['frontend', 'payments'].includes(r.service)));
  assert.equal(await page.textContent('details[data-name=service] summary'), '2 selected');

  await pick(page, 'ring', 'prod');
  await search(page, '?service=frontend&service=payments&ring=prod');
  await count(page, 12);
  await pick(page, 'author', 'Chloé Martin');
  await search(page, '?service=frontend&service=payments&author=Chlo%C3%A9+Martin&ring=prod');
  // frontend or payments, in prod, by Chloé: changes 6, 26 and 42.
  await count(page, 3);
  let rows = await rowsOf(page);
  assert.deepEqual(rows.map((r) => [r.service, r.ring, r.author]), [
    ['frontend', 'prod', 'Chloé Martin'], ['payments', 'prod', 'Chloé Martin'], ['frontend', 'prod', 'Chloé Martin'],
  ]);

  // The find box narrows a long list; "show all" undoes one filter.
  await page.locator('details[data-name=author] summary').click();
  await page.fill('details[data-name=author] .find', 'pat');
  assert.deepEqual(await page.locator('details[data-name=author] .choice:visible').allTextContents(), ['Dev Patel']);
  await page.getByRole('button', { name: 'Show all authors' }).click();
  await search(page, '?service=frontend&service=payments&ring=prod');
  await count(page, 12);

  await page.click('#clear');
  await search(page, '');
  await count(page, 50);
  rows = await rowsOf(page);
  assert.equal(new Set(rows.map((r) => r.service)).size, 3);
  assert.deepEqual(problems, []);
  await close();
});

test("the original dashboard's URL parameters still work and stay in the URL", async () => {
  // A link the original dashboard wrote: repeated values, env for the ring, its type words.
  const { page, problems, close } = await open(
    '?keyword=&service=frontend&service=backend&author=Alice+Nguyen&author=Bob+Schmidt&env=prod&env=qa'
    + '&type=Bedrock+Deployments&type=Manual+HLD+Edits&limit=5&refresh=0',
  );
  await count(page, 5);
  const rows = await rowsOf(page);
  for (const r of rows) {
    assert.ok(['frontend', 'backend'].includes(r.service), r.service);
    assert.ok(['prod', 'qa'].includes(r.ring), r.ring);
    assert.ok(['Alice Nguyen', 'Bob Schmidt'].includes(r.author), r.author);
  }
  assert.equal(await page.getByRole('checkbox', { name: 'Manual HLD edits' }).isChecked(), true);
  assert.equal(await page.textContent('#cadence'), 'Automatic refresh paused (refresh=0)');
  assert.equal(await page.textContent('details[data-name=ring] summary'), '2 selected');
  assert.match(await page.textContent('#shown'), /^Showing the newest 5 of \d+ deployments$/);
  // Filtering keeps the original parameter names.
  await pick(page, 'ring', 'qa', false);
  await search(page, '?service=frontend&service=backend&author=Alice+Nguyen&author=Bob+Schmidt&env=prod&type=deployment&type=manual-hld-edit&refresh=0&limit=5');
  await page.fill('input[name=keyword]', 'frontend-20');
  await page.waitForFunction(() => new URLSearchParams(location.search).get('keyword') === 'frontend-20');
  assert.match(query(page), /env=prod/);
  assert.deepEqual(problems, []);
  await close();
});

test('the cluster cell names two clusters and links "and N more" to the manifest tags', async () => {
  const { page, problems, close } = await open();
  await count(page, 50);
  const rows = await rowsOf(page);
  const spread = rows[SPREAD];
  assert.equal(spread.clusters.length, 2);
  assert.equal(spread.more.text, 'and 2 more…');
  assert.equal(spread.more.href, `${fake.url}/${COLLECTION}/${PROJECT}/_git/hello-manifests/tags`);
  const all = spread.more.title.split('\n');
  assert.deepEqual(sorted(all), sorted(CLUSTERS), 'the tip names every cluster');
  assert.deepEqual(all.slice(0, 2), spread.clusters, 'the first two are the ones named');
  assert.equal(rows.filter((r) => r.more).length, 1, 'only the deployment in four clusters');
  await page.locator('details[data-name=service] summary').click();
  await page.screenshot({ path: path.join(shots, 'dashboard-parity.png'), animations: 'disabled' });
  assert.deepEqual(problems, []);
  await close();
});

test('a multi-stage run that failed links to the stage it failed in', async () => {
  const { page, problems, close } = await open();
  await count(page, 50);
  const rows = await rowsOf(page);
  const failed = rows[FAILED];
  const build = 2000 + FAILED;
  assert.equal(failed.state, 'failed');
  assert.match(failed.image, new RegExp(`^20260301\\.${build}`), 'stage 1 built the image');
  assert.doesNotMatch(failed.image, /stage/);
  assert.match(failed.metadata, /Failed in stage hld_update/);
  const runs = `${fake.url}/${COLLECTION}/${PROJECT}/_build/results?buildId=${build}`;
  assert.equal(failed.links[`20260301.${build}`], runs, 'the run itself');
  assert.equal(failed.links['Failed in stage hld_update'], `${runs}&view=logs&s=${FAILED_STAGE_ID}`);
  // The timeline was asked for the failed run only.
  assert.deepEqual([...new Set(fake.requests.filter((r) => r.includes('/timeline')).map((r) => r.split('?')[0]))],
    [`GET /${COLLECTION}/${PROJECT}/_apis/build/builds/${build}/timeline`]);
  assert.deepEqual(problems, []);
  await close();
});
