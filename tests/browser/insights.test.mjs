// The insights page in headless Chromium: the DORA figures per week and lead time per step, as
// a person reads the charts, over a history whose times the test sets and whose figures it
// works out by hand.
//
// Run through run.sh, which sets SPEKTATE_BIN, CHROMIUM, BROWSER_PROFILE and SCREENSHOT_DIR.
// Starts its own `spektate dashboard` over a store written here with `spektate record` (explicit
// run times, three past ISO weeks), and saves the page to docs/images/insights.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PARTITION = 'insights';
const MIN = 60 * 1000;
let work;
let dashboard;
let base;
let browser;

/** Monday 00:00 UTC of the ISO week `back` weeks before this one. */
function mondayBack(back) {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7) - 7 * back);
  return d.getTime();
}

/** ISO week of a time, as the API names it: 2026-W05. */
function isoWeek(t) {
  const d = new Date(t);
  d.setUTCHours(0, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() + 3 - ((d.getUTCDay() + 6) % 7));
  const year = d.getUTCFullYear();
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const week = 1 + Math.round(((d - jan4) / 86400000 - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const iso = (t) => new Date(t).toISOString();
const hex = (n) => n.toString(16).padStart(40, '0');

// The history: [weeks back, day of the week, service, ring, lead time in minutes, failing step].
// Three weeks back: three completions of 10, 20 and 60 minutes (median 20). Two weeks back:
// one completion of 45 minutes and a frontend deployment to dev whose manifest run failed
// (failure rate 50%). Last week: a frontend completion to dev, which restores it.
const HISTORY = [
  [3, 1, 'frontend', 'dev', 10, null],
  [3, 2, 'backend', 'dev', 20, null],
  [3, 3, 'frontend', 'prod', 60, null],
  [2, 1, 'backend', 'prod', 45, null],
  [2, 2, 'frontend', 'dev', 30, 'p3'],
  [1, 3, 'frontend', 'dev', 90, null],
];

function recordHistory(spektate, store) {
  const run = (...args) => execFileSync(spektate, ['record', ...args, '--store', store, '--partition-key', PARTITION], { stdio: ['ignore', 'ignore', 'pipe'] });
  HISTORY.forEach(([back, day, service, ring, minutes, failing], i) => {
    const t = mondayBack(back) + day * 24 * 60 * MIN + 10 * 60 * MIN;
    const l = minutes * MIN;
    const [p1, p2, p3] = [1000 + i, 2000 + i, 3000 + i];
    const tag = `${service}-${p1}`;
    run('--p1', String(p1), '--image-tag', tag, '--commit-id', hex(0xa000 + i), '--service', `fabrikam/${service}`,
      '--repository', `https://github.com/fabrikam/${service}`);
    run('--p2', String(p2), '--image-tag', tag, '--hld-commit-id', hex(0xb000 + i), '--env', ring,
      '--repository', 'https://github.com/fabrikam/hld');
    run('--p3', String(p3), '--hld-commit-id', hex(0xb000 + i), '--manifest-commit-id', hex(0xc000 + i),
      '--repository', 'https://github.com/fabrikam/manifests');
    const report = (id, queued, started, finished, result) => run('run', '--id', String(id), '--status', 'completed',
      '--result', result, '--queued-at', iso(queued), '--started-at', iso(started), '--finished-at', iso(finished));
    report(p1, t, t + 0.05 * l, t + 0.3 * l, 'succeeded');
    report(p2, t + 0.3 * l, t + 0.3 * l, t + 0.4 * l, 'succeeded');
    report(p3, t + 0.5 * l, t + 0.55 * l, t + l, failing === 'p3' ? 'failed' : 'succeeded');
  });
}

function startDashboard(spektate, store) {
  const child = spawn(spektate, [
    'dashboard', '--store', store, '--partition-key', PARTITION, '--port', '0', '--bind', '127.0.0.1', '--refresh', '2',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  work = mkdtempSync(path.join(tmpdir(), 'spektate-insights-'));
  const store = `sqlite:${path.join(work, 'insights.db')}`;
  recordHistory(env('SPEKTATE_BIN'), store);
  dashboard = await startDashboard(env('SPEKTATE_BIN'), store);
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
  if (work) rmSync(work, { recursive: true, force: true });
});

// A page and what must not happen on it: script errors, dialogs, CSP violations (reported as
// console errors), requests anywhere but the server.
async function open(url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC', colorScheme: 'light' });
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

// Each chart as a person reads it: its caption, its text alternatives, and per row the week,
// the figure written beside the bar, and the bar's (or each segment's) drawn width.
function chartsOf(page) {
  return page.evaluate(() => [...document.querySelectorAll('figure.chart')].map((f) => {
    const svg = f.querySelector('svg');
    return {
      metric: f.dataset.metric,
      caption: (f.querySelector('figcaption')?.textContent ?? '').trim(),
      role: svg.getAttribute('role'),
      ariaLabel: svg.getAttribute('aria-label'),
      title: svg.querySelector(':scope > title')?.textContent ?? '',
      rows: [...svg.querySelectorAll('g.row')].map((g) => ({
        key: g.dataset.key,
        value: g.querySelector('text.value').textContent,
        bar: g.querySelector('rect.bar') ? g.querySelector('rect.bar').getBoundingClientRect().width : null,
        segments: Object.fromEntries([...g.querySelectorAll('rect.segment')].map((r) => [r.dataset.step, r.getBoundingClientRect().width])),
      })),
    };
  }));
}

const close = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 0.75, `${what}: ${actual} is not ${expected}`);

test('the insights page draws the DORA figures per week and lead time per step, in proportion', async () => {
  const { page, problems } = await open(`${base}/insights.html`);
  await page.waitForSelector('figure.chart[data-metric="leadTimeSteps"]');
  const weeks = [3, 2, 1].map((b) => isoWeek(mondayBack(b) + 2 * 86400000));
  const charts = chartsOf(await page);
  const byMetric = Object.fromEntries((await charts).map((c) => [c.metric, c]));
  assert.deepEqual(Object.keys(byMetric), ['deploymentFrequency', 'leadTime', 'changeFailureRate', 'timeToRestore', 'leadTimeSteps']);
  for (const c of Object.values(byMetric)) {
    assert.equal(c.role, 'img');
    assert.ok(c.ariaLabel.length > 20 && c.ariaLabel === c.title, `${c.metric} has a text alternative: ${c.ariaLabel}`);
    for (const w of weeks) assert.ok(c.ariaLabel.includes(w), `${c.metric}'s text alternative names ${w}`);
    assert.deepEqual(c.rows.map((r) => r.key), weeks);
  }

  // Deployments completed: 3, 1, 1; the longest bar is three times the others.
  const freq = byMetric.deploymentFrequency;
  assert.equal(freq.caption, 'Deployments completed');
  assert.deepEqual(freq.rows.map((r) => r.value), ['3', '1', '1']);
  close(freq.rows[1].bar * 3, freq.rows[0].bar, 'one completion against three');
  close(freq.rows[2].bar, freq.rows[1].bar, 'one completion against one');

  // Lead time from the image's queue time to the manifest run's finish: medians 20, 45, 90 min.
  const lead = byMetric.leadTime;
  assert.deepEqual(lead.rows.map((r) => r.value), ['20 min', '45 min', '1.5 h']);
  close(lead.rows[0].bar * 90 / 20, lead.rows[2].bar, '20 min against 90');
  close(lead.rows[1].bar * 90 / 45, lead.rows[2].bar, '45 min against 90');
  assert.ok(lead.ariaLabel.includes(`${weeks[0]}: 20 min`), lead.ariaLabel);

  // Change failure rate: none, the failed manifest run (1 of 2), none.
  const cfr = byMetric.changeFailureRate;
  assert.deepEqual(cfr.rows.map((r) => r.value), ['0%', '50%', '0%']);
  assert.ok(cfr.rows[1].bar > 100, 'the failing week has a bar');
  assert.equal(cfr.rows[0].bar, 0);

  // Time to restore: the failure two weeks back was restored last week.
  const ttr = byMetric.timeToRestore;
  assert.equal(ttr.rows[2].value.endsWith(' d'), true, `restored days later: ${ttr.rows[2].value}`);
  assert.equal(ttr.rows[0].value, 'no figure');

  // Lead time per step: each week's bar is as long as its median, split as the API's shares say.
  const api = await (await fetch(`${base}/api/metrics/dora?by=week`)).json();
  const steps = byMetric.leadTimeSteps;
  const total = (r) => Object.values(r.segments).reduce((a, b) => a + b, 0);
  close(total(steps.rows[0]) * 90 / 20, total(steps.rows[2]), 'stacked 20 min against 90');
  close(total(steps.rows[1]) * 90 / 45, total(steps.rows[2]), 'stacked 45 min against 90');
  api.groups.forEach((g, i) => {
    const row = steps.rows[i];
    assert.equal(row.key, g.key);
    for (const [step, share] of Object.entries(g.leadTime.shares)) {
      close(row.segments[step] ?? 0, share * total(row), `${g.key} ${step}`);
    }
    // Every history here spends 30% of its lead time in the image pipeline, 10% in the
    // metadata pipeline and 60% to the manifest run's finish (the wait before it counts in it).
    close(row.segments.image, 0.3 * total(row), `${g.key} image`);
    close(row.segments.metadata, 0.1 * total(row), `${g.key} metadata`);
    close(row.segments.manifests, 0.6 * total(row), `${g.key} manifests`);
  });
  const legend = await page.locator('.legend li').allTextContents();
  assert.deepEqual(legend, ['Image', 'Metadata', 'Waiting for PR approval', 'Manifests', 'Sync to a cluster']);
  const overall = await page.getByTestId('overall').textContent();
  assert.match(overall, /Deployments completed\s*5/);
  assert.match(overall, /Change failure rate\s*17% \(1 of 6\)/);

  const shot = path.join(root, 'docs/images/insights.png');
  mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the deployments page links to the insights page', async () => {
  const { page, problems } = await open(`${base}/index.html`);
  await page.getByTestId('insights-link').click();
  await page.waitForSelector('figure.chart');
  assert.ok(page.url().endsWith('/insights.html'));
  assert.deepEqual(problems, []);
  await page.close();
});
