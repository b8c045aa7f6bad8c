// Berth's dashboard: plain JavaScript, no build step. Everything it shows comes from the admin API, with the admin
// token as a bearer header (kept in this tab's sessionStorage; never a cookie). Text from Berth or from apps (log
// lines, failure reasons) is only ever set as text, never parsed as HTML.
'use strict';

const TOKEN_KEY = 'berth.token';
const POLL_MS = 2000;
const LOG_LINES_KEPT = 1000;

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY);
let timer = null;
let logAbort = null;
let shownApp = null;

// ---- the API

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { 'Authorization': 'Bearer ' + token, 'Accept': 'application/json', ...(options.headers || {}) },
    cache: 'no-store',
  });
  if (response.status === 401) throw new Unauthorized();
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(body && body.error ? body.error.message : 'HTTP ' + response.status);
  return body;
}

// ---- formatting

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(c instanceof Node ? wrapCell(c) : el('td', c));
  return tr;
}

function wrapCell(node) {
  if (node.tagName === 'TD') return node;
  const td = document.createElement('td');
  td.append(node);
  return td;
}

function num(text) {
  return el('td', text, 'num');
}

function bytes(n) {
  if (n === undefined || n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function duration(seconds) {
  if (seconds === undefined || seconds === null) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

function ms(v) {
  return v === undefined || v === null ? '-' : (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ms';
}

/** Memory integrated over time, in a unit that shows it: GiB-hours, or MiB-seconds while it is small. */
function memoryUse(byteSeconds) {
  if (byteSeconds === undefined || byteSeconds === null) return '-';
  const gibHours = byteSeconds / 1073741824 / 3600;
  return gibHours >= 0.01 ? gibHours.toFixed(3) + ' GiB-hours' : (byteSeconds / 1048576).toFixed(1) + ' MiB-seconds';
}

function time(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleTimeString();
}

function stateBadge(state) {
  return el('span', state, 'state state-' + state);
}

function pairs(dl, entries) {
  dl.replaceChildren();
  for (const [k, v] of entries) dl.append(el('dt', k), el('dd', v));
}

/** A sparkline of {@code points} as inline SVG: one polyline over a shaded area, scaled to its own maximum. */
function sparkline(points, width, height, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const title = document.createElementNS(ns, 'title');
  title.textContent = label;
  svg.append(title);
  const data = points.length ? points : [0];
  const max = Math.max(1, ...data);
  const step = data.length > 1 ? width / (data.length - 1) : width;
  const xy = data.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 3)).toFixed(1)}`);
  if (data.length === 1) xy.push(`${width},${xy[0].split(',')[1]}`);
  const area = document.createElementNS(ns, 'polygon');
  area.setAttribute('points', `0,${height} ${xy.join(' ')} ${width},${height}`);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', xy.join(' '));
  svg.append(area, line);
  return svg;
}

function seriesLabel(points, intervalSeconds) {
  const total = points.reduce((a, b) => a + b, 0);
  return `${total} requests in the last ${duration(points.length * intervalSeconds)}`;
}

// ---- views

function show(section) {
  for (const id of ['login', 'apps', 'app']) $(id).hidden = id !== section;
  $('signout').hidden = section === 'login';
}

function signIn(message) {
  stop();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  show('login');
  $('token').value = '';
  $('login-error').textContent = message || '';
  $('token').focus();
}

function stop() {
  if (timer) clearTimeout(timer);
  timer = null;
  if (logAbort) logAbort.abort();
  logAbort = null;
  shownApp = null;
}

async function poll(render) {
  try {
    await render();
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    if (e instanceof Unauthorized) return signIn('That token was refused: it is not this Berth\'s admin token.');
    $('updated').textContent = 'cannot reach Berth: ' + e.message;
  }
  timer = setTimeout(() => poll(render), POLL_MS);
}

async function renderApps() {
  const s = await api('/v1/status');
  $('node').textContent = `${s.version} · up ${duration(s.uptime_seconds)} · ${s.store}`;
  const interval = s.sample_interval_seconds || 10;
  const body = $('apps-table').tBodies[0];
  body.replaceChildren();
  for (const a of s.apps) {
    const link = el('a', a.name);
    link.href = '#/apps/' + encodeURIComponent(a.name);
    const points = a.requests_recent || [];
    const tr = row([link, stateBadge(a.state), a.pid || '-', a.port || '-', num(a.in_flight),
      sparkline(points, 160, 24, seriesLabel(points, interval)), (a.domains || []).join(', '),
      el('td', a.last_failure || '', 'wrap error')]);
    tr.dataset.app = a.name;
    body.append(tr);
  }
  $('spark-head').textContent = `Requests (last ${duration(60 * interval)})`;
  $('apps-empty').hidden = s.apps.length > 0;
}

async function renderApp(name) {
  const a = await api('/v1/apps/' + encodeURIComponent(name) + '/status');
  $('app-name').textContent = a.name;
  const badge = $('app-state');
  badge.textContent = a.state;
  badge.className = 'state state-' + a.state;
  $('app-domains').textContent = (a.domains || []).join(', ');
  const failure = $('app-failure');
  failure.hidden = !a.last_failure;
  failure.textContent = a.last_failure ? 'Last failure: ' + a.last_failure
    + (a.backing_off_ms ? ` (next start in ${duration(a.backing_off_ms / 1000)})` : '') : '';

  const req = a.requests || { total: 0, by_class: {}, recent: [], interval_seconds: 10 };
  const points = req.recent || [];
  $('app-spark').replaceChildren(sparkline(points, 320, 48, seriesLabel(points, req.interval_seconds)));
  pairs($('app-requests'), [
    ['total', req.total],
    ['by class', Object.entries(req.by_class || {}).filter(([, n]) => n > 0).map(([c, n]) => `${c}: ${n}`).join(', ') || '-'],
    ['in flight', a.in_flight ?? 0],
    ['waiting', a.waiting ?? 0],
  ]);
  const c = a.counts || {};
  pairs($('app-counts'), [
    ['starts', c.starts ?? 0], ['start failures', c.start_failures ?? 0], ['crashes', c.crashes ?? 0],
    ['OOM kills', c.oom_kills ?? 0], ['recycles', c.recycles ?? 0],
  ]);
  const u = a.usage || {};
  pairs($('app-usage'), [
    ['CPU', u.cpu_seconds !== undefined ? u.cpu_seconds.toFixed(2) + ' s' : '-'],
    ['memory', memoryUse(u.memory_byte_seconds)],
  ]);

  const instances = $('instances-table').tBodies[0];
  instances.replaceChildren();
  for (const i of a.instances || []) {
    const tr = row(['i' + i.id, stateBadge(i.state), i.role, i.pid || '-', i.port, num(duration(i.uptime_seconds)),
      num(bytes(i.memory_bytes)), num(i.cpu_seconds !== undefined ? i.cpu_seconds.toFixed(2) + ' s' : '-'), num(i.requests), num(i.in_flight)]);
    tr.dataset.instance = i.id;
    tr.dataset.state = i.state;
    tr.dataset.role = i.role;
    instances.append(tr);
  }
  $('instances-empty').hidden = (a.instances || []).length > 0;
  $('instances-table').hidden = (a.instances || []).length === 0;

  const cold = a.cold_starts || { count: 0, recent: [] };
  $('cold-summary').textContent = cold.count
    ? `${cold.count} since Berth started; median ${ms(cold.median_ms)}, p95 ${ms(cold.p95_ms)} of the last ${cold.recent.length}` : '';
  const colds = $('cold-table').tBodies[0];
  colds.replaceChildren();
  for (const s of [...(cold.recent || [])].reverse()) {
    colds.append(row([time(s.at), 'i' + s.instance, num(ms(s.queued_ms)), num(ms(s.spawning_ms)), num(ms(s.booting_ms)),
      num(ms(s.responding_ms)), num(ms(s.total_ms))]));
  }
  $('cold-empty').hidden = (cold.recent || []).length > 0;
  $('cold-table').hidden = (cold.recent || []).length === 0;

  const failures = $('failures-table').tBodies[0];
  failures.replaceChildren();
  for (const f of [...(a.failures || [])].reverse()) {
    failures.append(row([time(f.at), 'i' + f.instance, f.kind.replace('_', ' '), el('td', f.reason, 'wrap')]));
  }
  $('failures-empty').hidden = (a.failures || []).length > 0;
  $('failures-table').hidden = (a.failures || []).length === 0;
}

// ---- the live log: server-sent events read through fetch (an EventSource cannot send the bearer header)

async function followLog(name) {
  const pre = $('log');
  pre.replaceChildren();
  const controller = new AbortController();
  logAbort = controller;
  const status = $('log-status');
  while (!controller.signal.aborted) {
    try {
      const response = await fetch('/v1/apps/' + encodeURIComponent(name) + '/logs?follow=true&lines=100', {
        headers: { 'Authorization': 'Bearer ' + token, 'Accept': 'text/event-stream' },
        signal: controller.signal,
      });
      if (response.status === 401) return signIn('That token was refused.');
      if (!response.ok) throw new Error('HTTP ' + response.status);
      status.textContent = 'live';
      pre.replaceChildren(); // the stream begins with the recent lines again
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const lines = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
          if (lines.length) appendLog(pre, lines.join('\n'));
        }
      }
      status.textContent = 'the stream ended; reconnecting';
    } catch (e) {
      if (controller.signal.aborted) return;
      status.textContent = 'disconnected (' + e.message + '); reconnecting';
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function appendLog(pre, line) {
  pre.append(document.createTextNode(line + '\n'));
  while (pre.childNodes.length > LOG_LINES_KEPT) pre.firstChild.remove();
  if ($('log-follow').checked) pre.scrollTop = pre.scrollHeight;
}

async function act(action) {
  const name = shownApp;
  const buttons = document.querySelectorAll('.actions button');
  buttons.forEach((b) => { b.disabled = true; });
  const status = $('action-status');
  status.className = 'muted';
  status.textContent = { start: 'starting…', stop: 'stopping…', restart: 'restarting…' }[action];
  try {
    const r = await api('/v1/apps/' + encodeURIComponent(name) + '/' + action, { method: 'POST' });
    const current = (r.instances || []).find((i) => i.role === 'serving');
    status.className = '';
    status.textContent = action === 'stop' ? 'stopped' : `${action === 'start' ? 'started' : 'restarted'}: i${current ? current.id : '?'} ${current ? current.state : ''}`;
  } catch (e) {
    if (e instanceof Unauthorized) return signIn('That token was refused.');
    status.className = 'error';
    status.textContent = action + ' failed: ' + e.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
  if (shownApp === name) await renderApp(name).catch(() => {});
}

// ---- navigation

function route() {
  stop();
  if (!token) return signIn();
  const m = location.hash.match(/^#\/apps\/([^/]+)$/);
  if (m) {
    const name = decodeURIComponent(m[1]);
    shownApp = name;
    show('app');
    $('app-name').textContent = name;
    poll(() => renderApp(name));
    followLog(name);
  } else {
    show('apps');
    poll(renderApps);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  // a link may carry the token in its fragment (#token=...): taken into this tab, then removed from the address bar
  const t = location.hash.match(/token=([^&]+)/);
  if (t) {
    token = decodeURIComponent(t[1]);
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + '#/');
  }
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    token = $('token').value.trim();
    try {
      await api('/v1/status');
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      $('login-error').textContent = '';
      location.hash = '#/';
      route();
    } catch (err) {
      signIn(err instanceof Unauthorized ? 'That token was refused: it is not this Berth\'s admin token.' : 'Cannot reach Berth: ' + err.message);
    }
  });
  $('signout').addEventListener('click', () => signIn());
  document.querySelectorAll('.actions button').forEach((b) => b.addEventListener('click', () => act(b.dataset.action)));
  window.addEventListener('hashchange', route);
  route();
});
