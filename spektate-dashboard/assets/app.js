// The Spektate dashboard page: polls api/deployments and updates the table in place.
//
// Everything that comes from the server is shown with textContent or set as a DOM
// property, never parsed as HTML; links are followed only when they are http(s) URLs.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const MULTI = ['service', 'author', 'ring'];
  const MANUAL = 'manual-hld-edit';
  const DEFAULT_TYPES = ['deployment']; // manual HLD edits are hidden until asked for
  const DEFAULT_ROWS = 50;
  const MORE_ROWS = 50;
  const MAX_ROWS = 10000;
  const OFFLINE_RETRY_SECONDS = 5; // the first retry after a failure, at most
  const MAX_RETRY_SECONDS = 60; // retries double up to this while the server stays away
  const REQUEST_TIMEOUT_MS = 20000;
  const MAX_PICKS = 50; // values of one filter the API takes (api.rs, MAX_VALUES)

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
  // The segments of a journey an ETA names, as the columns that show them.
  const SEGMENTS = {
    image: 'Image creation',
    metadata: 'Metadata update',
    approval: 'Approval pull request',
    manifests: 'Ready to deploy',
    sync: 'Cluster sync',
  };
  const BASES = {
    serviceRing: 'this service and ring',
    service: 'this service',
    all: 'every deployment',
  };
  const basisOf = (b) => (typeof b === 'string' && Object.hasOwn(BASES, b) ? BASES[b] : null);
  const EXPIRED_TIP = 'the CI no longer keeps these runs; shown from what was recorded and last fetched';

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
  let failures = 0; // failed loads in a row
  let retryAfter = 0; // seconds the server asked to wait (Retry-After), 0 if none
  let timer = null;
  let inflight = null;
  let rendered = false;
  const rows = new Map(); // deployment id -> { tr, sig, key }

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
  //
  // The original dashboard's parameters keep working: `service`, `author`, `env` (or `ring`)
  // and `type` may repeat (any of the values), `keyword`, `limit` (rows shown, default 50)
  // and `refresh` (seconds). `type` takes the original words too ("Bedrock Deployments",
  // "Manual HLD Edits"). Without `type`, manual HLD edits are hidden.

  function typeWord(value) {
    const w = String(value).toLowerCase().replace(/[^a-z0-9]/g, '');
    if (['deployment', 'deployments', 'bedrockdeployment', 'bedrockdeployments'].includes(w)) return 'deployment';
    if (['manualhldedit', 'manualhldedits', 'hldedit', 'hldedits', 'manual'].includes(w)) return MANUAL;
    return String(value); // the server says what is wrong with it
  }

  // The page's column (a th[data-sort]) for a word the server sorts by, folded as the server
  // folds it (ASCII letters and digits, lower-cased: `merged-by`, `Service`); null for others.
  function sortColumn(word) {
    const columns = {
      service: 'service',
      ring: 'ring',
      env: 'ring',
      author: 'author',
      mergedby: 'mergedBy',
      lastupdated: 'lastUpdated',
      updated: 'lastUpdated',
    };
    const folded = String(word).replace(/[^A-Za-z0-9]/g, '').toLowerCase();
    return Object.hasOwn(columns, folded) ? columns[folded] : null;
  }

  // 'asc' or 'desc' for an `order` word the server takes (any case; none is asc); null for others.
  function sortOrder(word) {
    const w = String(word).trim().toLowerCase();
    if (w === 'desc' || w === 'descending') return 'desc';
    if (w === '' || w === 'asc' || w === 'ascending') return 'asc';
    return null;
  }

  function distinct(values) {
    return [...new Set(values.map((v) => v.trim()).filter(Boolean))];
  }

  function readUrl() {
    const p = new URLSearchParams(location.search);
    const v = { problems: [] };
    v.service = distinct(p.getAll('service'));
    v.author = distinct(p.getAll('author'));
    v.ring = distinct([...p.getAll('ring'), ...p.getAll('env')]);
    v.ringParam = p.has('env') && !p.has('ring') ? 'env' : 'ring';
    for (const f of MULTI) {
      if (v[f].length > MAX_PICKS) {
        v.problems.push(`${v[f].length} ${f} values given; filtering by the first ${MAX_PICKS}`);
        v[f] = v[f].slice(0, MAX_PICKS);
      }
    }
    const types = distinct(p.getAll('type').map(typeWord));
    v.type = types.length ? types : [...DEFAULT_TYPES];
    v.keyword = (p.get('keyword') || '').trim();
    const sort = (p.get('sort') || '').trim();
    if (sort) {
      const column = sortColumn(sort);
      const order = sortOrder(p.get('order') || '');
      if (!column) v.problems.push(`sort=${sort} is not one of service, ring, author, mergedBy, lastUpdated; showing the newest first`);
      else if (!order) v.problems.push(`order=${p.get('order')} is not asc or desc; sorting ascending`);
      if (column) v.sort = { column, order: order || 'asc' };
    }
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
    v.includeExpired = false;
    const expired = p.get('includeExpired');
    if (expired !== null && expired.trim() !== '') {
      const w = expired.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(w)) v.includeExpired = true;
      else if (!['false', '0', 'no'].includes(w)) v.problems.push(`includeExpired=${expired} is not true or false; expired deployments stay hidden`);
    }
    return v;
  }

  function typeIsDefault() {
    return view.type.length === DEFAULT_TYPES.length && view.type.every((t) => DEFAULT_TYPES.includes(t));
  }

  function filtered() {
    return MULTI.some((f) => view[f].length > 0) || Boolean(view.keyword) || !typeIsDefault() || view.includeExpired;
  }

  // The filters as query parameters, in the order of the form; the type only when it is not
  // the default, so a plain link stays plain.
  function filterParams(p, ringName, api) {
    for (const v of view.service) p.append('service', v);
    // The picker's names are whole names: in double quotes, the API matches only the whole.
    for (const v of view.author) p.append('author', api ? `"${v}"` : v);
    for (const v of view.ring) p.append(ringName, v);
    if (!typeIsDefault()) for (const v of view.type) p.append('type', v);
    if (view.includeExpired) p.set('includeExpired', 'true');
    if (view.keyword) p.set('keyword', view.keyword);
    if (view.sort) {
      p.set('sort', view.sort.column);
      if (view.sort.order === 'desc') p.set('order', 'desc');
    }
  }

  function writeUrl() {
    const p = new URLSearchParams();
    if (view.partition !== undefined) p.set('partition', view.partition);
    filterParams(p, view.ringParam);
    if (view.refresh !== undefined) p.set('refresh', String(view.refresh));
    if (view.limit !== undefined) p.set('limit', view.limit);
    const qs = p.toString();
    if ((qs ? `?${qs}` : '') !== location.search) history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
  }

  function apiUrl() {
    const p = new URLSearchParams();
    filterParams(p, 'ring', true);
    if (typeIsDefault()) p.set('type', DEFAULT_TYPES[0]);
    p.set('limit', view.limit !== undefined ? view.limit : String(DEFAULT_ROWS));
    if (view.partition !== undefined) p.set('partition', view.partition);
    return `api/deployments?${p.toString()}`;
  }

  function syncForm() {
    const keyword = form.elements.namedItem('keyword');
    if (keyword.value !== view.keyword) keyword.value = view.keyword;
    keyword.classList.toggle('active', Boolean(view.keyword));
    for (const f of MULTI) syncMulti(f);
    const boxes = [...form.querySelectorAll('input[name=type]')];
    for (const box of boxes) box.checked = view.type.includes(box.value);
    // At least one type stays shown: the last one checked cannot be unchecked.
    const checked = boxes.filter((b) => b.checked);
    for (const box of boxes) {
      box.disabled = checked.length === 1 && box.checked;
      box.title = box.disabled ? 'At least one type is shown' : '';
    }
    $('types').classList.toggle('active', !typeIsDefault());
    const expired = form.elements.namedItem('includeExpired');
    expired.checked = view.includeExpired;
    $('history').classList.toggle('active', view.includeExpired);
    $('clear').hidden = !filtered();
    syncSortHeaders();
  }

  // ---- Multi-select filters ----------------------------------------------------------------

  // What each multi-select offers: the server's list of the partition's values, plus what
  // the URL picked (so a value no deployment has any more can still be unpicked).
  const offered = { service: [], author: [], ring: [] };

  function multiBox(name) {
    return form.querySelector(`details.multi[data-name="${name}"]`);
  }

  function syncMulti(name) {
    const box = multiBox(name);
    const picked = view[name];
    const values = [...new Set([...offered[name], ...picked])].sort((a, b) => a.localeCompare(b));
    const list = box.querySelector('.choices');
    const have = [...list.querySelectorAll('input')].map((i) => i.value);
    if (have.join('\n') !== values.join('\n')) {
      list.replaceChildren(...values.map((v) => {
        const input = el('input', { type: 'checkbox', name, value: v });
        return el('label', { class: 'choice' }, input, el('span', { text: v }));
      }));
      if (values.length === 0) list.append(el('p', { class: 'none', text: 'Nothing to pick yet' }));
      filterChoices(box);
    }
    // The API takes at most MAX_PICKS values a filter: the others wait until one is unpicked.
    const full = picked.length >= MAX_PICKS;
    for (const input of list.querySelectorAll('input')) {
      input.checked = picked.includes(input.value);
      input.disabled = full && !input.checked;
      input.title = input.disabled ? `At most ${MAX_PICKS} ${box.dataset.plural} at once` : '';
    }
    const label = picked.length === 0 ? 'All' : picked.length === 1 ? picked[0] : `${picked.length} selected`;
    box.querySelector('.picked').textContent = label;
    box.querySelector('summary').title = picked.length ? picked.join(', ') : `All ${box.dataset.plural}`;
    box.classList.toggle('active', picked.length > 0);
    box.querySelector('.unpick').hidden = picked.length === 0;
  }

  // Hides the choices the find box does not match.
  function filterChoices(box) {
    const find = box.querySelector('.find');
    const words = find.value.trim().toLowerCase();
    for (const label of box.querySelectorAll('.choice')) {
      label.hidden = words !== '' && !label.textContent.toLowerCase().includes(words);
    }
  }

  function multiChanged(name) {
    view[name] = [...multiBox(name).querySelectorAll('.choices input:checked')].map((i) => i.value);
    applyFilters();
  }

  // ---- Sorting -----------------------------------------------------------------------------

  // Text columns: none -> A to Z -> Z to A -> none. Last Updated: newest first (the default)
  // -> oldest first -> newest first.
  function nextSort(column) {
    const cur = view.sort && view.sort.column === column ? view.sort.order : null;
    if (column === 'lastUpdated') return cur === 'asc' ? null : { column, order: 'asc' };
    if (cur === null) return { column, order: 'asc' };
    if (cur === 'asc') return { column, order: 'desc' };
    return null;
  }

  function syncSortHeaders() {
    for (const th of document.querySelectorAll('th[data-sort]')) {
      const column = th.dataset.sort;
      let order = view.sort && view.sort.column === column ? view.sort.order : null;
      if (!view.sort && column === 'lastUpdated') order = 'desc';
      th.setAttribute('aria-sort', order === 'asc' ? 'ascending' : order === 'desc' ? 'descending' : 'none');
      const button = th.querySelector('button');
      const name = button.dataset.label;
      const next = nextSort(column);
      const words = column === 'lastUpdated' ? ['oldest first', 'newest first'] : ['A to Z', 'Z to A'];
      const then = !next ? (column === 'lastUpdated' ? words[1] : 'the default order (newest first)')
        : next.order === 'asc' ? words[0] : words[1];
      button.title = `Sort by ${name.toLowerCase()}: ${then}`;
    }
  }

  function sortBy(column) {
    view.sort = nextSort(column);
    syncSortHeaders();
    writeUrl();
    load();
  }

  function sortWords() {
    if (!view.sort) return null;
    const head = [...document.querySelectorAll('th[data-sort]')].find((th) => th.dataset.sort === view.sort.column);
    const button = head && head.querySelector('button');
    if (!button) return null;
    const name = button.dataset.label.toLowerCase();
    if (view.sort.column === 'lastUpdated') return view.sort.order === 'asc' ? 'oldest first' : 'newest first';
    return `by ${name}, ${view.sort.order === 'asc' ? 'A to Z' : 'Z to A'}`;
  }

  // ---- Loading -----------------------------------------------------------------------------

  // The wait before the next try after `failures` failed loads in a row.
  function retrySeconds() {
    const first = Math.min(refreshSeconds(), OFFLINE_RETRY_SECONDS);
    return Math.min(first * 2 ** Math.max(0, failures - 1), MAX_RETRY_SECONDS);
  }

  function refreshSeconds() {
    return view.refresh !== undefined ? view.refresh : serverRefresh;
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    const every = refreshSeconds();
    if (every === 0 || document.hidden) return;
    // A struggling server is asked less often: retries double, with jitter so that many
    // pages do not come back at once, and never sooner than its Retry-After.
    const secs = Math.max(failing ? retrySeconds() * (0.8 + Math.random() * 0.4) : every, retryAfter);
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
      const wait = Number.parseInt(res.headers.get('retry-after') || '', 10);
      retryAfter = Number.isInteger(wait) && wait > 0 ? Math.min(wait, MAX_RETRY_SECONDS) : 0;
      const type = res.headers.get('content-type') || '';
      if (type.includes('application/json')) body = await res.json();
    } catch (e) {
      if (inflight !== ctl) return; // replaced by a newer request
      inflight = null;
      retryAfter = 0;
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
      if (res.ok && body && Array.isArray(body.deployments)) {
        reachable();
        render(body);
      } else if (body && typeof body.error === 'string') {
        // The server answered, with a reason: a bad filter in the URL (4xx), or no data yet
        // or too slow (5xx, asked again less and less often). The rows on screen are an
        // earlier answer's: dimmed, so they are not read as this one's.
        reachable();
        if (res.status >= 500) {
          failing = true;
          failures += 1;
        }
        document.body.classList.add('stale');
        const earlier = rendered ? '; the table shows an earlier answer' : '';
        live('stale', `${res.status >= 500 ? 'The server could not answer yet' : 'The server refused this view'}${earlier}`);
        notice(body.error);
        if (!rendered) $('last-updated').textContent = 'No data yet';
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
    failures += 1;
    document.body.classList.add('offline');
    live('down', 'Cannot reach the server');
    const since = lastGood ? ` The table shows the data of ${clock(lastGood.refreshedAt)}.` : '';
    const every = refreshSeconds();
    const retry = every === 0 ? ' Automatic refresh is paused.' : ` Retrying in about ${Math.round(Math.max(retrySeconds(), retryAfter))} s.`;
    const text = `Cannot reach the Spektate server: ${why}.${since}${retry}`;
    // Rewritten only when it changes: screen readers announce the alert again each time.
    if ($('banner-text').textContent !== text) $('banner-text').textContent = text;
    $('banner').hidden = false;
  }

  function reachable() {
    failing = false;
    failures = 0;
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
    const partitionSearch = body.partition ? `?partition=${encodeURIComponent(body.partition)}` : '';
    $('status-link').search = partitionSearch;
    $('insights-link').search = partitionSearch;
    $('viewer').textContent = body.viewer ? `Signed in as ${body.viewer}` : '';
    $('version').textContent = body.version ? `Spektate ${body.version}` : '';
    if (body.partition) document.title = `Spektate · ${body.partition}`;
    document.body.classList.remove('stale');
    if (body.refreshError) live('stale', 'Connected; the server could not refresh the deployments');
    else live('ok', 'Connected');
    notice(body.refreshError
      ? `The server could not refresh the deployments: ${body.refreshError}. Showing the data of ${clock(body.refreshedAt)}.`
      : '');
    updateClock();
    renderSummary(body);
    renderRows(body.deployments);
    const shown = body.deployments.length;
    const order = sortWords();
    $('shown').textContent = body.total > shown
      ? (order ? `Showing ${shown} of ${body.total} deployments, ${order}` : `Showing the newest ${shown} of ${body.total} deployments`)
      : `${body.total} deployment${body.total === 1 ? '' : 's'}${order && body.total > 1 ? `, ${order}` : ''}`;
    const more = Math.min(MORE_ROWS, body.total - shown, MAX_ROWS - shown);
    $('more').hidden = more <= 0;
    $('show-more').textContent = `Show ${more} more`;
    const every = refreshSeconds();
    $('cadence').textContent = every === 0 ? 'Automatic refresh paused (refresh=0)' : `Refreshes every ${every} s`;
    const empty = shown === 0;
    $('empty').hidden = !empty;
    $('deployments').hidden = empty;
    $('empty-text').textContent = filtered()
      ? 'No deployments match these filters.'
      : 'No deployments yet. They appear here as soon as a pipeline records one.';
    $('empty-clear').hidden = !filtered();
    updateOptions(body);
  }

  // One more page of rows: a larger limit, kept in the URL so a link shows as many.
  function showMore() {
    const now = Number(view.limit !== undefined ? view.limit : DEFAULT_ROWS);
    const current = Number.isInteger(now) && now > 0 ? now : DEFAULT_ROWS;
    view.limit = String(Math.min(current + MORE_ROWS, MAX_ROWS));
    writeUrl();
    load();
  }

  function updateClock() {
    if (!lastGood) return;
    const at = lastGood.refreshedAt;
    $('last-updated').textContent = `Last updated at ${clock(at)} (${ago(at)})`;
    $('last-updated').title = new Date(at).toISOString();
    for (const node of tbody.querySelectorAll('[data-time]')) node.textContent = ago(node.dataset.time);
    for (const node of tbody.querySelectorAll('[data-eta]')) node.textContent = etaWords(node.dataset.etaKind, node.dataset.eta);
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
    const live = Array.isArray(d.liveIn) ? d.liveIn.map((l) => l && l.cluster).join(',') : '';
    return [d.state, ...steps, pr, (d.clusters || []).map((c) => c.cluster).join(','), live].join('|');
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
    if (d.expired === true) tr.dataset.expired = 'true';
    else delete tr.dataset.expired;
    const links = d.links || {};
    const eta = etaOf(d);
    const expect = (content, segment) => withExpected(content, eta, segment);
    tr.replaceChildren(
      el('td', { class: 'c-state' }, stateCell(d), expiredBadge(d), etaLine(eta)),
      el('td', { class: 'c-service' }, serviceCell(d, links)),
      el('td', { class: 'c-ring' }, d.ring ? el('span', { class: 'ring', text: d.ring }) : none()),
      el('td', { class: 'c-author' }, person(d.author, links.author)),
      el('td', { class: 'c-image' }, ...expect(stepCell('Image creation', d.image, links.imageRun, d.commitId && commitLink(d.commitId, links.commit), links.imageStage), 'image')),
      el('td', { class: 'c-metadata' }, ...expect(metadataCell(d, links), 'metadata')),
      el('td', { class: 'c-pr' }, ...expect(prCell(d, links), 'approval')),
      el('td', { class: 'c-merged' }, mergedCell(d, links)),
      el('td', { class: 'c-manifest' }, ...expect(stepCell('Ready to deploy', d.manifest, links.manifestRun, d.manifestCommitId && commitLink(d.manifestCommitId, links.manifestCommit)), 'manifests')),
      el('td', { class: 'c-updated' }, updatedCell(d), journeyLink(d)),
      el('td', { class: 'c-clusters' }, ...expect(clustersCell(d, links), 'sync')),
    );
  }

  // A deployment whose runs the CI no longer keeps.
  function expiredBadge(d) {
    if (d.expired !== true) return null;
    return el('span', { class: 'badge expired', title: EXPIRED_TIP, data: { testid: 'expired' } }, icon('expired'), 'expired');
  }

  // ---- ETA -----------------------------------------------------------------------------------
  //
  // The API's `eta` of a deployment on its way: `liveAt` and `liveP90At`, and per remaining
  // segment `expectedAt`, `p90At`, `samples` and `basis`. Read defensively: a field that is not
  // a time leaves the ETA (or that step) out.

  const time = (iso) => (typeof iso === 'string' ? Date.parse(iso) : NaN);

  function etaOf(d) {
    const e = d.eta;
    if (!e || typeof e !== 'object' || Number.isNaN(time(e.liveAt)) || Number.isNaN(time(e.liveP90At))) return null;
    const steps = Array.isArray(e.steps)
      ? e.steps.filter((s) => s && Object.hasOwn(SEGMENTS, s.segment) && !Number.isNaN(time(s.expectedAt)) && !Number.isNaN(time(s.p90At)))
      : [];
    return { liveAt: e.liveAt, liveP90At: e.liveP90At, steps };
  }

  // Whole minutes from the server's now to `iso`, at least 0.
  function minutesTo(iso) {
    return Math.max(0, Math.round((time(iso) - (Date.now() + clockSkew)) / 60000));
  }

  // "in ~12 min", or "now" once the time has come.
  function fromNow(iso) {
    const m = minutesTo(iso);
    return m === 0 ? 'now' : `in ~${m} min`;
  }

  // The words of the ETA line: the median shown, the p90 read by screen readers.
  function etaWords(kind, iso) {
    if (kind === 'p90') return minutesTo(iso) === 0 ? ', due by now at the 90th percentile' : `, 90% sure within ~${minutesTo(iso)} min`;
    return minutesTo(iso) === 0 ? 'live any moment' : `live ${fromNow(iso)}`;
  }

  function basisWords(steps) {
    const words = [...new Set(steps.map((s) => basisOf(s.basis)).filter(Boolean))];
    return words.length ? `estimated from past deployments of ${words.join(', then ')}` : '';
  }

  // "live in ~21 min" with the p90 in its tip and in the text a screen reader reads.
  function etaLine(eta) {
    if (!eta) return null;
    const tips = [`Expected live at ${clock(eta.liveAt)} (median), by ${clock(eta.liveP90At)} at the 90th percentile (${fromNow(eta.liveP90At)})`];
    const basis = basisWords(eta.steps);
    if (basis) tips.push(basis);
    const line = el('span', { class: 'eta', title: tips.join('; '), data: { testid: 'eta' } });
    line.append(
      el('span', { class: 'eta-median', data: { eta: eta.liveAt, etaKind: 'median' }, text: etaWords('median', eta.liveAt) }),
      el('span', { class: 'visually-hidden eta-p90', data: { eta: eta.liveP90At, etaKind: 'p90' }, text: etaWords('p90', eta.liveP90At) }),
    );
    return line;
  }

  // The expected finish of one remaining step, under the cell that shows that step.
  function expectedLine(step) {
    const what = SEGMENTS[step.segment];
    const samples = Number.isInteger(step.samples) ? `${step.samples} past ${step.samples === 1 ? 'duration' : 'durations'}` : 'past durations';
    const basis = basisOf(step.basis) ? ` of ${basisOf(step.basis)}` : '';
    const title = `${what}: expected to finish at ${clock(step.expectedAt)} (median), by ${clock(step.p90At)} at the 90th percentile; from ${samples}${basis}`;
    return el('span', { class: 'expected', title, data: { segment: step.segment, expectedAt: step.expectedAt, p90At: step.p90At } },
      el('span', { class: 'expected-at', text: `expected ${clock(step.expectedAt)}` }),
      el('span', { class: 'visually-hidden', text: `, 90% sure by ${clock(step.p90At)}` }));
  }

  // A cell's content followed by the expected finish of its step, if it remains; the dash of
  // an empty cell gives way to it.
  function withExpected(content, eta, segment) {
    const step = eta && eta.steps.find((s) => s.segment === segment);
    if (!step) return [content];
    const empty = content instanceof Element && content.classList.contains('none') && content.textContent === '–';
    return empty ? [expectedLine(step)] : [content, expectedLine(step)];
  }

  // The deployment's timeline, on its own page (a button: the row's links are the providers').
  function journeyLink(d) {
    const q = new URLSearchParams({ id: d.id });
    if (view.partition !== undefined) q.set('partition', view.partition);
    const button = el('button', { type: 'button', class: 'button subtle journey-link', text: 'Journey', title: 'The journey of this deployment, as a timeline' });
    button.dataset.href = `journey.html?${q}`;
    button.addEventListener('click', () => window.location.assign(button.dataset.href));
    return button;
  }

  function stateCell(d) {
    const meta = STATES[d.state] || STATES.incomplete;
    const label = el('span', { class: 'state-label', text: meta.label });
    const cell = el('span', { class: `state s-${d.state}`, title: `Status: ${d.status}` }, icon(meta.icon, meta.spin ? 'spin' : ''), label);
    if (Array.isArray(d.warnings) && d.warnings.length) {
      // A tooltip for the mouse; the label for a screen reader; shown under the sign while it
      // has the keyboard's focus (app.css, .warn:focus-visible).
      const count = d.warnings.length === 1 ? 'Warning' : `${d.warnings.length} warnings`;
      const text = d.warnings.join('\n');
      cell.append(el('span', { class: 'warn', text: '⚠', title: text, role: 'img', tabindex: 0, 'aria-label': `${count}: ${d.warnings.join('; ')}`, data: { warnings: text } }));
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

  function stepCell(what, step, runUrl, sub, stageUrl) {
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
    return el('span', { class: 'step-line' }, line, sub ? el('span', { class: 'sub' }, sub) : null, stageCell(step, stageUrl));
  }

  // A multi-stage run that failed (or was canceled) at this step's stage: a link to that
  // stage, not only to the run.
  function stageCell(step, url) {
    if (!step.stage || !step.stage.name || !['failed', 'canceled'].includes(step.state)) return null;
    const label = `${STEPS[step.state].label} in stage ${step.stage.name}`;
    return el('span', { class: 'sub stage' }, link(url, label, { class: 'stage-link', title: label }));
  }

  function metadataCell(d, links) {
    if (d.kind === 'manualHldEdit' && !d.metadata) {
      if (!d.hldCommitId) return none();
      return el('span', { class: 'step-line' },
        el('span', { class: 'step', title: 'HLD commit' }, icon('succeeded', 's-succeeded'), commitLink(d.hldCommitId, links.hldCommit)));
    }
    return stepCell('Metadata update', d.metadata, links.metadataRun, d.imageTag && el('span', { class: 'mono tag', text: d.imageTag }), links.metadataStage);
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

  // The first two clusters by name; more than that as "and N more…", a link to the manifest
  // repository's tags (where the sync tags of every cluster are) with every name as its tip.
  // What the clusters' agents said went wrong with this deployment's commit: a failed
  // reconciliation or sync, or a health such as Degraded; one chip per cluster, at most three.
  function troubleChips(d) {
    if (!Array.isArray(d.clusterTroubles)) return [];
    return d.clusterTroubles.slice(0, 3).map((t) => {
      const failed = t.outcome === 'failed';
      const word = failed ? 'failed' : String(t.health || 'unhealthy');
      const tips = [failed ? `${t.cluster} failed to apply ${short(t.commit)}` : `${t.cluster} runs ${short(t.commit)}: ${word}`];
      if (t.reason) tips.push(t.reason);
      if (t.message) tips.push(t.message);
      if (t.syncedAt) tips.push(`at ${clock(t.syncedAt)}`);
      if (t.tagger) tips.push(`reported by ${t.tagger}`);
      return el('span', { class: 'cluster-trouble', title: tips.join(' · ') }, icon('cluster'), `${t.cluster} ${word}`);
    });
  }

  // Where this deployment still runs on a later commit of its repository (live, not synced):
  // one chip per cluster, at most three.
  function liveChips(d) {
    if (!Array.isArray(d.liveIn)) return [];
    const later = d.liveIn.filter((l) => l && !l.exact && typeof l.cluster === 'string');
    later.sort((a, b) => a.cluster.localeCompare(b.cluster));
    return later.slice(0, 3).map((l) => {
      const tips = [`${l.cluster} runs ${short(l.commit)}, a later commit that still carries this deployment`];
      if (l.appliedAt) tips.push(`since ${clock(l.appliedAt)}`);
      return el('span', { class: 'cluster-live', title: tips.join(' · ') }, icon('cluster'), `live in ${l.cluster}`);
    });
  }

  function clustersCell(d, links) {
    const troubles = [...liveChips(d), ...troubleChips(d)];
    if ((!Array.isArray(d.clusters) || d.clusters.length === 0) && troubles.length === 0) return none();
    if (!Array.isArray(d.clusters) || d.clusters.length === 0) return el('span', { class: 'clusters' }, ...troubles);
    const chip = (c) => {
      const tips = [`${c.cluster} runs ${short(c.commit)}`];
      if (c.syncedAt) tips.push(`since ${clock(c.syncedAt)}`);
      if (c.tagger) tips.push(`reported by ${c.tagger}`);
      return el('span', { class: 'cluster', title: tips.join(' · ') }, icon('cluster'), c.cluster);
    };
    const shown = d.clusters.length > 2 ? d.clusters.slice(0, 2) : d.clusters;
    const box = el('span', { class: 'clusters' }, ...shown.map(chip));
    const rest = d.clusters.length - shown.length;
    if (rest > 0) {
      const all = d.clusters.map((c) => c.cluster).join('\n');
      box.append(link(links.manifestTags, `and ${rest} more…`, { class: 'more-clusters', title: all }));
    }
    box.append(...troubles);
    return box;
  }

  // The values each multi-select offers: the server's lists of the partition's services, rings
  // and authors; from an older server without them, the values seen in its answers.
  function updateOptions(body) {
    const o = body.options;
    for (const [name, key, of] of [['service', 'services', (d) => d.service], ['ring', 'rings', (d) => d.ring],
      ['author', 'authors', (d) => d.author && d.author.name]]) {
      const values = o && Array.isArray(o[key])
        ? o[key].filter((v) => typeof v === 'string')
        : [...new Set([...offered[name], ...body.deployments.map(of).filter(Boolean)])];
      offered[name] = values;
      syncMulti(name);
    }
  }

  // ---- Events ------------------------------------------------------------------------------

  function applyFilters() {
    syncForm();
    writeUrl();
    load();
  }

  let typing = null;
  function keywordChanged(now) {
    clearTimeout(typing);
    const apply = () => {
      view.keyword = form.elements.namedItem('keyword').value.trim();
      applyFilters();
    };
    if (now) apply();
    else typing = setTimeout(apply, 250);
  }

  function typesChanged() {
    const picked = [...form.querySelectorAll('input[name=type]:checked')].map((b) => b.value);
    view.type = picked.length ? picked : [...DEFAULT_TYPES];
    applyFilters();
  }

  function clearFilters() {
    for (const f of MULTI) view[f] = [];
    view.type = [...DEFAULT_TYPES];
    view.includeExpired = false;
    view.keyword = '';
    applyFilters();
  }

  form.addEventListener('input', (e) => {
    if (e.target.name === 'keyword') keywordChanged(false);
    else if (e.target.classList.contains('find')) filterChoices(e.target.closest('details'));
  });
  form.addEventListener('change', (e) => {
    const t = e.target;
    if (t.name === 'type') typesChanged();
    else if (t.name === 'includeExpired') {
      view.includeExpired = t.checked;
      applyFilters();
    }
    else if (MULTI.includes(t.name)) multiChanged(t.name);
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); keywordChanged(true); });
  for (const name of MULTI) {
    const box = multiBox(name);
    box.querySelector('.unpick').addEventListener('click', () => {
      view[name] = [];
      applyFilters();
    });
    box.addEventListener('toggle', () => { if (box.open) box.querySelector('.find').focus(); });
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && box.open) {
        e.preventDefault();
        box.open = false;
        box.querySelector('summary').focus();
      }
    });
  }
  // A click elsewhere closes an open multi-select.
  document.addEventListener('click', (e) => {
    for (const box of form.querySelectorAll('details.multi[open]')) {
      if (!box.contains(e.target)) box.open = false;
    }
  });
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.querySelector('button').addEventListener('click', () => sortBy(th.dataset.sort));
  }
  $('show-more').addEventListener('click', showMore);
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
