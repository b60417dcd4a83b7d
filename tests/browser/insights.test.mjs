// The insights page in headless Chromium: the DORA figures per week and lead time per step, as
// a person reads the charts, over a history whose times the test sets and whose figures it
// works out by hand.
//
// Run through run.sh, which sets SPEKTATE_BIN, CHROMIUM, BROWSER_PROFILE and SCREENSHOT_DIR.
// Starts its own `spektate dashboard` over a store written here with `spektate record` (explicit
// run times, three past ISO weeks), and saves the page to SCREENSHOT_DIR/insights.png (the README's
// docs/images/ pictures are copies of these two); and another
// over one deployment of the last hour, with an approval pull request and a cluster, whose
// journey page draws its timeline.
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
let journeyServer;
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

// One deployment of the last hour: the image queued 2 min and ran 10; the metadata run waited
// 2 min, queued 1, ran 2 and opened pull request 77; the manifest run queued 30 min later (the
// merge) for 1 min and ran 2; east-us applied its manifests now, 10 min after.
const JOURNEY = { p1: 7001, p2: 7002, p3: 7003, pr: '77', manifest: hex(0xc777) };
function recordJourney(spektate, store, t) {
  const run = (...args) => execFileSync(spektate, ['record', ...args, '--store', store, '--partition-key', PARTITION], { stdio: ['ignore', 'ignore', 'pipe'] });
  run('--p1', String(JOURNEY.p1), '--image-tag', 'frontend-7001', '--commit-id', hex(0xa777), '--service', 'fabrikam/frontend',
    '--repository', 'https://github.com/fabrikam/frontend');
  run('--p2', String(JOURNEY.p2), '--image-tag', 'frontend-7001', '--hld-commit-id', hex(0xb777), '--env', 'prod',
    '--pr', JOURNEY.pr, '--repository', 'https://github.com/fabrikam/hld');
  run('--p3', String(JOURNEY.p3), '--hld-commit-id', hex(0xb777), '--manifest-commit-id', JOURNEY.manifest,
    '--repository', 'https://github.com/fabrikam/manifests');
  const report = (id, q, s, f) => run('run', '--id', String(id), '--status', 'completed', '--result', 'succeeded',
    '--queued-at', iso(t + q * MIN), '--started-at', iso(t + s * MIN), '--finished-at', iso(t + f * MIN));
  report(JOURNEY.p1, 0, 2, 12);
  report(JOURNEY.p2, 14, 15, 17);
  report(JOURNEY.p3, 47, 48, 50);
  run('sync', '--cluster', 'east-us', '--commit', JOURNEY.manifest);
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
  const journeyStore = `sqlite:${path.join(work, 'journey.db')}`;
  recordJourney(env('SPEKTATE_BIN'), journeyStore, Date.now() - 60 * MIN);
  journeyServer = await startDashboard(env('SPEKTATE_BIN'), journeyStore);
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
  journeyServer?.child.kill('SIGTERM');
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
  assert.deepEqual(legend, ['Commit to image pipeline', 'Image', 'Metadata', 'Waiting for PR approval', 'Manifests', 'Sync to a cluster']);
  const overall = await page.getByTestId('overall').textContent();
  assert.match(overall, /Deployments completed\s*5/);
  assert.match(overall, /Change failure rate\s*17% \(1 of 6\)/);

  const shot = path.join(process.env.SCREENSHOT_DIR || path.join(root, 'target'), 'insights.png');
  mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the deployments page links to the insights page', async () => {
  const { page, problems } = await open(`${base}/index.html`);
  // The link keeps the partition the page shows.
  await page.waitForFunction((p) => document.getElementById('insights-link').search === `?partition=${p}`, PARTITION);
  await page.getByTestId('insights-link').click();
  await page.waitForSelector('figure.chart');
  assert.ok(page.url().endsWith(`/insights.html?partition=${PARTITION}`), page.url());
  assert.deepEqual(problems, []);
  await page.close();
});

// The timeline as a person reads it: per lane its name, state, and each span's kind and width.
function lanesOf(page) {
  return page.evaluate(() => {
    const svg = document.querySelector('figure[data-metric="journey"] svg');
    return {
      ariaLabel: svg.getAttribute('aria-label'),
      title: svg.querySelector(':scope > title')?.textContent ?? '',
      lanes: [...svg.querySelectorAll('g.row')].map((g) => ({
        name: g.querySelector('text.key').textContent,
        state: g.querySelector('text.value').textContent,
        spans: [...g.querySelectorAll('rect.span')].map((r) => {
          const box = r.getBoundingClientRect();
          return { kind: r.dataset.kind, left: box.left, width: box.width, tip: r.querySelector('title').textContent };
        }),
      })),
    };
  });
}

test('a row of the deployments page opens the journey of its deployment as a timeline', async () => {
  const jbase = journeyServer.url.replace(/\/$/, '');
  const { page, problems } = await open(`${jbase}/index.html`);
  await page.locator('#rows tr .journey-link').first().click();
  await page.waitForSelector('figure[data-metric="journey"]');
  assert.match(page.url(), /\/journey\.html\?id=/);
  assert.equal(await page.getByTestId('heading').textContent(), 'Journey of frontend · prod · frontend-7001');
  const { ariaLabel, title, lanes } = await lanesOf(page);
  assert.equal(ariaLabel, title);
  assert.deepEqual(lanes.map((l) => [l.name, l.state]), [
    ['Image 7001', 'succeeded'],
    ['Metadata 7002', 'succeeded'],
    ['Approval PR #77', 'merged'],
    ['Manifests 7003', 'succeeded'],
    ['Sync east-us', 'applied'],
  ]);
  assert.deepEqual(lanes.map((l) => l.spans.map((s) => s.kind)), [
    ['queued', 'running'],
    ['waiting', 'queued', 'running'],
    ['approval'],
    ['queued', 'running'],
    ['sync'],
  ]);
  const [image, metadata, approval, manifests, sync] = lanes;
  // Widths on one time axis: minutes 2, 10 | 2, 1, 2 | 30 | 1, 2 | about 10.
  const perMinute = approval.spans[0].width / 30;
  const minutes = (s) => s.width / perMinute;
  close(minutes(image.spans[0]), 2, 'image queued');
  close(minutes(image.spans[1]) / 10, 1, 'image running (10 min)');
  close(minutes(metadata.spans[0]), 2, 'metadata waiting');
  close(minutes(metadata.spans[2]), 2, 'metadata running');
  close(minutes(manifests.spans[1]), 2, 'manifests running');
  assert.ok(minutes(sync.spans[0]) > 9.5 && minutes(sync.spans[0]) < 12, `sync lag ${minutes(sync.spans[0])} min`);
  // The spans follow one another: each starts where the one before it ended.
  close(metadata.spans[0].left, image.spans[1].left + image.spans[1].width, 'metadata after the image');
  close(approval.spans[0].left, metadata.spans[2].left + metadata.spans[2].width, 'approval after the metadata');
  close(manifests.spans[0].left, approval.spans[0].left + approval.spans[0].width, 'manifests after the merge');
  close(sync.spans[0].left, manifests.spans[1].left + manifests.spans[1].width, 'sync after the manifests');
  assert.equal(approval.spans[0].tip, 'Approval PR #77, waiting for approval: 30 min');
  assert.ok(ariaLabel.includes('Approval PR #77 (merged): waiting for approval 30 min'), ariaLabel);
  assert.ok(ariaLabel.includes('Image 7001 (succeeded): queued 2 min, running 10 min;'), ariaLabel);
  await page.screenshot({ path: path.join(process.env.SCREENSHOT_DIR || path.join(root, 'target'), 'journey.png') });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the journey of an unknown deployment says so', async () => {
  const jbase = journeyServer.url.replace(/\/$/, '');
  const { page, problems } = await open(`${jbase}/journey.html?id=${encodeURIComponent('<b>nope</b>')}`);
  await page.waitForSelector('#banner:not([hidden])');
  assert.equal(await page.textContent('#banner-text'), "The journey could not be read: no deployment '<b>nope</b>' in partition 'insights'");
  assert.equal(await page.locator('#banner b').count(), 0);
  assert.deepEqual(problems.filter((p) => !p.includes('404')), []);
  await page.close();
});

test('an older metrics request answered late does not replace a newer one', async () => {
  const { page, problems } = await open(`${base}/insights.html`);
  await page.waitForSelector('#weekly figure');
  // The next request is held and then answered with an error; the one after goes through.
  let held = 0;
  let answered;
  const heldAnswered = new Promise((resolve) => { answered = resolve; });
  await page.route('**/api/metrics/dora*', async (route) => {
    held += 1;
    if (held === 1) {
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'an old answer' }) }).catch(() => {});
      answered();
    } else {
      await route.continue();
    }
  });
  await page.click('#refresh-now');
  await page.click('#refresh-now');
  await heldAnswered;
  await page.waitForTimeout(500); // time for the page to show the held answer, if it takes it
  assert.ok(await page.isHidden('#banner'), 'the held, older answer was dropped');
  assert.ok(await page.locator('#weekly figure').count() > 0);
  assert.equal(held, 2);
  assert.deepEqual(problems.filter((p) => !p.includes('503')), []);
  await page.close();
});
