// The journey page: reads api/deployments/{id}/journey and draws the deployment's timeline in
// inline SVG built here: a lane per step with its waiting, queued and running spans, the
// approval pull request's wait, and each cluster's sync lag, on one time axis. For a
// deployment on its way, the ETA that api/deployments gives it adds its remaining steps as
// dashed "expected" spans up to the time it is expected live, each with its 90th percentile.
// The drawing has a <title> and an aria-label that say the same in words.
//
// Everything that comes from the server is shown with textContent or set as an attribute
// value, never parsed as HTML.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const LABEL_W = 190;
  const AXIS_W = 720;
  const ROW_H = 26;
  const LANES = { image: 'Image', metadata: 'Metadata', approval: 'Approval PR', manifests: 'Manifests', sync: 'Sync' };
  const KINDS = { waiting: 'waiting', queued: 'queued', running: 'running', approval: 'waiting for approval', sync: 'sync lag' };

  const $ = (id) => document.getElementById(id);

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

  function duration(secs) {
    const s = Math.max(0, Math.round(secs));
    if (s < 90) return `${s} s`;
    if (s < 90 * 60) return `${Math.round(s / 60)} min`;
    if (s < 36 * 3600) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} d`;
  }

  const laneName = (l) => `${LANES[l.lane] || l.lane}${l.name ? ` ${l.lane === 'approval' ? '#' : ''}${l.name}` : ''}`;

  // A time in the viewer's zone, as the deployments page writes it.
  function clock(ms) {
    const d = new Date(ms);
    if (Number.isNaN(d.getTime())) return '';
    const today = new Date().toDateString() === d.toDateString();
    return today
      ? d.toLocaleTimeString()
      : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }

  const BASES = { serviceRing: 'this service and ring', service: 'this service', all: 'every deployment' };
  const basisOf = (b) => (typeof b === 'string' && Object.hasOwn(BASES, b) ? BASES[b] : null);

  // The API's `eta` of the deployment, its times as numbers; null without one (or when a
  // field is not a time).
  function etaOf(d) {
    const e = d && d.eta;
    if (!e || typeof e !== 'object' || !Array.isArray(e.steps)) return null;
    const liveAt = Date.parse(e.liveAt);
    const liveP90At = Date.parse(e.liveP90At);
    const steps = e.steps
      .filter((s) => s && Object.hasOwn(LANES, s.segment))
      .map((s) => ({
        segment: s.segment,
        expectedAt: Date.parse(s.expectedAt),
        p90At: Date.parse(s.p90At),
        samples: Number.isInteger(s.samples) ? s.samples : null,
        basis: basisOf(s.basis),
      }))
      .filter((s) => !Number.isNaN(s.expectedAt) && !Number.isNaN(s.p90At));
    if (Number.isNaN(liveAt) || Number.isNaN(liveP90At) || steps.length === 0) return null;
    return { liveAt, liveP90At, steps };
  }

  // One row of the drawing per lane of the timeline; the remaining steps of an ETA as dashed
  // "expected" spans, the running one in its own lane (while it is open there), each later one
  // in a lane of its own, one after the other from now.
  function rowsOf(lanes, eta, now) {
    const rows = lanes.map((l) => ({ lane: l.lane, name: l.name ?? '', label: laneName(l), state: l.state, spans: l.spans, expected: null }));
    if (!eta) return rows;
    let from = now;
    eta.steps.forEach((s, i) => {
      const to = Math.max(from, s.expectedAt);
      const expected = { ...s, from, to, p90: Math.max(to, s.p90At) };
      const own = i === 0 ? [...rows].reverse().find((r) => r.lane === s.segment && r.spans.some((sp) => sp.open)) : null;
      if (own) own.expected = expected;
      else rows.push({ lane: s.segment, name: '', label: `${LANES[s.segment]} (expected)`, state: `by ${clock(s.expectedAt)}`, spans: [], expected });
      from = to;
    });
    return rows;
  }

  function draw(body, deployment) {
    $('partition').textContent = body.partition || '';
    const what = [body.service, body.ring, body.imageTag].filter(Boolean).join(' · ');
    $('heading').textContent = `Journey of ${what || body.id}`;
    const t = body.timeline || {};
    const lanes = Array.isArray(t.lanes) ? t.lanes : [];
    const now = Date.parse(body.now);
    const eta = Number.isNaN(now) ? null : etaOf(deployment);
    let start = Date.parse(t.start);
    let end = Date.parse(t.end);
    if (eta) {
      if (Number.isNaN(start)) start = now;
      end = Math.max(Number.isNaN(end) ? now : end, now, eta.liveP90At, ...eta.steps.map((s) => s.p90At));
    }
    const etaNote = $('eta');
    etaNote.hidden = !eta;
    etaNote.textContent = eta
      ? `Expected live at ${clock(eta.liveAt)} (median), by ${clock(eta.liveP90At)} at the 90th percentile; the dashed spans are the remaining steps.`
      : '';
    if ((lanes.length === 0 && !eta) || Number.isNaN(start) || Number.isNaN(end)) {
      $('span').textContent = 'No step of this deployment reported a time yet.';
      $('timeline').replaceChildren();
      return;
    }
    const total = Math.max(1, end - start);
    $('span').textContent = `${duration(total / 1000)} from ${new Date(start).toISOString().replace('.000Z', 'Z')} to ${new Date(end).toISOString().replace('.000Z', 'Z')}.`;
    const xAt = (ms) => LABEL_W + ((ms - start) / total) * AXIS_W;
    const x = (iso) => xAt(Date.parse(iso));
    const rows = rowsOf(lanes, eta, now);
    const words = lanes.map((l) => {
      const parts = l.spans.map((s) => `${KINDS[s.kind] || s.kind} ${duration((Date.parse(s.to) - Date.parse(s.from)) / 1000)}${s.open ? ' so far' : ''}`);
      return `${laneName(l)} (${l.state}): ${parts.length ? parts.join(', ') : 'no time reported'}`;
    }).join('; ');
    let label = `Timeline of the deployment, ${duration(total / 1000)} in all. ${words}.`;
    if (eta) {
      const steps = eta.steps.map((s) => `${LANES[s.segment]} by ${clock(s.expectedAt)} (90%: ${clock(s.p90At)})`).join(', ');
      const bases = [...new Set(eta.steps.map((s) => s.basis).filter(Boolean))];
      label += ` Expected: ${steps}; live at ${clock(eta.liveAt)} (90%: ${clock(eta.liveP90At)})${bases.length ? `, from past deployments of ${bases.join(', then ')}` : ''}.`;
    }
    const right = eta ? 190 : 80;
    const height = rows.length * ROW_H + 6;
    const drawing = svg('svg', {
      role: 'img', 'aria-label': label, class: 'chart-svg',
      viewBox: `0 0 ${LABEL_W + AXIS_W + right} ${height}`, width: LABEL_W + AXIS_W + right, height,
    }, svg('title', { text: label }));
    rows.forEach((r, i) => {
      const y = i * ROW_H + 3;
      const row = svg('g', { class: `row lane-${r.lane}${r.spans.length ? '' : ' expected'}`, 'data-lane': r.lane, 'data-name': r.name, 'data-state': r.state });
      row.append(svg('text', { x: 0, y: y + 16, class: 'key', text: r.label }));
      let last = LABEL_W;
      for (const s of r.spans) {
        const x0 = x(s.from);
        const width = Math.max(0, x(s.to) - x0);
        const secs = (Date.parse(s.to) - Date.parse(s.from)) / 1000;
        row.append(svg('rect', {
          x: x0.toFixed(2), y: y + 4, width: width.toFixed(2), height: ROW_H - 8,
          class: `span span-${s.kind}${s.open ? ' open' : ''}`, 'data-kind': s.kind, 'data-secs': Math.round(secs),
        }, svg('title', { text: `${r.label}, ${KINDS[s.kind] || s.kind}: ${duration(secs)}${s.open ? ' so far' : ''}` })));
        last = Math.max(last, x0 + width);
      }
      const e = r.expected;
      if (e) {
        const x0 = xAt(e.from);
        const secs = (e.to - e.from) / 1000;
        const name = LANES[e.segment];
        const samples = e.samples === null ? 'past durations' : `${e.samples} past ${e.samples === 1 ? 'duration' : 'durations'}`;
        const tip = `${name}, expected: ${duration(secs)}${r.spans.length ? ' more' : ''}, finishing at ${clock(e.expectedAt)} (median); by ${clock(e.p90At)} at the 90th percentile; from ${samples}${e.basis ? ` of ${e.basis}` : ''}`;
        row.append(svg('rect', {
          x: x0.toFixed(2), y: y + 4, width: Math.max(0, xAt(e.to) - x0).toFixed(2), height: ROW_H - 8,
          class: 'span span-expected', 'data-kind': 'expected', 'data-segment': e.segment, 'data-secs': Math.round(secs),
        }, svg('title', { text: tip })));
        if (e.p90 > e.to) {
          row.append(svg('line', {
            x1: xAt(e.to).toFixed(2), x2: xAt(e.p90).toFixed(2), y1: y + ROW_H / 2, y2: y + ROW_H / 2,
            class: 'p90', 'data-segment': e.segment,
          }, svg('title', { text: `${name}: by ${clock(e.p90At)} at the 90th percentile` })));
        }
        last = Math.max(last, xAt(e.p90));
      }
      row.append(svg('text', { x: last + 6, y: y + 16, class: 'value', text: r.state }));
      drawing.append(row);
    });
    if (eta) {
      const at = xAt(eta.liveAt).toFixed(2);
      drawing.append(svg('line', { x1: at, x2: at, y1: 0, y2: height, class: 'eta-line', 'data-at': new Date(eta.liveAt).toISOString() },
        svg('title', { text: `Expected live at ${clock(eta.liveAt)}` })));
    }
    const kinds = Object.entries(KINDS).map(([k, name]) => el('li', {}, el('span', { class: `swatch span-${k}` }), name));
    if (eta) {
      kinds.push(
        el('li', {}, el('span', { class: 'swatch span-expected' }), 'expected (median)'),
        el('li', {}, el('span', { class: 'swatch p90' }), '90th percentile'),
      );
    }
    const legend = el('ul', { class: 'legend', 'aria-hidden': 'true' }, ...kinds);
    $('timeline').replaceChildren(el('figure', { class: 'chart wide', 'data-metric': 'journey' }, drawing, legend));
  }

  // The deployment as /api/deployments shows it (its ETA), or null when it cannot be read:
  // the timeline is drawn without it.
  async function deploymentOf(id, partition, signal) {
    const q = new URLSearchParams({ deploymentId: id });
    if (partition) q.set('partition', partition);
    try {
      const response = await fetch(`api/deployments?${q}`, { headers: { Accept: 'application/json' }, signal });
      if (!response.ok) return null;
      const body = await response.json();
      return Array.isArray(body.deployments) ? body.deployments.find((d) => d && d.id === id) || null : null;
    } catch {
      return null;
    }
  }

  const REQUEST_TIMEOUT_MS = 60000;
  let inflight = null;

  async function load() {
    const params = new URLSearchParams(window.location.search);
    const id = params.get('id') || '';
    // One load at a time: a newer one (Refresh clicked again) replaces it, and one the
    // server does not answer within REQUEST_TIMEOUT_MS is given up.
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    let timedOut = false;
    const timeout = setTimeout(() => { timedOut = true; ctl.abort(); }, REQUEST_TIMEOUT_MS);
    const partition = params.get('partition');
    for (const a of [$('deployments-link'), $('insights-link')]) {
      if (partition) a.search = `?partition=${encodeURIComponent(partition)}`;
    }
    const banner = $('banner');
    try {
      if (!id) throw new Error('the address names no deployment (journey.html?id=...)');
      const query = partition ? `?partition=${encodeURIComponent(partition)}` : '';
      const deployment = deploymentOf(id, partition, ctl.signal);
      const response = await fetch(`api/deployments/${encodeURIComponent(id)}/journey${query}`, { headers: { Accept: 'application/json' }, signal: ctl.signal });
      const body = await response.json().catch(() => ({}));
      const shown = await deployment;
      if (inflight !== ctl) return;
      if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
      banner.hidden = true;
      draw(body, shown);
      $('last-updated').textContent = `Updated ${new Date(body.now).toLocaleTimeString()}`;
    } catch (e) {
      if (inflight !== ctl) return; // replaced by a newer load
      $('banner-text').textContent = `The journey could not be read: ${timedOut ? `the server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s` : e.message}`;
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
