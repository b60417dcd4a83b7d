// The insights page: reads api/metrics/dora?by=week and draws, in inline SVG built here, the
// DORA figures per week as small bar charts and lead time per step as stacked bars. Each chart
// has a <title> and an aria-label saying in words what it draws.
//
// Everything that comes from the server is shown with textContent or set as an attribute
// value, never parsed as HTML.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const LABEL_W = 84; // the week's label, left of the bars
  const BAR_W = 260; // the longest bar
  const VALUE_W = 90; // the figure, right of the bar
  const ROW_H = 22;
  const STEPS = [
    ['commit', 'Commit to image pipeline'],
    ['image', 'Image'],
    ['metadata', 'Metadata'],
    ['approval', 'Waiting for PR approval'],
    ['manifests', 'Manifests'],
    ['sync', 'Sync to a cluster'],
  ];

  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  /** A duration in seconds, as people say it. */
  function duration(secs) {
    if (typeof secs !== 'number' || !Number.isFinite(secs)) return 'no figure';
    const s = Math.round(secs);
    if (s < 90) return `${s} s`;
    if (s < 90 * 60) return `${Math.round(s / 60)} min`;
    if (s < 36 * 3600) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }
  const percent = (r) => (typeof r === 'number' && Number.isFinite(r) ? `${Math.round(r * 100)}%` : 'no figure');
  const count = (n) => (typeof n === 'number' ? String(n) : 'no figure');

  // The four figures: what each chart draws from a group, and how its values read.
  const CHARTS = [
    {
      metric: 'deploymentFrequency',
      title: 'Deployments completed',
      value: (g) => g.deploymentFrequency?.completed,
      text: count,
      band: (g) => g.deploymentFrequency?.band,
    },
    {
      metric: 'leadTime',
      title: 'Lead time (median)',
      value: (g) => g.leadTime?.medianSecs,
      text: duration,
      band: (g) => g.leadTime?.band,
    },
    {
      metric: 'changeFailureRate',
      title: 'Change failure rate',
      value: (g) => g.changeFailureRate?.rate,
      text: percent,
      band: (g) => g.changeFailureRate?.band,
    },
    {
      metric: 'timeToRestore',
      title: 'Time to restore (median)',
      value: (g) => g.timeToRestore?.medianSecs,
      text: duration,
      band: (g) => g.timeToRestore?.band,
    },
  ];

  const usable = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

  /** One small chart: a horizontal bar per week, its length proportional to the figure. */
  function weeklyChart(chart, groups) {
    const values = groups.map((g) => chart.value(g));
    const max = Math.max(0, ...values.filter(usable));
    const height = groups.length * ROW_H + 4;
    const words = groups.map((g, i) => `${g.key}: ${chart.text(values[i])}`).join('; ');
    const label = `${chart.title} per week. ${words}.`;
    const drawing = svg('svg', {
      role: 'img',
      'aria-label': label,
      viewBox: `0 0 ${LABEL_W + BAR_W + VALUE_W} ${height}`,
      width: LABEL_W + BAR_W + VALUE_W,
      height,
      class: 'chart-svg',
    }, svg('title', { text: label }));
    groups.forEach((g, i) => {
      const v = values[i];
      const y = i * ROW_H + 2;
      const row = svg('g', { class: 'row', 'data-key': g.key });
      row.append(svg('text', { x: 0, y: y + 15, class: 'key', text: g.key }));
      let end = LABEL_W;
      if (usable(v)) {
        const width = max > 0 ? (v / max) * BAR_W : 0;
        const band = chart.band(g);
        row.append(svg('rect', {
          x: LABEL_W, y: y + 3, width: width.toFixed(2), height: ROW_H - 6, rx: 2,
          class: `bar${band ? ` band-${band}` : ''}`, 'data-value': v,
        }, svg('title', { text: `${g.key}: ${chart.text(v)}${band ? ` (${band})` : ''}` })));
        end += width;
      }
      row.append(svg('text', { x: end + 6, y: y + 15, class: 'value', text: chart.text(v) }));
      drawing.append(row);
    });
    return el('figure', { class: 'chart', 'data-metric': chart.metric },
      el('figcaption', { text: chart.title }), drawing);
  }

  /** Lead time per step: a bar per week as long as its median, split by each step's share. */
  function stepsChart(groups) {
    const rows = groups.filter((g) => usable(g.leadTime?.medianSecs) && g.leadTime?.shares);
    if (rows.length === 0) return el('p', { class: 'note', text: 'No deployment with a lead time in the window.' });
    const max = Math.max(...rows.map((g) => g.leadTime.medianSecs));
    const height = rows.length * ROW_H + 4;
    const words = rows.map((g) => {
      const parts = STEPS.map(([k, name]) => `${name} ${duration(g.leadTime.medianSecs * g.leadTime.shares[k])}`);
      return `${g.key}: ${duration(g.leadTime.medianSecs)} (${parts.join(', ')})`;
    }).join('; ');
    const label = `Median lead time per week, by step. ${words}.`;
    const drawing = svg('svg', {
      role: 'img',
      'aria-label': label,
      viewBox: `0 0 ${LABEL_W + BAR_W * 2 + VALUE_W} ${height}`,
      width: LABEL_W + BAR_W * 2 + VALUE_W,
      height,
      class: 'chart-svg',
    }, svg('title', { text: label }));
    rows.forEach((g, i) => {
      const y = i * ROW_H + 2;
      const median = g.leadTime.medianSecs;
      const row = svg('g', { class: 'row', 'data-key': g.key, 'data-total': median });
      row.append(svg('text', { x: 0, y: y + 15, class: 'key', text: g.key }));
      let x = LABEL_W;
      for (const [k, name] of STEPS) {
        const share = Number(g.leadTime.shares[k]) || 0;
        const secs = median * share;
        const width = (secs / max) * BAR_W * 2;
        if (width <= 0) continue;
        row.append(svg('rect', {
          x: x.toFixed(2), y: y + 3, width: width.toFixed(2), height: ROW_H - 6,
          class: `segment step-${k}`, 'data-step': k, 'data-secs': Math.round(secs),
        }, svg('title', { text: `${g.key}, ${name}: ${duration(secs)} (${percent(share)})` })));
        x += width;
      }
      row.append(svg('text', { x: x + 6, y: y + 15, class: 'value', text: duration(median) }));
      drawing.append(row);
    });
    const legend = el('ul', { class: 'legend', 'aria-hidden': 'true' },
      ...STEPS.map(([k, name]) => el('li', {}, el('span', { class: `swatch step-${k}` }), name)));
    return el('figure', { class: 'chart wide', 'data-metric': 'leadTimeSteps' }, drawing, legend);
  }

  function overall(f) {
    const dl = $('overall');
    dl.replaceChildren();
    const add = (name, value, band) => {
      dl.append(el('div', { class: 'figure' },
        el('dt', { text: name }),
        el('dd', {}, value, band ? el('span', { class: `band band-${band}`, text: band }) : null)));
    };
    const freq = f.deploymentFrequency || {};
    add('Deployments completed', `${count(freq.completed)} (${typeof freq.perWeek === 'number' ? freq.perWeek.toFixed(1) : 'no figure'} a week) `, freq.band);
    add('Lead time', `median ${duration(f.leadTime?.medianSecs)}, p90 ${duration(f.leadTime?.p90Secs)} `, f.leadTime?.band);
    add('Change failure rate', `${percent(f.changeFailureRate?.rate)} (${count(f.changeFailureRate?.failed)} of ${count(f.changeFailureRate?.finished)}) `, f.changeFailureRate?.band);
    add('Time to restore', `median ${duration(f.timeToRestore?.medianSecs)} `, f.timeToRestore?.band);
  }

  function draw(body) {
    $('partition').textContent = body.partition || '';
    const since = body.since ? new Date(body.since).toISOString().slice(0, 10) : 'the first finish';
    $('window').textContent = `From ${since} to ${new Date(body.until).toISOString().slice(0, 10)}.`;
    $('lead-from').textContent = `Lead time starts at ${body.leadTimeFrom}.`;
    overall(body.overall || {});
    const groups = Array.isArray(body.groups) ? body.groups : [];
    $('empty').hidden = groups.length > 0;
    $('weekly').replaceChildren(...CHARTS.map((c) => weeklyChart(c, groups)));
    $('steps').replaceChildren(stepsChart(groups));
    $('last-updated').textContent = body.refreshedAt
      ? `Updated ${new Date(body.refreshedAt).toLocaleTimeString()}`
      : 'Not read yet';
  }

  const REQUEST_TIMEOUT_MS = 60000;
  let inflight = null;

  async function load() {
    const banner = $('banner');
    const params = new URLSearchParams(window.location.search);
    const query = new URLSearchParams({ by: 'week' });
    for (const name of ['partition', 'service', 'ring', 'since', 'until']) {
      const v = params.get(name);
      if (v) query.set(name, v);
    }
    for (const a of [$('deployments-link'), $('status-link')]) {
      if (params.get('partition')) a.search = `?partition=${encodeURIComponent(params.get('partition'))}`;
    }
    // One request at a time: a newer one (Refresh clicked again) replaces it, and one the
    // server does not answer within REQUEST_TIMEOUT_MS is given up.
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    let timedOut = false;
    const timeout = setTimeout(() => { timedOut = true; ctl.abort(); }, REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(`api/metrics/dora?${query}`, { headers: { Accept: 'application/json' }, signal: ctl.signal });
      const body = await response.json().catch(() => ({}));
      if (inflight !== ctl) return;
      if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
      banner.hidden = true;
      draw(body);
    } catch (e) {
      if (inflight !== ctl) return; // replaced by a newer request
      $('banner-text').textContent = `The metrics could not be read: ${timedOut ? `the server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s` : e.message}`;
      banner.hidden = false;
      $('last-updated').textContent = '';
    } finally {
      clearTimeout(timeout);
      if (inflight === ctl) inflight = null;
    }
  }

  $('refresh-now').addEventListener('click', load);
  load();
})();
