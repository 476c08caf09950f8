// strangler's console, the readiness page: which routes' legacy paths can go, from
// GET /admin/readiness. Loaded before console.js, whose helpers (h, fill, get, routeLink,
// percentText) it calls when the page is drawn. Everything from the API is inserted as text.
'use strict';

const VERDICT_CLASS = {
  'not-started': 'muted',
  ramping: '',
  blocked: 'bad',
  'ready-to-finish-ramp': 'warn',
  'legacy-path-removable': 'ok',
};

function readinessPage() {
  const body = h('div');
  return {
    // The report reads the store and changes by the hour: drawn once, refreshed on demand.
    live: false,
    el: h('div', {}, h('h1', {}, 'Readiness'),
      h('div', { class: 'row' }, h('button', { id: 'readiness-refresh', onclick: () => refreshNow() }, 'Refresh')),
      body),
    async refresh() {
      drawReadiness(body, await get('/admin/readiness'));
    },
  };
}

function drawReadiness(container, report) {
  const heads = ['Route', 'Percent', 'New 1d', 'New 7d', 'New 30d', 'Days at 100 %', 'Since rollback',
    'Fallbacks', 'Match rate', 'Legacy tenants', 'Verdict', 'Reasons'];
  fill(container,
    h('p', { class: 'muted' }, 'Judged over the last ' + report.period_days + ' days (readiness.removable_after), ' +
      'from the hourly rollup every proxy flushes each minute.'),
    h('table', { class: 'readiness' },
      h('thead', {}, h('tr', {}, heads.map((t) => h('th', {}, t)))),
      h('tbody', {}, report.routes.map(readinessRow))),
    staleFlags(report));
}

function readinessRow(r) {
  const share = (value) => value === null || value === undefined ? '—' : percentText(value * 100);
  const days = (value) => value === null || value === undefined ? '—' : value + ' d';
  return h('tr', { 'data-readiness-route': r.route },
    h('td', {}, routeLink(r.route)),
    h('td', { class: 'num' }, percentText(r.percent)),
    h('td', { class: 'num' }, share(r.share_new.day)),
    h('td', { class: 'num' }, share(r.share_new.week)),
    h('td', { class: 'num' }, share(r.share_new.month)),
    h('td', { class: 'num' }, days(r.days_at_full)),
    h('td', { class: 'num', title: r.last_rollback ? r.last_rollback.what : null }, days(r.days_since_rollback)),
    h('td', { class: 'num' }, r.fallbacks),
    h('td', { class: 'num' }, share(r.match_rate)),
    h('td', {}, r.legacy_tenants.length ? r.legacy_tenants.join(', ') : '—'),
    h('td', { class: 'verdict' }, h('span', { class: VERDICT_CLASS[r.verdict] || '' }, r.verdict_text)),
    h('td', { class: 'muted' }, r.reasons.join('; ')));
}

function staleFlags(report) {
  const stale = report.routes.filter((r) => r.stale_days !== null && r.stale_days !== undefined);
  if (!stale.length) return null;
  return h('section', { class: 'card', id: 'stale-flags' }, h('h2', {}, 'Stale flags'),
    h('p', { class: 'muted' }, 'Neither 0 % nor 100 %, unchanged for 30 days or more: a ramp someone forgot.'),
    h('ul', {}, stale.map((r) => h('li', {}, routeLink(r.route), ': ' + r.stale_days + ' days at ' + percentText(r.percent)))));
}
