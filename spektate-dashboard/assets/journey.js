// The journey page: reads api/deployments/{id}/journey and draws the deployment's timeline in
// inline SVG built here: a lane per step with its waiting, queued and running spans, the
// approval pull request's wait, and each cluster's sync lag, on one time axis. The drawing
// has a <title> and an aria-label that say the same in words.
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

  function draw(body) {
    $('partition').textContent = body.partition || '';
    const what = [body.service, body.ring, body.imageTag].filter(Boolean).join(' · ');
    $('heading').textContent = `Journey of ${what || body.id}`;
    const t = body.timeline || {};
    const lanes = Array.isArray(t.lanes) ? t.lanes : [];
    const start = Date.parse(t.start);
    const end = Date.parse(t.end);
    if (lanes.length === 0 || Number.isNaN(start) || Number.isNaN(end)) {
      $('span').textContent = 'No step of this deployment reported a time yet.';
      $('timeline').replaceChildren();
      return;
    }
    const total = Math.max(1, end - start);
    $('span').textContent = `${duration(total / 1000)} from ${new Date(start).toISOString().replace('.000Z', 'Z')} to ${new Date(end).toISOString().replace('.000Z', 'Z')}.`;
    const x = (iso) => LABEL_W + ((Date.parse(iso) - start) / total) * AXIS_W;
    const words = lanes.map((l) => {
      const parts = l.spans.map((s) => `${KINDS[s.kind] || s.kind} ${duration((Date.parse(s.to) - Date.parse(s.from)) / 1000)}${s.open ? ' so far' : ''}`);
      return `${laneName(l)} (${l.state}): ${parts.length ? parts.join(', ') : 'no time reported'}`;
    }).join('; ');
    const label = `Timeline of the deployment, ${duration(total / 1000)} in all. ${words}.`;
    const height = lanes.length * ROW_H + 6;
    const drawing = svg('svg', {
      role: 'img', 'aria-label': label, class: 'chart-svg',
      viewBox: `0 0 ${LABEL_W + AXIS_W + 80} ${height}`, width: LABEL_W + AXIS_W + 80, height,
    }, svg('title', { text: label }));
    lanes.forEach((l, i) => {
      const y = i * ROW_H + 3;
      const row = svg('g', { class: `row lane-${l.lane}`, 'data-lane': l.lane, 'data-name': l.name ?? '', 'data-state': l.state });
      row.append(svg('text', { x: 0, y: y + 16, class: 'key', text: laneName(l) }));
      for (const s of l.spans) {
        const x0 = x(s.from);
        const width = Math.max(0, x(s.to) - x0);
        const secs = (Date.parse(s.to) - Date.parse(s.from)) / 1000;
        row.append(svg('rect', {
          x: x0.toFixed(2), y: y + 4, width: width.toFixed(2), height: ROW_H - 8,
          class: `span span-${s.kind}${s.open ? ' open' : ''}`, 'data-kind': s.kind, 'data-secs': Math.round(secs),
        }, svg('title', { text: `${laneName(l)}, ${KINDS[s.kind] || s.kind}: ${duration(secs)}${s.open ? ' so far' : ''}` })));
      }
      const last = l.spans.length ? x(l.spans[l.spans.length - 1].to) : LABEL_W;
      row.append(svg('text', { x: last + 6, y: y + 16, class: 'value', text: l.state }));
      drawing.append(row);
    });
    const legend = el('ul', { class: 'legend', 'aria-hidden': 'true' },
      ...Object.entries(KINDS).map(([k, name]) => el('li', {}, el('span', { class: `swatch span-${k}` }), name)));
    $('timeline').replaceChildren(el('figure', { class: 'chart wide', 'data-metric': 'journey' }, drawing, legend));
  }

  async function load() {
    const params = new URLSearchParams(window.location.search);
    const id = params.get('id') || '';
    const partition = params.get('partition');
    for (const a of [$('deployments-link'), $('insights-link')]) {
      if (partition) a.search = `?partition=${encodeURIComponent(partition)}`;
    }
    const banner = $('banner');
    try {
      if (!id) throw new Error('the address names no deployment (journey.html?id=...)');
      const query = partition ? `?partition=${encodeURIComponent(partition)}` : '';
      const response = await fetch(`api/deployments/${encodeURIComponent(id)}/journey${query}`, { headers: { Accept: 'application/json' } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
      banner.hidden = true;
      draw(body);
      $('last-updated').textContent = `Updated ${new Date(body.now).toLocaleTimeString()}`;
    } catch (e) {
      $('banner-text').textContent = `The journey could not be read: ${e.message}`;
      banner.hidden = false;
      $('last-updated').textContent = '';
    }
  }

  $('refresh-now').addEventListener('click', load);
  load();
})();
