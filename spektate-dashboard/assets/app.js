// The Spektate dashboard page: polls api/deployments and updates the table in place.
//
// Everything that comes from the server is shown with textContent or set as a DOM
// property, never parsed as HTML; links are followed only when they are http(s) URLs.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const FILTERS = ['service', 'author', 'ring', 'type', 'keyword'];
  const OFFLINE_RETRY_SECONDS = 5;
  const REQUEST_TIMEOUT_MS = 20000;

  const STATES = {
    inProgress: { label: 'In progress', icon: 'in-progress', spin: true },
    succeeded: { label: 'Succeeded', icon: 'succeeded' },
    failed: { label: 'Failed', icon: 'failed' },
    canceled: { label: 'Canceled', icon: 'canceled' },
    waitingForApproval: { label: 'Waiting for approval', icon: 'waiting' },
    incomplete: { label: 'Incomplete', icon: 'incomplete' },
  };
  const STEPS = {
    queued: { label: 'Queued', icon: 'queued' },
    inProgress: { label: 'In progress', icon: 'in-progress', spin: true },
    succeeded: { label: 'Succeeded', icon: 'succeeded' },
    failed: { label: 'Failed', icon: 'failed' },
    canceled: { label: 'Canceled', icon: 'canceled' },
    skipped: { label: 'Skipped', icon: 'skipped' },
    unknown: { label: 'Unknown: no report of this run yet', icon: 'unknown' },
    expired: { label: 'Expired: the CI no longer has this run', icon: 'expired' },
  };

  const $ = (id) => document.getElementById(id);
  const tbody = $('rows');
  const form = $('filters');

  // ---- State -------------------------------------------------------------------------------

  let view = readUrl();
  let serverRefresh = 30;
  let clockSkew = 0; // server clock minus this clock, in ms
  let lastGood = null; // the last successful response
  let lastGoodAt = null; // when it arrived, by this clock
  let failing = false;
  let timer = null;
  let inflight = null;
  let rendered = false;
  const rows = new Map(); // deployment id -> { tr, sig, key }
  const seen = { services: new Set(), authors: new Set(), rings: new Set() };

  // ---- Small DOM helpers (text only) -------------------------------------------------------

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

  function icon(name, extra) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', `icon${extra ? ` ${extra}` : ''}`);
    svg.setAttribute('aria-hidden', 'true');
    const use = document.createElementNS(SVG, 'use');
    use.setAttribute('href', `#i-${name}`);
    svg.append(use);
    return svg;
  }

  // An http(s) URL, or null: anything else (javascript:, data:, relative paths) is not a link.
  function safeHref(url) {
    if (typeof url !== 'string' || url === '') return null;
    try {
      const u = new URL(url);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch {
      return null;
    }
  }

  // A link when the URL is safe, plain text otherwise.
  function link(url, text, props = {}) {
    const href = safeHref(url);
    if (!href) return el('span', { ...props }, text);
    const a = el('a', { ...props, target: '_blank', rel: 'noopener noreferrer' }, text);
    a.href = href;
    return a;
  }

  const none = () => el('span', { class: 'none', text: '–' });

  // ---- Formatting --------------------------------------------------------------------------

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

  function duration(secs) {
    const s = Math.max(0, Math.floor(secs));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h > 0) return `${h}h ${m}m`;
    if (m > 0) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }

  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    const today = new Date().toDateString() === d.toDateString();
    return today
      ? d.toLocaleTimeString()
      : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  }

  function initials(name) {
    const parts = String(name).trim().split(/\s+/).filter(Boolean);
    const first = (word) => [...word][0] || '';
    const letters = parts.length > 1 ? first(parts[0]) + first(parts[parts.length - 1]) : first(parts[0] || '?');
    return letters.toUpperCase();
  }

  function hue(text) {
    let h = 0;
    for (const ch of String(text)) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  // ---- URL <-> view ------------------------------------------------------------------------

  function readUrl() {
    const p = new URLSearchParams(location.search);
    const v = { problems: [] };
    for (const f of FILTERS) v[f] = (p.get(f) || '').trim();
    const refresh = p.get('refresh');
    if (refresh !== null && refresh.trim() !== '') {
      const n = Number(refresh);
      if (Number.isInteger(n) && n >= 0 && n <= 86400) v.refresh = n;
      else v.problems.push(`refresh=${refresh} is not a number of seconds from 0 (paused) to 86400; using the server's interval`);
    }
    const limit = p.get('limit');
    if (limit !== null && limit.trim() !== '') v.limit = limit.trim();
    const partition = p.get('partition');
    if (partition !== null && partition.trim() !== '') v.partition = partition.trim();
    return v;
  }

  function writeUrl() {
    const p = new URLSearchParams();
    if (view.partition !== undefined) p.set('partition', view.partition);
    for (const f of FILTERS) if (view[f]) p.set(f, view[f]);
    if (view.refresh !== undefined) p.set('refresh', String(view.refresh));
    if (view.limit !== undefined) p.set('limit', view.limit);
    const qs = p.toString();
    if ((qs ? `?${qs}` : '') !== location.search) history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
  }

  function apiUrl() {
    const p = new URLSearchParams();
    for (const f of ['service', 'author', 'ring', 'keyword']) if (view[f]) p.set(f, view[f]);
    if (view.type) p.set('kind', view.type);
    if (view.limit !== undefined) p.set('limit', view.limit);
    if (view.partition !== undefined) p.set('partition', view.partition);
    const qs = p.toString();
    return `api/deployments${qs ? `?${qs}` : ''}`;
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

  function refreshSeconds() {
    return view.refresh !== undefined ? view.refresh : serverRefresh;
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    const every = refreshSeconds();
    if (every === 0 || document.hidden) return;
    const secs = failing ? Math.min(every, OFFLINE_RETRY_SECONDS) : every;
    timer = setTimeout(load, secs * 1000);
  }

  async function load() {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, REQUEST_TIMEOUT_MS);
    let res;
    let body = null;
    try {
      res = await fetch(apiUrl(), { signal: ctl.signal, headers: { Accept: 'application/json' }, cache: 'no-store' });
      const type = res.headers.get('content-type') || '';
      if (type.includes('application/json')) body = await res.json();
    } catch (e) {
      if (inflight !== ctl) return; // replaced by a newer request
      inflight = null;
      unreachable(timedOut ? 'the server did not answer within 20 s' : 'the connection failed');
      schedule();
      return;
    } finally {
      clearTimeout(timeout);
    }
    if (inflight !== ctl) return;
    inflight = null;
    if (res.ok && body && Array.isArray(body.deployments)) {
      reachable();
      render(body);
    } else if (body && typeof body.error === 'string') {
      // The server answered, with a reason: a bad filter in the URL, or no data yet.
      reachable();
      notice(body.error);
      if (!rendered) $('last-updated').textContent = 'No data yet';
    } else {
      unreachable(`it answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    schedule();
  }

  function unreachable(why) {
    failing = true;
    document.body.classList.add('offline');
    $('live').className = 'live down';
    const since = lastGood ? ` The table shows the data of ${clock(lastGood.refreshedAt)}.` : '';
    const every = refreshSeconds();
    const retry = every === 0 ? ' Automatic refresh is paused.' : ` Retrying every ${Math.min(every, OFFLINE_RETRY_SECONDS)} s.`;
    $('banner-text').textContent = `Cannot reach the Spektate server: ${why}.${since}${retry}`;
    $('banner').hidden = false;
  }

  function reachable() {
    failing = false;
    document.body.classList.remove('offline');
    $('banner').hidden = true;
  }

  function notice(text) {
    const problems = [...view.problems];
    if (text) problems.push(text);
    $('notice-text').textContent = problems.join(' · ');
    $('notice').hidden = problems.length === 0;
  }

  // ---- Rendering ---------------------------------------------------------------------------

  function render(body) {
    lastGood = body;
    lastGoodAt = Date.now();
    rendered = true;
    serverRefresh = Number.isInteger(body.refreshSeconds) && body.refreshSeconds > 0 ? body.refreshSeconds : serverRefresh;
    const serverNow = Date.parse(body.now);
    if (!Number.isNaN(serverNow)) clockSkew = serverNow - Date.now();

    renderPartitions(body);
    $('status-link').search = body.partition ? `?partition=${encodeURIComponent(body.partition)}` : '';
    $('viewer').textContent = body.viewer ? `Signed in as ${body.viewer}` : '';
    $('version').textContent = body.version ? `Spektate ${body.version}` : '';
    if (body.partition) document.title = `Spektate · ${body.partition}`;
    $('live').className = body.refreshError ? 'live stale' : 'live ok';
    notice(body.refreshError
      ? `The server could not refresh the deployments: ${body.refreshError}. Showing the data of ${clock(body.refreshedAt)}.`
      : '');
    updateClock();
    renderSummary(body);
    renderRows(body.deployments);
    const shown = body.deployments.length;
    $('shown').textContent = body.total > shown
      ? `Showing the newest ${shown} of ${body.total} deployments; add limit=${Math.min(body.total, 10000)} to the URL to see more.`
      : `${body.total} deployment${body.total === 1 ? '' : 's'}`;
    const every = refreshSeconds();
    $('cadence').textContent = every === 0 ? 'Automatic refresh paused (refresh=0)' : `Refreshes every ${every} s`;
    const empty = shown === 0;
    $('empty').hidden = !empty;
    $('deployments').hidden = empty;
    $('empty-text').textContent = FILTERS.some((f) => view[f])
      ? 'No deployments match these filters.'
      : 'No deployments yet. They appear here as soon as a pipeline records one.';
    $('empty-clear').hidden = !FILTERS.some((f) => view[f]);
    updateDatalists(body.deployments);
  }

  function updateClock() {
    if (!lastGood) return;
    const at = lastGood.refreshedAt;
    $('last-updated').textContent = `Last updated at ${clock(at)} (${ago(at)})`;
    $('last-updated').title = new Date(at).toISOString();
    for (const node of tbody.querySelectorAll('[data-time]')) node.textContent = ago(node.dataset.time);
  }

  // One partition: its name. Several the viewer may read: a picker that sets ?partition=.
  function renderPartitions(body) {
    const picker = $('partition-picker');
    const names = Array.isArray(body.partitions) ? body.partitions : [];
    const several = names.length > 1;
    $('partition').textContent = several ? '' : (body.partition || '');
    picker.hidden = !several;
    if (!several) return;
    const have = Array.from(picker.options).map((o) => o.value);
    if (have.join('\n') !== names.join('\n')) {
      picker.replaceChildren(...names.map((n) => el('option', { value: n }, n)));
    }
    picker.value = body.partition;
  }

  function partitionChanged() {
    const picked = $('partition-picker').value;
    view.partition = picked;
    writeUrl();
    load();
  }

  function renderSummary(body) {
    const s = body.summary || {};
    const parts = [el('span', { class: 'total', text: `${body.total} deployment${body.total === 1 ? '' : 's'}` })];
    for (const [key, meta] of Object.entries(STATES)) {
      const n = s[key] || 0;
      if (n === 0) continue;
      parts.push(el('span', { class: 'pill', data: { state: key } }, icon(meta.icon, `s-${key}`), `${n} ${meta.label.toLowerCase()}`));
    }
    if (s.synced) parts.push(el('span', { class: 'pill', data: { state: 'synced' } }, icon('cluster', 's-succeeded'), `${s.synced} synced`));
    $('summary').replaceChildren(...parts);
  }

  function renderRows(deployments) {
    const keep = new Set();
    let cursor = tbody.firstChild;
    for (const d of deployments) {
      keep.add(d.id);
      const sig = JSON.stringify(d);
      const key = progressKey(d);
      let row = rows.get(d.id);
      if (!row) {
        row = { tr: el('tr'), sig: null, key };
        rows.set(d.id, row);
      }
      if (row.sig !== sig) {
        fillRow(row.tr, d);
        if (rendered && row.sig !== null && row.key !== key) flash(row.tr);
        row.sig = sig;
        row.key = key;
      }
      if (row.tr === cursor) cursor = cursor.nextSibling;
      else tbody.insertBefore(row.tr, cursor);
    }
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
  }

  // What counts as the deployment having moved: its state, its steps, its PR, its clusters.
  function progressKey(d) {
    const steps = ['image', 'metadata', 'manifest'].map((s) => (d[s] ? `${d[s].id}:${d[s].state}` : '-'));
    const pr = d.pullRequest ? `${d.pullRequest.merged}` : '-';
    return [d.state, ...steps, pr, (d.clusters || []).map((c) => c.cluster).join(',')].join('|');
  }

  function flash(tr) {
    tr.classList.remove('flash');
    void tr.offsetWidth; // restart the animation
    tr.classList.add('flash');
    tr.addEventListener('animationend', () => tr.classList.remove('flash'), { once: true });
  }

  function fillRow(tr, d) {
    tr.dataset.id = d.id;
    tr.dataset.state = d.state;
    tr.dataset.kind = d.kind;
    const links = d.links || {};
    tr.replaceChildren(
      el('td', { class: 'c-state' }, stateCell(d)),
      el('td', { class: 'c-service' }, serviceCell(d, links)),
      el('td', { class: 'c-ring' }, d.ring ? el('span', { class: 'ring', text: d.ring }) : none()),
      el('td', { class: 'c-author' }, person(d.author, links.author)),
      el('td', { class: 'c-image' }, stepCell('Image creation', d.image, links.imageRun, d.commitId && commitLink(d.commitId, links.commit))),
      el('td', { class: 'c-metadata' }, metadataCell(d, links)),
      el('td', { class: 'c-pr' }, prCell(d, links)),
      el('td', { class: 'c-merged' }, mergedCell(d, links)),
      el('td', { class: 'c-manifest' }, stepCell('Ready to deploy', d.manifest, links.manifestRun, d.manifestCommitId && commitLink(d.manifestCommitId, links.manifestCommit))),
      el('td', { class: 'c-updated' }, updatedCell(d)),
      el('td', { class: 'c-clusters' }, clustersCell(d)),
    );
  }

  function stateCell(d) {
    const meta = STATES[d.state] || STATES.incomplete;
    const label = el('span', { class: 'state-label', text: meta.label });
    const cell = el('span', { class: `state s-${d.state}`, title: `Status: ${d.status}` }, icon(meta.icon, meta.spin ? 'spin' : ''), label);
    if (Array.isArray(d.warnings) && d.warnings.length) {
      cell.append(el('span', { class: 'warn', text: '⚠', title: d.warnings.join('\n') }));
    }
    return cell;
  }

  function serviceCell(d, links) {
    if (d.kind === 'manualHldEdit') {
      return el('span', { class: 'hld-edit', title: 'A change made straight in the HLD repository' }, 'Manual HLD edit');
    }
    if (!d.service) return none();
    return link(links.sourceRepo, d.service, { class: 'service', title: d.record && d.record.service ? d.record.service : d.service });
  }

  function person(p, url) {
    if (!p || !p.name) return none();
    const avatar = el('span', { class: 'avatar', text: initials(p.name) });
    avatar.style.background = `hsl(${hue(p.login || p.name)} 55% 45%)`;
    const details = [p.email, p.login && `@${p.login}`].filter(Boolean).join(' · ');
    return el('span', { class: 'person', title: details || p.name }, avatar, link(url, p.name, { class: 'name' }));
  }

  function commitLink(sha, url) {
    return link(url, short(sha), { class: 'mono commit', title: sha });
  }

  function stepCell(what, step, runUrl, sub) {
    if (!step) return none();
    const meta = STEPS[step.state] || STEPS.unknown;
    const run = step.run || {};
    const number = run.number || step.id;
    const tips = [`${what}: ${meta.label}`, `run ${number}`];
    if (run.pipeline) tips.push(run.pipeline);
    if (run.queuedAt) tips.push(`queued ${clock(run.queuedAt)}`);
    if (run.finishedAt) tips.push(`finished ${clock(run.finishedAt)}`);
    const line = el('span', { class: 'step', title: tips.join(' · '), data: { state: step.state } },
      icon(meta.icon, `s-${step.state}${meta.spin ? ' spin' : ''}`),
      link(runUrl, number, { class: 'run' }));
    return el('span', { class: 'step-line' }, line, sub ? el('span', { class: 'sub' }, sub) : null);
  }

  function metadataCell(d, links) {
    if (d.kind === 'manualHldEdit' && !d.metadata) {
      if (!d.hldCommitId) return none();
      return el('span', { class: 'step-line' },
        el('span', { class: 'step', title: 'HLD commit' }, icon('succeeded', 's-succeeded'), commitLink(d.hldCommitId, links.hldCommit)));
    }
    return stepCell('Metadata update', d.metadata, links.metadataRun, d.imageTag && el('span', { class: 'mono tag', text: d.imageTag }));
  }

  function prCell(d, links) {
    if (!d.pr) return none();
    const pr = d.pullRequest;
    const box = el('span', { class: 'pr' }, link(links.pullRequest, `#${d.pr}`, { class: 'pr-id' }));
    if (pr && pr.title) {
      const branches = [pr.sourceBranch, pr.targetBranch].filter(Boolean).join(' → ');
      box.append(el('span', { class: 'pr-title', title: branches ? `${pr.title}\n${branches}` : pr.title, text: pr.title }));
    }
    return box;
  }

  function mergedCell(d, links) {
    const pr = d.pullRequest;
    if (!pr) return none();
    if (pr.mergedBy) {
      const cell = person(pr.mergedBy, links.mergedBy);
      if (pr.mergedAt) cell.title = `${cell.title} · merged ${clock(pr.mergedAt)}`;
      return cell;
    }
    if (pr.closed) return el('span', { class: 'none', text: 'Closed, not merged' });
    return el('span', { class: 'none', text: pr.merged ? 'Merged' : 'Not merged yet' });
  }

  function updatedCell(d) {
    const box = el('span', { class: 'when', title: new Date(d.lastUpdated).toISOString() });
    box.append(el('span', { class: 'ago', data: { time: d.lastUpdated }, text: ago(d.lastUpdated) }));
    if (Number.isFinite(d.durationSecs)) box.append(el('span', { class: 'took', text: `took ${duration(d.durationSecs)}` }));
    return box;
  }

  function clustersCell(d) {
    if (!Array.isArray(d.clusters) || d.clusters.length === 0) return none();
    return el('span', { class: 'clusters' }, ...d.clusters.map((c) => {
      const tips = [`${c.cluster} runs ${short(c.commit)}`];
      if (c.syncedAt) tips.push(`since ${clock(c.syncedAt)}`);
      if (c.tagger) tips.push(`reported by ${c.tagger}`);
      return el('span', { class: 'cluster', title: tips.join(' · ') }, icon('cluster'), c.cluster);
    }));
  }

  function updateDatalists(deployments) {
    for (const d of deployments) {
      if (d.service) seen.services.add(d.service);
      if (d.ring) seen.rings.add(d.ring);
      if (d.author && d.author.name) seen.authors.add(d.author.name);
    }
    const fill = (id, values) => {
      const list = $(id);
      if (list.options.length === values.size) return;
      list.replaceChildren(...[...values].sort().map((v) => { const o = document.createElement('option'); o.value = v; return o; }));
    };
    fill('services', seen.services);
    fill('rings', seen.rings);
    fill('authors', seen.authors);
  }

  // ---- Events ------------------------------------------------------------------------------

  let typing = null;
  function filtersChanged(now) {
    clearTimeout(typing);
    const apply = () => {
      for (const f of FILTERS) view[f] = form.elements.namedItem(f).value.trim();
      syncForm();
      writeUrl();
      load();
    };
    if (now) apply();
    else typing = setTimeout(apply, 250);
  }

  function clearFilters() {
    for (const f of FILTERS) view[f] = '';
    syncForm();
    writeUrl();
    load();
  }

  form.addEventListener('input', (e) => filtersChanged(e.target.tagName === 'SELECT'));
  form.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') filtersChanged(true); });
  form.addEventListener('submit', (e) => { e.preventDefault(); filtersChanged(true); });
  $('clear').addEventListener('click', clearFilters);
  $('empty-clear').addEventListener('click', clearFilters);
  $('retry').addEventListener('click', load);
  $('refresh-now').addEventListener('click', load);
  $('partition-picker').addEventListener('change', partitionChanged);
  document.addEventListener('keydown', (e) => {
    const typingInField = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement && document.activeElement.tagName);
    if (e.key === '/' && !typingInField && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      form.elements.namedItem('keyword').focus();
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else {
      const every = refreshSeconds();
      const stale = !lastGoodAt || Date.now() - lastGoodAt >= every * 1000;
      if (every !== 0 && stale) load();
      else schedule();
    }
  });
  setInterval(updateClock, 10000);

  syncForm();
  writeUrl();
  notice('');
  load();
})();
