// Where each service is running: polls api/status and draws a grid, one row per service and
// ring, one column per cluster; each cell the image tag live there, since when, and how far
// behind the newest image of its service and ring it is.
//
// Everything that comes from the server is shown with textContent or set as a DOM property,
// never parsed as HTML.
'use strict';

(() => {
  const FILTERS = ['service', 'ring', 'imageTag', 'cluster'];
  // The other names /api/status takes for a filter.
  const ALIASES = { ring: ['env'], imageTag: ['image-tag'] };
  const OFFLINE_RETRY_SECONDS = 5;
  const REQUEST_TIMEOUT_MS = 20000;

  const $ = (id) => document.getElementById(id);
  const form = $('filters');

  let view = readUrl();
  let serverRefresh = 30;
  let clockSkew = 0; // server clock minus this clock, in ms
  let lastGood = null;
  let failing = false;
  let timer = null;
  let inflight = null;

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = String(v);
        else if (k === 'title') node.title = String(v);
        else if (k === 'data') Object.assign(node.dataset, v);
        else node.setAttribute(k, String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const short = (sha) => (typeof sha === 'string' ? sha.slice(0, 7) : '');

  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    const s = Math.floor((Date.now() + clockSkew - t) / 1000);
    const unit = (n, u) => (n === 1 ? `1 ${u} ago` : `${n} ${u}s ago`);
    if (s < 10) return 'just now';
    if (s < 60) return unit(s, 'second');
    if (s < 3600) return unit(Math.floor(s / 60), 'minute');
    if (s < 86400) return unit(Math.floor(s / 3600), 'hour');
    return unit(Math.floor(s / 86400), 'day');
  }

  function clock(iso) {
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? 'an unknown time' : t.toLocaleTimeString();
  }

  // ---- URL <-> view ------------------------------------------------------------------------

  function readUrl() {
    const p = new URLSearchParams(location.search);
    const v = {};
    for (const f of FILTERS) {
      const given = [f, ...(ALIASES[f] || [])].map((name) => (p.get(name) || '').trim()).find(Boolean);
      v[f] = given || '';
    }
    const partition = (p.get('partition') || '').trim();
    if (partition) v.partition = partition;
    return v;
  }

  function query(names) {
    const p = new URLSearchParams();
    if (view.partition) p.set('partition', view.partition);
    for (const f of names) if (view[f]) p.set(f, view[f]);
    const qs = p.toString();
    return qs ? `?${qs}` : '';
  }

  function writeUrl() {
    const qs = query(FILTERS);
    if (qs !== location.search) history.replaceState(null, '', qs || location.pathname);
    $('deployments-link').href = `index.html${query(['service', 'ring'])}`;
  }

  function syncForm() {
    for (const f of FILTERS) {
      const input = form.elements.namedItem(f);
      if (input.value !== view[f]) input.value = view[f];
      input.classList.toggle('active', Boolean(view[f]));
    }
    $('clear').hidden = !FILTERS.some((f) => view[f]);
  }

  // ---- Loading -----------------------------------------------------------------------------

  function schedule() {
    clearTimeout(timer);
    if (document.hidden) return;
    const every = failing ? Math.min(serverRefresh, OFFLINE_RETRY_SECONDS) : serverRefresh;
    timer = setTimeout(load, every * 1000);
  }

  async function load() {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    let timedOut = false;
    const timeout = setTimeout(() => { timedOut = true; ctl.abort(); }, REQUEST_TIMEOUT_MS);
    let res;
    let body = null;
    try {
      res = await fetch(`api/status${query(FILTERS)}`, { signal: ctl.signal, headers: { Accept: 'application/json' }, cache: 'no-store' });
      if ((res.headers.get('content-type') || '').includes('application/json')) body = await res.json();
    } catch {
      if (inflight !== ctl) return;
      inflight = null;
      unreachable(timedOut ? 'the server did not answer within 20 s' : 'the connection failed');
      schedule();
      return;
    } finally {
      clearTimeout(timeout);
    }
    if (inflight !== ctl) return;
    inflight = null;
    // Whatever showing the answer throws, the next refresh stays scheduled.
    try {
      if (res.ok && body && Array.isArray(body.placements)) {
        reachable();
        render(body);
      } else if (body && typeof body.error === 'string') {
        reachable();
        notice(body.error);
        if (!lastGood) $('last-updated').textContent = 'No data yet';
      } else {
        unreachable(`it answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      }
    } catch (e) {
      notice(`The page could not show the server's answer: ${e && e.message ? e.message : e}`);
    } finally {
      schedule();
    }
  }

  function unreachable(why) {
    failing = true;
    document.body.classList.add('offline');
    live('down', 'Cannot reach the server');
    const since = lastGood ? ` The grid shows the data of ${clock(lastGood.refreshedAt)}.` : '';
    $('banner-text').textContent = `Cannot reach the Spektate server: ${why}.${since} Retrying every ${Math.min(serverRefresh, OFFLINE_RETRY_SECONDS)} s.`;
    $('banner').hidden = false;
  }

  function reachable() {
    failing = false;
    document.body.classList.remove('offline');
    $('banner').hidden = true;
  }

  // The connection dot: its colour, and the same in words for those who cannot see it.
  function live(state, words) {
    $('live').className = `live ${state}`;
    $('live').title = words;
    $('live').setAttribute('aria-label', words);
  }

  function notice(text) {
    $('notice-text').textContent = text || '';
    $('notice').hidden = !text;
  }

  // ---- Rendering ---------------------------------------------------------------------------

  function render(body) {
    lastGood = body;
    if (Number.isInteger(body.refreshSeconds) && body.refreshSeconds > 0) serverRefresh = body.refreshSeconds;
    const serverNow = Date.parse(body.now);
    if (!Number.isNaN(serverNow)) clockSkew = serverNow - Date.now();
    renderPartitions(body);
    $('viewer').textContent = body.viewer ? `Signed in as ${body.viewer}` : '';
    $('version').textContent = body.version ? `Spektate ${body.version}` : '';
    if (body.partition) document.title = `Spektate · ${body.partition} · where is each service running?`;
    if (body.refreshError) live('stale', 'Connected; the server could not refresh the placements');
    else live('ok', 'Connected');
    notice(body.refreshError ? `The server could not refresh the deployments: ${body.refreshError}. Showing the data of ${clock(body.refreshedAt)}.` : '');
    $('last-updated').textContent = `Last updated at ${clock(body.refreshedAt)} (${ago(body.refreshedAt)})`;
    renderGrid(Array.isArray(body.clusters) ? body.clusters : [], body.placements);
    const rows = $('grid-rows').children.length;
    $('shown').textContent = `${rows} service${rows === 1 ? '' : 's'} × ${body.clusters.length} cluster${body.clusters.length === 1 ? '' : 's'}`;
    $('cadence').textContent = `Refreshes every ${serverRefresh} s`;
    const empty = body.placements.length === 0;
    $('empty').hidden = !empty;
    $('grid').hidden = empty;
    $('empty-text').textContent = FILTERS.some((f) => view[f])
      ? 'Nothing live matches these filters.'
      : 'No service is live in any cluster yet: no agent reported a commit of a deployment shown.';
  }

  function renderPartitions(body) {
    const picker = $('partition-picker');
    const names = Array.isArray(body.partitions) ? body.partitions : [];
    const several = names.length > 1;
    $('partition').textContent = several ? '' : (body.partition || '');
    picker.hidden = !several;
    if (!several) return;
    if ([...picker.options].map((o) => o.value).join('\n') !== names.join('\n')) {
      picker.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    }
    picker.value = body.partition;
  }

  function label(value, fallback) {
    return typeof value === 'string' && value !== '' ? value : fallback;
  }

  // One row per service and ring (in the server's order), one column per cluster.
  function renderGrid(clusters, placements) {
    $('grid-head').replaceChildren(
      el('th', { scope: 'col', text: 'Service' }),
      el('th', { scope: 'col', text: 'Ring' }),
      ...clusters.map((c) => el('th', { scope: 'col', class: 'cluster-head', data: { cluster: c } }, c)),
    );
    const rows = new Map();
    for (const p of placements) {
      const key = JSON.stringify([p.service ?? null, p.ring ?? null]);
      if (!rows.has(key)) rows.set(key, { service: p.service, ring: p.ring, cells: new Map() });
      rows.get(key).cells.set(p.cluster, p);
    }
    const trs = [];
    for (const row of rows.values()) {
      const tr = el('tr', { data: { service: label(row.service, ''), ring: label(row.ring, '') } },
        el('th', { scope: 'row', class: 'service' }, label(row.service, '(no service)')),
        el('td', {}, el('span', { class: 'ring' }, label(row.ring, '–'))));
      for (const c of clusters) {
        const p = row.cells.get(c);
        tr.append(p ? cell(p) : el('td', { class: 'placement absent', data: { cluster: c }, title: `Not live in ${c}` }, el('span', { class: 'none', text: '–' })));
      }
      trs.push(tr);
    }
    $('grid-rows').replaceChildren(...trs);
  }

  function cell(p) {
    const behind = p.behind || {};
    const n = Number.isInteger(behind.images) ? behind.images : 0;
    const commit = el('span', { class: 'commit mono', title: p.exact ? `${p.cluster} runs this deployment's commit ${p.commit}` : `${p.cluster} runs ${p.commit}, a later commit of the same repository; this tag is still live there` },
      p.exact ? short(p.commit) : `${short(p.commit)} (later)`);
    let since = '';
    if (p.since) since = p.exact ? `since ${ago(p.since)}` : `since ${ago(p.since)} or earlier`;
    const sinceNode = el('span', { class: 'since', title: p.since ? new Date(p.since).toISOString() : 'The agent said no time' }, since || 'since: not reported');
    let lag;
    if (n === 0) {
      lag = el('span', { class: 'behind current', data: { behind: '0' } }, 'up to date');
    } else {
      const built = behind.newestBuiltAt ? `, built ${ago(behind.newestBuiltAt)}` : '';
      lag = el('span', { class: 'behind late', data: { behind: String(n) }, title: `${n} newer image${n === 1 ? '' : 's'} of this service were sent to this ring` },
        `${n} behind: ${label(behind.newestTag, '?')}${built}`);
    }
    return el('td', { class: `placement${n === 0 ? '' : ' lagging'}`, data: { cluster: p.cluster, deployment: p.deploymentId } },
      el('span', { class: 'tag mono' }, label(p.imageTag, '–')), commit, sinceNode, lag);
  }

  // ---- Events ------------------------------------------------------------------------------

  let typing = null;
  form.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      for (const f of FILTERS) view[f] = form.elements.namedItem(f).value.trim();
      writeUrl();
      syncForm();
      load();
    }, 250);
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  $('clear').addEventListener('click', () => {
    for (const f of FILTERS) view[f] = '';
    writeUrl();
    syncForm();
    load();
  });
  $('partition-picker').addEventListener('change', () => {
    view.partition = $('partition-picker').value;
    writeUrl();
    load();
  });
  $('refresh-now').addEventListener('click', load);
  $('retry').addEventListener('click', load);
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) clearTimeout(timer);
    else load();
  });

  syncForm();
  writeUrl();
  load();
})();
