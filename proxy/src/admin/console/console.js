// strangler's console: a small script over the admin API. Every view reads an admin
// endpoint, every action is an admin API call with the token typed in at the start (kept in
// this tab's sessionStorage, sent as a bearer token). Everything from the store is inserted
// as text (textContent, text nodes), never as HTML.
'use strict';

const REFRESH_MS = 2000;
const ROWS_SHOWN = 200;
const STEPS = [1, 5, 10, 25, 50, 100];
const AUDIT_EVERY = 15;

const state = {
  token: sessionStorage.getItem('strangler.token') || '',
  who: null,
  timer: null,
  // An action just succeeded: the next refresh reads what only changes with actions.
  acted: false,
  // Per route and side: recent request-counter readings, for requests per second.
  traffic: new Map(),
};

// ---- DOM, safely ----------------------------------------------------------------------

/** An element with attributes, event handlers (`on...`) and children (text or nodes). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function link(hash, text) {
  return h('a', { href: hash }, text);
}

function routeLink(name) {
  return link('#/route/' + encodeURIComponent(name), name);
}

function sideText(side) {
  return h('span', { class: 'side-' + side }, side);
}

function when(value) {
  if (!value) return '—';
  const date = typeof value === 'number' ? new Date(value) : new Date(value);
  return isNaN(date) ? String(value) : date.toLocaleString();
}

function percentText(value) {
  return value === null || value === undefined ? '—' : Number(value).toFixed(2).replace(/\.?0+$/, '') + ' %';
}

// ---- the admin API --------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (!response.ok) {
    const message = (data && data.error) || response.status + ' ' + response.statusText;
    throw new ApiError(response.status, message, data);
  }
  return data;
}

const get = (path) => api('GET', path);

function mayChange() {
  return Boolean(state.who && state.who.may_change);
}

/** Why the controls are disabled, or null when they are not. */
function readOnlyReason() {
  if (!state.who) return 'not signed in';
  if (!state.who.tokens_configured) {
    return 'read-only: no admin token is configured (set STRANGLER_ADMIN_TOKEN or STRANGLER_ADMIN_TOKENS and restart)';
  }
  if (!state.who.may_change) return 'read-only: this token may only read; changes need a write token';
  return null;
}

/** A button for an action: disabled, with the reason, unless the token may change. */
function action(label, run, extra) {
  const reason = readOnlyReason();
  const button = h('button', Object.assign({ class: 'act', type: 'button', disabled: Boolean(reason), title: reason }, extra || {}), label);
  button.addEventListener('click', run);
  return button;
}

/** Runs `change` (an API call), showing its error in `status` or the success message. */
async function perform(status, change, success) {
  fill(status);
  status.className = '';
  try {
    await change();
    state.acted = true;
    status.className = 'notice';
    fill(status, success || 'done');
    await refreshNow();
  } catch (error) {
    status.className = 'error';
    fill(status, error.status === 409 ? 'conflict: ' + error.message : error.message);
  }
}

// ---- sign in --------------------------------------------------------------------------

async function whoami() {
  try {
    state.who = await get('/admin/whoami');
    return true;
  } catch (error) {
    if (error.status === 401) {
      state.who = null;
      return false;
    }
    throw error;
  }
}

function loginPage(message) {
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', size: 40, placeholder: 'admin token' });
  const status = h('span', { class: 'error' }, message || '');
  const form = h('form', { id: 'login' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'The console uses the admin API\'s tokens: a read token sees, a write token acts. The token stays in this tab only.'),
    h('div', { class: 'row' }, input, h('button', { class: 'primary', type: 'submit' }, 'Sign in'), status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    state.token = input.value.trim();
    if (await whoami()) {
      sessionStorage.setItem('strangler.token', state.token);
      showWho();
      navigate();
    } else {
      fill(status, 'that token is not accepted');
    }
  });
  return form;
}

function showWho() {
  const who = document.getElementById('who');
  if (!state.who) return fill(who);
  const name = state.who.name || 'no token';
  const out = h('button', { type: 'button' }, 'Sign out');
  out.addEventListener('click', () => {
    sessionStorage.removeItem('strangler.token');
    state.token = '';
    state.who = null;
    location.hash = '#/';
    start();
  });
  fill(who, name + ' · ' + state.who.scope + ' ', state.who.tokens_configured ? out : null);
}

// ---- banner: the flag store and read-only mode ------------------------------------------

function showBanner(flagStore) {
  const banner = document.getElementById('banner');
  banner.className = '';
  if (flagStore && flagStore.state !== 'connected') {
    banner.hidden = false;
    const since = flagStore.since ? ' since ' + when(flagStore.since) : '';
    fill(banner, 'The flag store is ' + flagStore.state + since + ': the proxy serves its last flags, and changes are refused (503). ',
      flagStore.error ? '(' + flagStore.error + ')' : '');
    return;
  }
  const reason = state.who && !state.who.tokens_configured ? readOnlyReason() : null;
  banner.hidden = !reason;
  if (reason) {
    banner.className = 'info';
    fill(banner, reason);
  }
}

// ---- traffic from /metrics --------------------------------------------------------------

/** Sums `strangler_requests_total` by route and side. */
function parseRequests(text) {
  const totals = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('strangler_requests_total{')) continue;
    const route = /route="((?:[^"\\]|\\.)*)"/.exec(line);
    const side = /side="(\w+)"/.exec(line);
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!route || !side || !isFinite(value)) continue;
    const key = route[1] + '\u0000' + side[1];
    totals.set(key, (totals.get(key) || 0) + value);
  }
  return totals;
}

async function sampleTraffic() {
  let text;
  try {
    const response = await fetch('/metrics');
    text = await response.text();
  } catch (_) {
    return;
  }
  const now = Date.now();
  for (const [key, total] of parseRequests(text)) {
    const readings = state.traffic.get(key) || [];
    readings.push([now, total]);
    while (readings.length > 60) readings.shift();
    state.traffic.set(key, readings);
  }
}

/** Requests per second between consecutive readings of route/side. */
function rates(route, side) {
  const readings = state.traffic.get(route + '\u0000' + side) || [];
  const out = [];
  for (let i = 1; i < readings.length; i++) {
    const seconds = (readings[i][0] - readings[i - 1][0]) / 1000;
    out.push(seconds > 0 ? Math.max(0, (readings[i][1] - readings[i - 1][1]) / seconds) : 0);
  }
  return out;
}

function sparkline(route) {
  const series = { legacy: rates(route, 'legacy'), new: rates(route, 'new') };
  const max = Math.max(1, ...series.legacy, ...series.new);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', '120');
  svg.setAttribute('height', '24');
  for (const side of ['legacy', 'new']) {
    const points = series[side].map((v, i) => (i * 120 / 59).toFixed(1) + ',' + (23 - v / max * 22).toFixed(1));
    if (points.length < 2) continue;
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('class', side);
    line.setAttribute('points', points.join(' '));
    svg.append(line);
  }
  return svg;
}

function lastRate(route, side) {
  const all = rates(route, side);
  return all.length ? all[all.length - 1].toFixed(1) : '—';
}

// ---- overview ---------------------------------------------------------------------------

function overviewPage() {
  const revision = h('p', { class: 'muted' });
  const search = h('input', { type: 'search', placeholder: 'filter routes', id: 'route-filter' });
  const table = h('div');
  const status = h('span');
  const globalKill = h('div', { class: 'row' });
  const el = h('div', {},
    h('h1', {}, 'Routes'), revision, globalKill,
    h('div', { class: 'row' }, search, status), table);
  let data = null;
  const draw = () => data && drawRoutes(table, data, search.value.trim().toLowerCase());
  search.addEventListener('input', draw);
  return {
    el,
    async refresh() {
      const [config, routes, guards, health, diffs] = await Promise.all([
        get('/admin/config'), get('/admin/routes?tenants=count'), get('/admin/guards'),
        get('/admin/health'), get('/admin/diffs').catch(() => ({ routes: [] })), sampleTraffic(),
      ]);
      showBanner(routes.flag_store);
      const r = config.revision;
      fill(revision, 'Serving revision ' + r.counter + ' (config ' + r.hash + ', flags version ' + r.flags + '), loaded ' +
        when(config.loaded_at_unix * 1000) + ' from ' + config.source + '. Flag store: ' + routes.flag_store.state + '.');
      fill(globalKill, 'Global kill switch: ', routes.global_kill ? h('span', { class: 'bad' }, 'ON (every route on legacy) ') : 'off ',
        routes.global_kill
          ? action('Turn off global kill', () => perform(status, () => api('DELETE', '/admin/kill'), 'global kill off'))
          : action('Kill every route…', () => {
            if (confirm('Send every route to legacy now?')) perform(status, () => api('POST', '/admin/kill', { comment: 'console: global kill' }), 'every route killed');
          }, { class: 'act danger' }));
      data = { routes: routes.routes, guards: guards.guards, services: health.services, diffs: diffs.routes };
      draw();
    },
  };
}

function drawRoutes(container, data, filter) {
  const guards = new Map(data.guards.map((g) => [g.route, g]));
  const services = new Map(data.services.map((s) => [s.name, s]));
  const diffs = new Map(data.diffs.map((d) => [d.route, d]));
  const matching = data.routes.filter((r) => !filter || r.name.toLowerCase().includes(filter) || r.path.toLowerCase().includes(filter));
  const rows = matching.slice(0, ROWS_SHOWN).map((route) => {
    const guard = guards.get(route.name);
    const service = services.get(route.service);
    const diff = diffs.get(route.name);
    const breaker = service && service.breaker ? service.breaker.state : '—';
    return h('tr', { 'data-route': route.name },
      h('td', {}, routeLink(route.name)),
      h('td', { class: 'muted' }, route.path),
      h('td', {}, route.service),
      h('td', { class: 'num' }, percentText(route.percent.value), h('span', { class: 'source' }, route.percent.source),
        route.schedule ? h('span', { class: 'source' }, route.schedule.paused_at ? '(ramp paused)' : '(ramping)') : null,
        route.ramp ? h('span', { class: route.ramp.waiting ? 'source warn' : 'source', 'data-ramp': route.ramp.state }, rampText(route.ramp)) : null),
      h('td', {}, route.killed.value ? h('span', { class: 'bad' }, 'killed') : 'off', h('span', { class: 'source' }, route.killed.source)),
      h('td', {}, guard ? h('span', { class: guard.state === 'tripped' ? 'bad' : '' }, guard.state) : '—'),
      h('td', {}, h('span', { class: breaker === 'open' ? 'bad' : '' }, breaker)),
      h('td', { class: 'num' }, diff && diff.compared ? (diff.match_rate * 1).toFixed(1) + ' % of ' + diff.compared : '—'),
      h('td', { class: 'num' }, h('span', { class: 'side-legacy' }, lastRate(route.name, 'legacy')), ' / ',
        h('span', { class: 'side-new' }, lastRate(route.name, 'new'))),
      h('td', {}, sparkline(route.name)));
  });
  fill(container,
    h('table', { id: 'routes' },
      h('thead', {}, h('tr', {}, ['Route', 'Path', 'Service', 'New side', 'Kill switch', 'Guard', 'Breaker', 'Shadow match', 'req/s legacy / new', 'Last 2 min'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows)),
    matching.length > ROWS_SHOWN ? h('p', { class: 'muted' }, 'Showing ' + ROWS_SHOWN + ' of ' + matching.length + ' routes: refine the filter.') : null);
}

// ---- one route ----------------------------------------------------------------------------

function routePage(name) {
  const route = encodeURIComponent(name);
  const summary = h('div');
  const ramp = rampForm(name, route);
  const tenants = tenantsSection(name, route);
  const guard = h('div');
  const audit = h('div');
  const auditStatus = h('span', { id: 'audit-status' });
  let refreshes = 0;
  const el = h('div', {},
    h('h1', {}, 'Route ', name), summary,
    h('section', { class: 'card' }, h('h2', {}, 'Ramp'), ramp.el),
    h('section', { class: 'card' }, h('h2', {}, 'Tenant overrides'), tenants.el),
    h('section', { class: 'card' }, h('h2', {}, 'Guard and service'), guard),
    h('section', { class: 'card' }, h('h2', {}, 'Explain a request'), explainForm(name)),
    h('section', { class: 'card' }, h('h2', {}, 'Audit'), auditStatus, audit));
  return {
    el,
    async refresh() {
      // The audit log is read from the store, where each entry holds the route's whole
      // flags before and after (2 MB a side with 100,000 overrides): it is read when the
      // page opens, after each action, and every AUDIT_EVERY refreshes.
      const readAudit = refreshes++ % AUDIT_EVERY === 0 || state.acted;
      state.acted = false;
      const [routes, guards, health, entries] = await Promise.all([
        get('/admin/routes?tenants=count&route=' + route), get('/admin/guards'), get('/admin/health'),
        // An outage must not blank the page.
        readAudit ? get('/admin/audit?view=changes&limit=20&route=' + route).catch((error) => ({ error })) : null,
        tenants.load(),
      ]);
      showBanner(routes.flag_store);
      const current = routes.routes[0];
      if (!current) return fill(summary, h('p', { class: 'error' }, 'No route named ' + name + '.'));
      drawSummary(summary, current, route);
      ramp.update(current);
      drawGuard(guard, guards.guards.find((g) => g.route === name), health.services.find((s) => s.name === current.service));
      if (entries && entries.error) fill(audit, h('p', { class: 'error' }, 'The audit log cannot be read now: ' + entries.error.message));
      else if (entries) drawAudit(audit, entries.entries, auditStatus);
    },
  };
}

function drawSummary(container, route, encoded) {
  const status = h('span');
  const killed = route.killed.value;
  fill(container, h('div', { class: 'row' },
    h('span', {}, route.path, ' → ', route.service),
    h('span', {}, 'New side: ', h('strong', { id: 'route-percent' }, percentText(route.percent.value)), h('span', { class: 'source' }, route.percent.source)),
    h('span', {}, 'Kill switch: ', h('strong', { id: 'route-killed', class: killed ? 'bad' : '' }, killed ? 'killed' : 'off')),
    killed
      ? action('Unkill', () => perform(status, () => api('DELETE', '/admin/routes/' + encoded + '/kill', { comment: 'console' }), 'unkilled'), { id: 'unkill' })
      : action('Kill', () => {
        if (confirm('Send every request of ' + route.name + ' to legacy?')) perform(status, () => api('POST', '/admin/routes/' + encoded + '/kill', { comment: 'console' }), 'killed');
      }, { id: 'kill', class: 'act danger' }),
    status));
}

function rampForm(name, route) {
  const percent = h('input', { type: 'number', id: 'percent', min: 0, max: 100, step: 0.01, size: 6 });
  const comment = h('input', { type: 'text', id: 'percent-comment', placeholder: 'comment (for the audit log)', size: 40 });
  const status = h('span', { id: 'percent-status' });
  const schedule = h('div');
  const steps = STEPS.map((step) => h('button', { type: 'button', class: 'step', onclick: () => { percent.value = step; } }, step + ' %'));
  const set = action('Set percent', () => perform(status,
    () => api('PUT', '/admin/routes/' + route + '/percent', { percent: Number(percent.value), comment: comment.value || null }),
    'percent set'), { id: 'set-percent', class: 'act primary' });
  const clear = action('Clear runtime percent', () => perform(status, () => api('DELETE', '/admin/routes/' + route + '/percent', { comment: comment.value || null }), 'back to the file\'s percent'));
  const el = h('div', {}, h('div', { class: 'row' }, 'Percent on the new side:', percent, steps),
    h('div', { class: 'row' }, comment, set, clear, status), schedule);
  let filled = false;
  return {
    el,
    update(current) {
      if (!filled) {
        percent.value = current.percent.value;
        filled = true;
      }
      // A gated ramp and a schedule exclude each other: starting one drops the other.
      if (current.ramp) drawRamp(fill(schedule), current.ramp, route, status);
      else drawSchedule(schedule, current.schedule, route, status);
    },
  };
}

/** A gated ramp in words: `ramp step 2/5, waiting: min_requests 12 against 500`. */
function rampText(ramp) {
  const at = 'ramp step ' + (ramp.step + 1) + '/' + ramp.steps.length;
  return ramp.waiting ? at + ', waiting: ' + ramp.waiting : at + ', ' + ramp.state;
}

/** The gated ramp of a route with its pause, resume and forced advance. */
function drawRamp(container, ramp, route, status) {
  const call = (path, body, message) => perform(status, () => api('POST', '/admin/routes/' + route + '/ramp/' + path, body), message);
  container.append(h('p', { id: 'ramp' }, 'Gated ramp through ', ramp.steps.map((s) => s + ' %').join(', '), ': ',
    h('span', { class: ramp.waiting ? 'warn' : '' }, rampText(ramp)), '. ',
    ramp.paused
      ? action('Resume ramp', () => call('resume', {}, 'ramp resumed'), { id: 'ramp-resume' })
      : action('Pause ramp', () => call('pause', {}, 'ramp paused'), { id: 'ramp-pause' }),
    action('Advance now', () => { if (confirm('Skip the gates and move to the next step?')) call('advance', { force: true, comment: 'console' }, 'ramp advanced'); }, { id: 'ramp-advance' })));
}

/** A schedule step in words: `25 % at T`, or `+5 % every 1h from T until 100 %`. */
function stepText(step, shift) {
  const at = (t) => when((typeof t === 'number' ? t * 1000 : Date.parse(t)) + shift * 1000);
  if (step.percent !== undefined) return step.percent + ' % at ' + at(step.at);
  return '+' + step.step + ' % every ' + step.every + ' from ' + at(step.start) + ' until ' + step.until + ' %';
}

/** The next `at` step still ahead, if any. */
function nextStep(schedule) {
  const now = Date.now();
  const shift = (schedule.paused_seconds || 0) * 1000;
  const ahead = schedule.steps
    .filter((s) => s.at !== undefined)
    .map((s) => ({ s, t: (typeof s.at === 'number' ? s.at * 1000 : Date.parse(s.at)) + shift }))
    .filter((x) => x.t > now)
    .sort((a, b) => a.t - b.t);
  return ahead.length ? ahead[0].s : null;
}

function drawSchedule(container, schedule, route, status) {
  if (!schedule) return fill(container, h('p', { class: 'muted' }, 'No ramp schedule. (Set one with the API or `strangler flags schedule`.)'));
  const call = (method, path, message) => perform(status, () => api(method, '/admin/routes/' + route + '/schedule' + path, {}), message);
  const paused = Boolean(schedule.paused_at);
  const next = nextStep(schedule);
  const shift = schedule.paused_seconds || 0;
  fill(container, h('p', { id: 'schedule' }, 'Ramp schedule: ', schedule.steps.map((s) => stepText(s, shift)).join('; '), '. ',
    paused ? h('span', { class: 'warn' }, 'Paused since ' + when(schedule.paused_at) + '. ') : null,
    next && !paused ? 'Next step: ' + stepText(next, shift) + '.' : null),
  h('div', { class: 'row' },
    paused ? action('Resume', () => call('POST', '/resume', 'resumed'), { id: 'resume' }) : action('Pause', () => call('POST', '/pause', 'paused'), { id: 'pause' }),
    action('Clear schedule', () => { if (confirm('Remove this ramp schedule?')) call('DELETE', '', 'schedule cleared'); })));
}

function tenantsSection(name, route) {
  const search = h('input', { type: 'search', placeholder: 'search tenants', id: 'tenant-filter' });
  const table = h('div');
  const paste = h('textarea', { id: 'tenant-paste', placeholder: 'one override a line: tenant side\ninternal-qa new\nbigcorp legacy' });
  const comment = h('input', { type: 'text', id: 'tenant-comment', placeholder: 'comment', size: 40 });
  const status = h('span', { id: 'tenant-status' });
  const apply = action('Apply overrides', () => {
    const parsed = parseOverrides(paste.value);
    if (parsed.error) {
      status.className = 'error';
      return fill(status, parsed.error);
    }
    perform(status, async () => {
      await api('PUT', '/admin/routes/' + route + '/tenants', { tenants: parsed.tenants, comment: comment.value || null });
      paste.value = '';
    }, Object.keys(parsed.tenants).length + ' override(s) set');
  }, { id: 'apply-tenants', class: 'act primary' });
  const clearAll = action('Clear all overrides', () => {
    if (confirm('Remove every runtime tenant override of ' + name + '?')) perform(status, () => api('DELETE', '/admin/routes/' + route + '/tenants', { comment: comment.value || null }), 'overrides cleared');
  }, { class: 'act danger' });
  const load = async () => {
    const page = await get('/admin/routes/' + route + '/tenants?limit=' + ROWS_SHOWN + '&search=' + encodeURIComponent(search.value.trim()));
    drawTenants(table, page, route, status);
  };
  let typing = null;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(load, 200);
  });
  const el = h('div', {}, h('div', { class: 'row' }, search), table,
    h('h2', {}, 'Add overrides'), paste, h('div', { class: 'row' }, comment, apply, clearAll, status));
  return { el, load };
}

/** `tenant side` lines into `{tenant: side}`, or the first line's problem. */
function parseOverrides(text) {
  const tenants = {};
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const [i, line] of lines.entries()) {
    const parts = line.split(/[\s,:=]+/);
    if (parts.length !== 2 || !['legacy', 'new'].includes(parts[1])) {
      return { error: 'line ' + (i + 1) + ': expected "tenant legacy" or "tenant new", got "' + line + '"' };
    }
    tenants[parts[0]] = parts[1];
  }
  if (!lines.length) return { error: 'paste at least one "tenant side" line' };
  return { tenants };
}

/** One page of a route's overrides (`GET /admin/routes/R/tenants`). */
function drawTenants(container, page, encoded, status) {
  const rows = page.tenants.map((o) => h('tr', {},
    h('td', {}, o.tenant), h('td', {}, sideText(o.value)), h('td', { class: 'muted' }, o.source),
    h('td', {}, o.source === 'file' ? h('span', { class: 'muted' }, 'from routes.yaml') : action('Clear',
      () => perform(status, () => api('DELETE', '/admin/routes/' + encoded + '/tenants/' + encodeURIComponent(o.tenant), {}), 'override of ' + o.tenant + ' cleared')))));
  fill(container, page.total ? h('table', { id: 'tenants' },
    h('thead', {}, h('tr', {}, ['Tenant', 'Side', 'Source', ''].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
    : h('p', { class: 'muted' }, 'No tenant overrides.'),
  h('p', { class: 'muted' }, page.total + ' overrides' + (page.matching < page.total ? ', ' + page.matching + ' matching' : '') +
    (page.matching > page.tenants.length ? '; showing the first ' + page.tenants.length + ': search to narrow.' : '')));
}

function drawGuard(container, guard, service) {
  const parts = [];
  if (guard) {
    const f = guard.figures;
    parts.push(h('p', {}, 'Guard ', h('strong', { class: guard.state === 'tripped' ? 'bad' : '' }, guard.state),
      ': new side ' + f.requests + ' requests, ' + f.errors + ' errors (' + f.error_rate.toFixed(2) + ' %), p95 ' + f.p95_ms + ' ms over the window; limits ' +
      guard.limits.max_error_rate + ' %, ' + guard.limits.max_p95_ms + ' ms, at least ' + guard.limits.min_requests + ' requests.'),
    guard.last_trip ? h('p', { class: 'warn' }, 'Last trip: ', JSON.stringify(guard.last_trip)) : null);
  } else {
    parts.push(h('p', { class: 'muted' }, 'No rollback guard on this route.'));
  }
  if (service && !service.breaker) {
    parts.push(h('p', {}, 'Service ', service.name, ' (', service.addr, '): no breaker configured.'));
  } else if (service) {
    const b = service.breaker;
    parts.push(h('p', {}, 'Service ', service.name, ' (', service.addr, '): breaker ', h('strong', { class: b.state === 'open' ? 'bad' : '' }, b.state),
      ', ' + b.window_failures + ' failures in ' + b.window_requests + ' requests',
      b.last_check ? ', last health check ' + (b.last_check.ok ? 'ok' : 'failed') + ' at ' + when(b.last_check.at_unix_ms) : ''));
  }
  fill(container, parts);
}

function explainForm(name) {
  const tenant = h('input', { type: 'text', id: 'explain-tenant', placeholder: 'tenant', size: 16 });
  const method = h('select', { id: 'explain-method' }, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'].map((m) => h('option', {}, m)));
  const path = h('input', { type: 'text', id: 'explain-path', placeholder: '/api/...', size: 40 });
  const headers = h('textarea', { id: 'explain-headers', placeholder: 'Name: value (one header a line)' });
  const cookies = h('input', { type: 'text', id: 'explain-cookies', placeholder: 'cookies: name=value; other=value', size: 40 });
  const out = h('div', { id: 'explain-answer' });
  const form = h('form', {}, h('div', { class: 'row' }, method, path, tenant, h('button', { type: 'submit', id: 'explain-submit' }, 'Explain')), headers, cookies, out);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const named = {};
    for (const line of headers.value.split('\n')) {
      const at = line.indexOf(':');
      if (at > 0) named[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    const jar = {};
    for (const pair of cookies.value.split(';')) {
      const at = pair.indexOf('=');
      if (at > 0) jar[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
    try {
      const a = await api('POST', '/admin/explain', { method: method.value, path: path.value, tenant: tenant.value || null, headers: named, cookies: jar });
      fill(out, h('table', {}, h('tbody', {},
        [['path matched', a.path], ['route', a.route || '— (no route matched)'], ['tenant', a.tenant ? a.tenant + (a.tenant_source ? ' (from ' + a.tenant_source + ')' : '') : '—'],
          ['matched on', a.conditions.length ? a.conditions.join(', ') : '—'],
          ['side', sideText(a.side)], ['upstream', a.upstream + ' (' + a.upstream_addr + ')'], ['reason', a.detail]]
          .map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))));
    } catch (error) {
      fill(out, h('p', { class: 'error' }, error.message));
    }
  });
  return form;
}

// ---- audit --------------------------------------------------------------------------------

/** The audit table; `status` (kept across redraws) says how a revert went. */
function drawAudit(container, entries, status, filters) {
  const shown = entries.filter((e) => !filters || ((!filters.route || e.route === filters.route) && (!filters.actor || e.actor === filters.actor)));
  const rows = shown.map((e) => h('tr', { 'data-audit': e.id },
    h('td', { class: 'num' }, e.id), h('td', {}, when(e.at)), h('td', {}, e.actor),
    h('td', {}, e.route ? routeLink(e.route) : 'all routes'), h('td', {}, e.change.kind),
    h('td', {}, h('code', {}, JSON.stringify(e.before))), h('td', {}, h('code', {}, JSON.stringify(e.after))),
    h('td', {}, e.comment || ''),
    h('td', {}, e.reverted_by ? h('span', { class: 'muted' }, 'reverted by #' + e.reverted_by)
      : action('Revert', () => {
        if (confirm('Revert change #' + e.id + ' (' + e.change.kind + ')?')) perform(status, () => api('POST', '/admin/audit/' + e.id + '/revert', { comment: 'console revert' }), 'reverted #' + e.id);
      }))));
  fill(container, shown.length ? h('table', { class: 'audit' },
    h('thead', {}, h('tr', {}, ['#', 'When', 'Actor', 'Route', 'Change', 'Before', 'After', 'Comment', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No audit entries.'));
}

function auditPage() {
  const route = h('input', { type: 'search', placeholder: 'route', id: 'audit-route' });
  const actor = h('input', { type: 'search', placeholder: 'actor', id: 'audit-actor' });
  const table = h('div');
  const status = h('span', { id: 'audit-status' });
  let entries = [];
  const draw = () => drawAudit(table, entries, status, { route: route.value.trim(), actor: actor.value.trim() });
  route.addEventListener('input', draw);
  actor.addEventListener('input', draw);
  return {
    el: h('div', {}, h('h1', {}, 'Audit log'), h('div', { class: 'row' }, 'Filter: ', route, actor, status), table),
    async refresh() {
      entries = (await get('/admin/audit?view=changes&limit=500')).entries;
      draw();
    },
  };
}

// ---- diffs (QA) -------------------------------------------------------------------------

function diffsPage() {
  const since = h('select', { id: 'diffs-since' }, ['1h', '24h', '7d', '30d'].map((s) => h('option', { value: s, selected: s === '24h' }, 'last ' + s)));
  const body = h('div');
  since.addEventListener('change', () => refreshNow());
  return {
    el: h('div', {}, h('h1', {}, 'Shadow comparisons'), h('div', { class: 'row' }, 'Period: ', since), body),
    async refresh() {
      const report = await get('/admin/diffs?since=' + since.value);
      fill(body, report.routes.length ? report.routes.map(diffCard) : h('p', { class: 'muted' }, 'No comparisons in this period.'));
    },
  };
}

function diffCard(r) {
  const probes = r.noise_probes || 0;
  return h('section', { class: 'card', 'data-diff-route': r.route },
    h('h2', {}, routeLink(r.route)),
    h('p', {}, r.compared + ' compared: ' + r.matched + ' matched, ' + (r.noise_only || 0) + ' differed only in noise, ' +
      r.mismatched + ' mismatched, ' + (r.unsettled || 0) + ' unsettled; ' + r.skipped + ' skipped, ' + r.errors + ' errors. ',
      h('strong', {}, (r.match_rate * 1).toFixed(1) + ' % match')),
    h('p', { class: probes < 10 ? 'warn' : 'muted' }, 'Noise estimate from ' + probes + ' probe(s)' +
      (r.shadow_noise_probes ? ' (' + r.shadow_noise_probes + ' on the shadow side)' : '') +
      (probes < 10 ? ': fewer than 10, so differences are unsettled until more arrive.' : '.')),
    (r.findings || []).length ? h('table', {},
      h('thead', {}, h('tr', {}, ['Finding', 'Kind', 'Paths', 'Count', 'Examples (primary → shadow)'].map((t) => h('th', {}, t)))),
      h('tbody', {}, r.findings.map((f) => h('tr', {}, h('td', {}, h('code', {}, f.path)), h('td', {}, f.kind), h('td', { class: 'num' }, f.paths),
        h('td', { class: 'num' }, f.count),
        h('td', {}, (f.examples || []).map((e) => h('div', {}, h('code', {}, e.path), ' ', h('code', {}, exampleText(e))))))))) : h('p', { class: 'ok' }, 'No real differences.'),
    r.noise.length ? h('p', { class: 'muted' }, 'Noise (cancelled): ', r.noise.map((n) => n.path + ' (' + n.count + ', ' +
      (r.compared ? (100 * n.count / r.compared).toFixed(0) : 0) + ' %)').join(', ')) : null,
    (r.signatures || []).length ? h('div', {}, h('h2', {}, 'Samples by signature'), r.signatures.map((g) => h('div', { class: 'signature' },
      h('p', {}, h('strong', {}, g.count + ' × '), h('code', {}, g.signature)),
      h('ul', {}, g.samples.map((s) => h('li', {},
        link('#/sample/' + encodeURIComponent(s.id), 'sample ' + s.id), ' ',
        s.request ? s.request.method + ' ' + s.request.target + (s.request.tenant ? ' · tenant ' + s.request.tenant : '') + ' · ' + when(s.request.at_ms) : '')))))) : null);
}

function exampleText(example) {
  if (!example) return '';
  const show = (v) => (v === undefined ? '(absent)' : JSON.stringify(v));
  return show(example.primary) + ' → ' + show(example.shadow);
}

function samplePage(id) {
  const body = h('div');
  return {
    el: h('div', {}, h('h1', {}, 'Sample ', id), body),
    live: false,
    async refresh() {
      const sample = await get('/admin/diffs/samples/' + encodeURIComponent(id));
      const report = await get('/admin/diffs?since=30d&route=' + encodeURIComponent(sample.route)).catch(() => ({ routes: [] }));
      const noise = new Set(((report.routes[0] || {}).noise || []).map((n) => n.path));
      const differing = new Set(sample.signature ? sample.signature.split(',') : []);
      const q = sample.request;
      fill(body,
        q ? h('p', {}, h('strong', {}, q.method + ' ' + q.target), ' · route ', routeLink(sample.route), q.tenant ? ' · tenant ' + q.tenant : '',
          ' · ' + when(q.at_ms) + ' · the client was answered by ' + q.primary_side) : null,
        h('p', { class: 'muted' }, 'Differs at: ', [...differing].map((p) => h('code', { class: noise.has(p) ? 'muted' : 'bad' }, p + ' ')),
          ' (noise in grey, real differences in red)'),
        h('div', { class: 'grid2' }, answerColumn('Primary (' + (q ? q.primary_side : 'served') + ')', sample.primary, differing, noise),
          answerColumn('Shadow', sample.shadow, differing, noise)));
    },
  };
}

function answerColumn(title, answer, differing, noise) {
  if (!answer) return h('div', {}, h('h2', {}, title), h('p', { class: 'muted' }, 'no answer'));
  return h('div', { class: 'answer' }, h('h2', {}, title, ': ', String(answer.status)),
    h('table', {}, h('tbody', {}, (answer.headers || []).map(([n, v]) => h('tr', {}, h('th', {}, n), h('td', {}, v))))),
    h('pre', { class: 'body' }, jsonLines(answer.body, differing, noise)),
    answer.truncated ? h('p', { class: 'warn' }, 'body truncated') : null);
}

function escapePointer(key) {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The body pretty-printed, one span a line, lines of differing paths marked. */
function jsonLines(body, differing, noise) {
  const lines = [];
  const mark = (pointer) => {
    for (const p of differing) {
      if (pointer === p || pointer.startsWith(p + '/')) return noise.has(p) ? 'noise' : 'diff';
    }
    return '';
  };
  const push = (indent, text, pointer) => {
    const cls = ['line', mark(pointer), text.includes('[redacted]') ? 'redacted' : ''].filter(Boolean).join(' ');
    lines.push(h('span', { class: cls, 'data-path': pointer }, '  '.repeat(indent) + text));
  };
  const walk = (value, pointer, indent, prefix, comma) => {
    if (Array.isArray(value) || (value && typeof value === 'object')) {
      const isArray = Array.isArray(value);
      const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
      if (!entries.length) return push(indent, prefix + (isArray ? '[]' : '{}') + comma, pointer);
      push(indent, prefix + (isArray ? '[' : '{'), pointer);
      entries.forEach(([key, child], i) => {
        const label = isArray ? '' : JSON.stringify(key) + ': ';
        walk(child, pointer + '/' + escapePointer(key), indent + 1, label, i < entries.length - 1 ? ',' : '');
      });
      return push(indent, (isArray ? ']' : '}') + comma, pointer);
    }
    push(indent, prefix + JSON.stringify(value) + comma, pointer);
  };
  if (typeof body === 'string') return [h('span', { class: 'line' }, body)];
  walk(body, '', 0, '', '');
  return lines;
}

// ---- health -------------------------------------------------------------------------------

function healthPage() {
  const body = h('div');
  return {
    el: h('div', {}, h('h1', {}, 'Health'), body),
    async refresh() {
      const [health, guards, routes] = await Promise.all([get('/admin/health'), get('/admin/guards'), get('/admin/routes?tenants=count')]);
      showBanner(routes.flag_store);
      const store = routes.flag_store;
      fill(body,
        h('section', { class: 'card' }, h('h2', {}, 'Flag store'), h('p', {}, store.store + ': ', h('strong', { class: store.state === 'connected' ? 'ok' : 'bad' }, store.state),
          ' since ' + when(store.since) + '; flags read ' + when(store.flags_read_at) + ' from ' + store.flags_source + ' (version ' + store.flags_version + ')', store.error ? ' · ' + store.error : '')),
        h('section', { class: 'card' }, h('h2', {}, 'Services'), health.services.length ? h('table', {},
          h('thead', {}, h('tr', {}, ['Service', 'Address', 'Breaker', 'Window', 'Health check'].map((t) => h('th', {}, t)))),
          h('tbody', {}, health.services.map(serviceRow))) : h('p', { class: 'muted' }, 'No services.')),
        h('section', { class: 'card' }, h('h2', {}, 'Rollback guards'), guards.guards.length ? h('table', {},
          h('thead', {}, h('tr', {}, ['Route', 'State', 'Requests', 'Error rate', 'p95', 'Last trip'].map((t) => h('th', {}, t)))),
          h('tbody', {}, guards.guards.map((g) => h('tr', {}, h('td', {}, routeLink(g.route)), h('td', {}, h('span', { class: g.state === 'tripped' ? 'bad' : '' }, g.state)),
            h('td', { class: 'num' }, g.figures.requests), h('td', { class: 'num' }, g.figures.error_rate.toFixed(2) + ' %'), h('td', { class: 'num' }, g.figures.p95_ms + ' ms'),
            h('td', {}, g.last_trip ? JSON.stringify(g.last_trip) : '—'))))) : h('p', { class: 'muted' }, 'No guards configured.')));
    },
  };
}

function serviceRow(s) {
  const b = s.breaker;
  if (!b) return h('tr', {}, h('td', {}, s.name), h('td', {}, s.addr), h('td', { class: 'muted', colspan: 3 }, 'no breaker or health check configured'));
  return h('tr', {}, h('td', {}, s.name), h('td', {}, s.addr),
    h('td', {}, h('span', { class: b.state === 'open' ? 'bad' : 'ok' }, b.state)),
    h('td', {}, b.window_failures + ' failures / ' + b.window_requests + ' requests'),
    h('td', {}, b.last_check ? (b.last_check.ok ? 'ok' : 'failed') + ' at ' + when(b.last_check.at_unix_ms) : (s.health_path ? 'not yet' : 'none')));
}

// ---- navigation and refresh -----------------------------------------------------------------

let page = null;

function pageFor(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (parts[0]) {
    case 'route': return ['overview', routePage(parts[1] || '')];
    case 'diffs': return ['diffs', diffsPage()];
    case 'sample': return ['diffs', samplePage(parts[1] || '')];
    case 'audit': return ['audit', auditPage()];
    case 'readiness': return ['readiness', readinessPage()];
    case 'health': return ['health', healthPage()];
    default: return ['overview', overviewPage()];
  }
}

async function refreshNow() {
  if (!page) return;
  const current = page;
  try {
    await current.refresh();
    current.el.dataset.loaded = 'true';
  } catch (error) {
    if (error.status === 401) return start();
    const banner = document.getElementById('banner');
    banner.hidden = false;
    banner.className = '';
    fill(banner, 'The admin API answered: ' + error.message);
  }
}

function navigate() {
  clearInterval(state.timer);
  const [section, next] = pageFor(location.hash);
  page = next;
  for (const a of document.querySelectorAll('#bar nav a')) a.classList.toggle('current', a.dataset.page === section);
  fill(document.getElementById('main'), page.el);
  refreshNow();
  if (page.live !== false) state.timer = setInterval(refreshNow, REFRESH_MS);
}

async function start() {
  clearInterval(state.timer);
  page = null;
  let signedIn = false;
  try {
    signedIn = await whoami();
  } catch (error) {
    fill(document.getElementById('main'), h('p', { class: 'error' }, 'The admin API is not answering: ' + error.message));
    return;
  }
  showWho();
  if (!signedIn) {
    fill(document.getElementById('main'), loginPage(state.token ? 'that token is no longer accepted' : ''));
    return;
  }
  navigate();
}

window.addEventListener('hashchange', () => state.who && navigate());
start();
