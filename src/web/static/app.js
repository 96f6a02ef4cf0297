// Sentinel dashboard. No framework, no build step. Calls the node's control API
// (POST /api/<method>, the same methods and params as the `sentinel` CLI) and listens to
// GET /api/events (Server-Sent Events). Every text that can come from a peer (names,
// aliases, messages, reasons) is inserted with textContent, never as HTML.
'use strict';

const CHART_POINTS = 60;
const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#4d7c0f', '#be185d'];

const state = {
  self: null,
  nat: null,
  status: null,
  peers: [],
  chatPeer: null,
  /** message id -> status seen on the event stream before the message was shown */
  statuses: new Map(),
  /** peer id -> { last: {t, bytes}, rates: number[] } */
  traffic: new Map(),
};

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function showError(err) {
  $('error').textContent = err ? String(err.message || err) : '';
}

async function call(method, params) {
  const res = await fetch(`/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(params || {}),
    credentials: 'same-origin',
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`HTTP ${res.status}`);
  }
  if (!body.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`);
  return body.result;
}

function shortId(id) {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

function peerLabel(p) {
  return p.alias || p.name || shortId(p.id);
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function formatDuration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function pathText(p) {
  if (!p.connected) return 'offline';
  if (p.path === 'relay') return `relay via ${p.relay || '?'}`;
  return `direct (${p.method}, ${p.address})`;
}

// Per-peer byte totals: the session's own counters when the node reports them, else the
// VPN's per-peer counters from status.
function peerBytes(p, status) {
  if (typeof p.bytesIn === 'number' && typeof p.bytesOut === 'number') return { in: p.bytesIn, out: p.bytesOut };
  const v = status && status.vpn && status.vpn.peers ? status.vpn.peers[p.id] : undefined;
  return v ? { in: v.bytesIn, out: v.bytesOut } : { in: 0, out: 0 };
}

// NAT kind: from the last netcheck run from this page (the Check button), else what
// status tells (the signaler's view of our address, hole punching).
function natText(status) {
  const nat = state.nat;
  if (nat) return `${nat.natKind} (mapping ${nat.mapping}, filtering ${nat.filtering}${nat.publicAddress ? `, seen as ${nat.publicAddress}` : ''})`;
  const punch = status.holePunching.available ? 'hole punching available' : `no hole punching (${status.holePunching.reason})`;
  const seen = status.signaler.observed ? `seen as ${status.signaler.observed}` : 'public address unknown';
  return `${seen}; ${punch}`;
}

function renderNode(status) {
  state.self = status.id;
  $('node-id').textContent = status.id;
  $('node-name').textContent = status.name || '–';
  $('node-nat').textContent = natText(status);
  const s = status.signaler;
  $('node-signaler').textContent = s.state === 'disabled' ? 'none' : `${s.state} (${s.address})`;
  const v = status.vpn;
  $('node-vpn').textContent = `${v.ipv4}, ${v.ipv6} (${v.state}${v.tun ? ` on ${v.tun}` : ''})`;
  $('node-uptime').textContent = formatDuration(status.uptimeMs);
}

// Rows are kept and updated in place (not rebuilt every second), so a click that lands
// while a snapshot arrives still hits its button.
function peerRow(id) {
  const body = $('peers').tBodies[0];
  let tr = body.querySelector(`tr[data-peer="${CSS.escape(id)}"]`);
  if (tr) return tr;
  tr = el('tr');
  tr.dataset.peer = id;
  const allow = el('button', null, 'vpn-toggle');
  allow.type = 'button';
  allow.addEventListener('click', () => {
    const p = state.peers.find((q) => q.id === id);
    if (p) setAllowed(id, !p.vpn.allowed);
  });
  const chat = el('button', 'Chat', 'chat-open');
  chat.type = 'button';
  chat.addEventListener('click', () => openChat(id));
  const vpnCell = el('td', null, 'vpn');
  vpnCell.append(el('span', null, 'vpn-ip'), ' ', allow);
  const chatCell = el('td');
  chatCell.append(chat);
  tr.append(el('td', null, 'id'), el('td', null, 'path'), el('td', null, 'rtt'), el('td', null, 'bytes'), vpnCell, chatCell);
  return tr;
}

function renderPeers(peers, status) {
  state.peers = peers;
  const rows = [];
  for (const p of peers) {
    const tr = peerRow(p.id);
    tr.className = p.connected ? 'up' : 'down';
    const [label, path, rtt, bytesCell] = tr.cells;
    label.textContent = peerLabel(p);
    label.title = p.id;
    path.textContent = pathText(p);
    path.className = p.connected ? `path path-${p.path}` : 'path';
    rtt.textContent = p.rttMs === null ? '–' : `${Math.round(p.rttMs)} ms`;
    const bytes = peerBytes(p, status);
    bytesCell.textContent = `${formatBytes(bytes.in)} / ${formatBytes(bytes.out)}`;
    tr.querySelector('.vpn-ip').textContent = p.vpn.ipv4;
    const allow = tr.querySelector('.vpn-toggle');
    allow.textContent = p.vpn.allowed ? 'Deny' : 'Allow';
    allow.title = p.vpn.allowed ? `stop VPN traffic with ${p.vpn.ipv4}` : `allow VPN traffic with ${p.vpn.ipv4}`;
    rows.push(tr);
  }
  const body = $('peers').tBodies[0];
  // Reorder only when the order changed: moving a row would cancel a click on it.
  const current = [...body.rows];
  if (current.length !== rows.length || current.some((r, i) => r !== rows[i])) body.replaceChildren(...rows);
  $('no-peers').hidden = peers.length > 0;
  if (state.chatPeer) $('chat-peer').textContent = chatTitle(state.chatPeer);
}

function sampleTraffic(peers, status) {
  const now = Date.now();
  const seen = new Set();
  for (const p of peers) {
    if (!p.connected) continue;
    seen.add(p.id);
    const b = peerBytes(p, status);
    const total = b.in + b.out;
    const t = state.traffic.get(p.id) || { last: null, rates: [] };
    if (t.last && now > t.last.t) t.rates.push(Math.max(0, ((total - t.last.bytes) * 1000) / (now - t.last.t)));
    if (t.rates.length > CHART_POINTS) t.rates.shift();
    t.last = { t: now, bytes: total };
    state.traffic.set(p.id, t);
  }
  for (const id of [...state.traffic.keys()]) if (!seen.has(id)) state.traffic.delete(id);
  drawChart();
}

function drawChart() {
  const canvas = $('chart');
  const ctx = canvas.getContext('2d');
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  let max = 1;
  for (const t of state.traffic.values()) for (const r of t.rates) max = Math.max(max, r);
  ctx.fillStyle = '#666';
  ctx.font = '11px sans-serif';
  ctx.fillText(`${formatBytes(Math.round(max))}/s`, 4, 12);
  const legend = [];
  let i = 0;
  for (const [id, t] of state.traffic) {
    const color = COLORS[i++ % COLORS.length];
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    t.rates.forEach((r, k) => {
      const x = (w * (k + CHART_POINTS - t.rates.length)) / (CHART_POINTS - 1);
      const y = h - 2 - ((h - 16) * r) / max;
      if (k === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    const p = state.peers.find((q) => q.id === id);
    const item = el('li', `${p ? peerLabel(p) : shortId(id)}: ${formatBytes(Math.round(t.rates[t.rates.length - 1] || 0))}/s`);
    item.style.color = color;
    legend.push(item);
  }
  $('chart-legend').replaceChildren(...legend);
}

async function setAllowed(id, allowed) {
  try {
    showError(null);
    await call(allowed ? 'allow' : 'deny', { target: id });
    const p = state.peers.find((q) => q.id === id);
    if (p) p.vpn.allowed = allowed;
    renderPeers(state.peers, state.status);
  } catch (err) {
    showError(err);
  }
}

function chatTitle(id) {
  const p = state.peers.find((q) => q.id === id);
  return p ? `${peerLabel(p)} (${id})` : id;
}

const TICKS = { pending: '…', delivered: '✓', refused: '✗ refused', received: '', request: 'request' };

function messageItem(m) {
  const li = el('li', null, m.from === state.self ? 'mine' : 'theirs');
  li.dataset.id = m.id;
  li.append(el('span', m.text, 'text'));
  const status = state.statuses.get(m.id) || m.status;
  const tick = el('span', TICKS[status] || '', `tick ${status}`);
  tick.dataset.status = status;
  tick.title = `${status}, ${new Date(m.timestamp).toLocaleString()}`;
  li.append(tick);
  return li;
}

function appendMessage(m) {
  const list = $('messages');
  if (list.querySelector(`li[data-id="${CSS.escape(m.id)}"]`)) return;
  list.append(messageItem(m));
  list.scrollTop = list.scrollHeight;
}

function setStatus(id, status) {
  state.statuses.set(id, status);
  if (state.statuses.size > 1000) state.statuses.delete(state.statuses.keys().next().value);
  const tick = $('messages').querySelector(`li[data-id="${CSS.escape(id)}"] .tick`);
  if (!tick) return;
  tick.textContent = TICKS[status] || '';
  tick.className = `tick ${status}`;
  tick.dataset.status = status;
}

async function openChat(id) {
  state.chatPeer = id;
  $('chat').hidden = false;
  $('chat-peer').textContent = chatTitle(id);
  $('messages').replaceChildren();
  try {
    showError(null);
    const history = await call('history', { target: id, limit: 100 });
    if (state.chatPeer !== id) return;
    for (const m of history) appendMessage(m);
  } catch (err) {
    showError(err);
  }
  $('chat-text').focus();
}

$('chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('chat-text');
  const text = input.value;
  const to = state.chatPeer;
  if (!to || text === '') return;
  try {
    showError(null);
    const r = await call('send', { target: to, text });
    input.value = '';
    if (state.chatPeer === to) appendMessage({ id: r.id, from: state.self, to: r.to, text, timestamp: Date.now(), status: r.status });
  } catch (err) {
    showError(err);
  }
});

$('dial-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const target = $('dial-target').value.trim();
  const out = $('dial-result');
  out.textContent = `dialing ${target}…`;
  try {
    showError(null);
    const r = await call('dial', { target });
    const why = r.explanation ? ` (${r.explanation})` : '';
    out.textContent = `connected to ${r.id}: ${r.path === 'relay' ? `relayed via ${r.relay}${why}` : `direct (${r.method}, ${r.address})`} in ${r.ms} ms${r.existing ? ' (already connected)' : ''}`;
    out.dataset.peer = r.id;
  } catch (err) {
    out.textContent = `dial failed: ${err.message}`;
  }
});

$('netcheck').addEventListener('click', async () => {
  const button = $('netcheck');
  button.disabled = true;
  $('node-nat').textContent = 'checking…';
  try {
    showError(null);
    state.nat = await call('netcheck', {});
  } catch (err) {
    // A node without netcheck answers "unknown method": say so once and drop the button.
    if (/unknown method/.test(err.message)) button.hidden = true;
    else showError(err);
  }
  button.disabled = false;
  if (state.status) renderNode(state.status);
});

$('copy-id').addEventListener('click', async () => {
  const id = $('node-id').textContent;
  try {
    await navigator.clipboard.writeText(id);
    $('copy-id').textContent = 'Copied';
  } catch {
    // Clipboard refused (permissions): select the id so the user can copy it by hand.
    window.getSelection().selectAllChildren($('node-id'));
  }
  setTimeout(() => ($('copy-id').textContent = 'Copy'), 1500);
});

function connectEvents() {
  const es = new EventSource('/api/events');
  const live = $('live');
  es.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live on';
  });
  es.addEventListener('error', () => {
    live.textContent = 'offline';
    live.className = 'live off';
  });
  const on = (name, fn) => es.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
  on('snapshot', (d) => {
    state.status = d.status;
    renderNode(d.status);
    renderPeers(d.peers, d.status);
    sampleTraffic(d.peers, d.status);
  });
  on('message', (e) => {
    const m = e.message;
    if (state.chatPeer && (m.from === state.chatPeer || m.to === state.chatPeer)) appendMessage(m);
  });
  on('delivered', (e) => setStatus(e.id, 'delivered'));
  on('refused', (e) => setStatus(e.id, 'refused'));
  on('progress', (p) => {
    const out = $('dial-result');
    if (out.textContent.startsWith('dialing')) out.textContent = `dialing ${p.target}… ${p.stage}: ${p.message}`;
  });
}

connectEvents();
