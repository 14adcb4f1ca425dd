// The live page: plain DOM, no framework. Connects to /ws, joins ?room= (default "lobby"),
// shows the room's members and reactions, this instance's health, and cache/queue numbers
// when those endpoints exist. ?debug=1 adds instance and connection details.
const params = new URLSearchParams(location.search);
const room = (params.get('room') || 'lobby').slice(0, 100);
const debug = params.get('debug') === '1';
const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  joined: false,
  me: null,
  members: new Map(),
  counts: {},
  reactions: ['👍', '❤️', '😂', '🎉', '😮', '🔥'],
  retry: 0,
  instanceId: null,
};

function memberId() {
  let id = sessionStorage.getItem('redkit-member');
  if (!id) {
    id = `u-${crypto.getRandomValues(new Uint32Array(2)).join('').slice(0, 10)}`;
    sessionStorage.setItem('redkit-member', id);
  }
  return params.get('id') || id;
}

/** Text for each reaction, shown beside the emoji. */
const REACTION_WORDS = { '👍': 'like', '❤️': 'love', '😂': 'funny', '🎉': 'party', '😮': 'wow', '🔥': 'fire' };

function setBadge(el, text, kind) {
  el.textContent = text;
  el.className = `badge ${kind}`;
}
function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.hidden = !text;
}
function log(direction, frame) {
  if (!debug) return;
  const li = document.createElement('li');
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${direction} ${JSON.stringify(frame)}`;
  const list = $('debug-log');
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

function renderMembers() {
  const ul = $('members');
  const items = [...state.members.values()].sort((a, b) => String(a.meta.name ?? a.id).localeCompare(String(b.meta.name ?? b.id)));
  ul.replaceChildren(
    ...items.map((m) => {
      const li = document.createElement('li');
      li.textContent = m.meta.name ? `${m.meta.name}` : m.id;
      li.title = m.id;
      li.dataset.id = m.id;
      if (m.id === state.me) {
        li.className = 'me';
        li.textContent += ' (you)';
      }
      return li;
    }),
  );
  $('member-count').textContent = String(items.length);
}

function renderReactions() {
  const box = $('reactions');
  if (box.children.length !== state.reactions.length) {
    box.replaceChildren(
      ...state.reactions.map((r) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.reaction = r;
        b.addEventListener('click', () => send({ type: 'react', room, reaction: r }));
        return b;
      }),
    );
  }
  for (const b of box.children) {
    const r = b.dataset.reaction;
    const n = state.counts[r] ?? 0;
    b.innerHTML = '';
    // The word next to the emoji: where no emoji font is installed the emoji is a blank box.
    const emoji = document.createElement('span');
    emoji.className = 'emoji';
    emoji.textContent = r;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = REACTION_WORDS[r] ?? '';
    b.append(emoji, label);
    const span = document.createElement('span');
    span.className = 'n';
    span.textContent = String(n);
    b.append(span);
    b.setAttribute('aria-label', `${r} ${REACTION_WORDS[r] ?? ''} reaction, ${n} so far`);
    b.disabled = !state.joined;
  }
}

function send(frame) {
  if (state.ws?.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    log('→', frame);
  }
}

function join() {
  const name = $('name').value.trim().slice(0, 40) || state.me;
  localStorage.setItem('redkit-name', name);
  send({ type: 'join', room, id: state.me, name });
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  state.ws = ws;
  setBadge($('socket'), 'connecting', 'warn');
  ws.addEventListener('open', () => {
    state.retry = 0;
    setBadge($('socket'), 'open', 'ok');
    if ($('name').value.trim()) join();
  });
  ws.addEventListener('message', (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    log('←', frame);
    onFrame(frame);
  });
  ws.addEventListener('close', (event) => {
    state.joined = false;
    $('join-button').disabled = false;
    $('leave-button').disabled = true;
    setBadge($('socket'), `closed (${event.code})`, 'bad');
    renderReactions();
    // Reconnect with capped backoff; policy closes (1008/1009) are not retried blindly in a loop.
    const delay = Math.min(10_000, 250 * 2 ** state.retry++);
    if (event.code !== 1008) setTimeout(connect, delay);
  });
}

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      state.instanceId = f.instanceId;
      $('instance').textContent = f.instanceId;
      if (Array.isArray(f.reactions)) state.reactions = f.reactions;
      setMode(f.mode);
      renderReactions();
      break;
    case 'snapshot':
      if (f.room !== room) break;
      state.joined = true;
      state.members = new Map(f.members.map((m) => [m.id, m]));
      state.counts = { ...f.reactions };
      $('join-button').disabled = true;
      $('leave-button').disabled = false;
      setMode(f.mode);
      renderMembers();
      renderReactions();
      showError('');
      break;
    case 'joined':
      if (f.room === room) {
        state.members.set(f.member.id, f.member);
        renderMembers();
      }
      break;
    case 'left':
      if (f.room === room) {
        state.members.delete(f.memberId);
        renderMembers();
      }
      break;
    case 'reaction':
      if (f.room === room) {
        state.counts[f.reaction] = f.count;
        renderReactions();
        const who = state.members.get(f.by)?.meta?.name ?? f.by;
        $('last-reaction').textContent = `${who || 'someone'} reacted ${f.reaction}`;
      }
      break;
    case 'reactions':
      if (f.room === room) {
        state.counts = { ...f.counts };
        renderReactions();
      }
      break;
    case 'status':
      setMode(f.mode);
      break;
    case 'ack':
      if (f.of === 'leave') {
        state.joined = false;
        state.members.clear();
        renderMembers();
        renderReactions();
        $('join-button').disabled = false;
        $('leave-button').disabled = true;
      }
      break;
    case 'error':
      // A Redis error's message names the server and its fix: visitors get the code only.
      showError(f.code === 'E_REDIS_UNAVAILABLE' ? `${f.code}: Redis is unavailable, try again shortly` : `${f.code}: ${f.message}`);
      break;
  }
}

function setMode(mode) {
  if (!mode) return;
  const kind = mode === 'degraded' ? 'bad' : 'ok';
  setBadge($('health'), mode === 'redis' ? 'healthy (redis)' : mode === 'standalone' ? 'healthy (standalone)' : 'degraded', kind);
}

async function getJson(url, token) {
  try {
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, { headers });
    const type = res.headers.get('content-type') || '';
    if (!type.includes('json')) return { ok: false, status: res.status };
    return { ok: res.ok, status: res.status, body: await res.json() };
  } catch {
    return { ok: false, status: 0 };
  }
}

async function poll() {
  const health = await getJson('/api/health');
  if (health.body?.status) {
    // Only the status: the message may name the Redis host and its fix (HEALTH_DETAILS), never for visitors.
    setBadge(
      $('health'),
      health.body.status === 'healthy' ? `healthy (${health.body.mode})` : `degraded: Redis ${health.body.redis?.status ?? 'unavailable'}`,
      health.body.status === 'healthy' ? 'ok' : 'bad',
    );
    if (!state.instanceId) $('instance').textContent = health.body.instanceId;
  }
  const cache = await getJson('/api/cache/stats');
  // The deployment's figure (every instance, summed in Redis); this instance's only when that is unavailable, and said so.
  const deployment = cache.body?.deployment;
  if (cache.ok && (deployment || (cache.body?.namespaces && typeof cache.body.namespaces === 'object'))) {
    let hits = 0;
    let misses = 0;
    if (deployment) {
      hits = Number(deployment.hits) || 0;
      misses = Number(deployment.misses) || 0;
    } else {
      for (const ns of Object.values(cache.body.namespaces)) {
        hits += Number(ns?.hits) || 0;
        misses += Number(ns?.misses) || 0;
      }
    }
    const scope = deployment?.scope === 'deployment' ? 'all instances' : 'this instance';
    $('cache').textContent =
      hits + misses === 0 ? 'no reads yet' : `${((100 * hits) / (hits + misses)).toFixed(1)}% (${hits} hits, ${misses} misses; ${scope})`;
  }
  // The admin token (ADMIN_TOKEN) is typed in by the operator and kept for this tab only.
  const queues = await getJson('/api/admin/queue/stats', sessionStorage.getItem('redkit-admin-token'));
  $('token-box').hidden = !(queues.status === 401 || queues.status === 403);
  if (queues.ok && queues.body && typeof queues.body === 'object') {
    const source = queues.body.queues ?? queues.body;
    const parts = [];
    for (const [name, counts] of Object.entries(source)) {
      if (counts && typeof counts === 'object') {
        const c = counts.counts ?? counts.local ?? counts;
        const nums = ['waiting', 'active', 'delayed', 'completed', 'failed'].filter((k) => typeof c[k] === 'number').map((k) => `${k} ${c[k]}`);
        if (typeof c.workers === 'number') nums.push(`workers ${c.workers}`);
        // The server says when jobs wait and no worker is alive (heartbeats): "waiting 3 — no worker is consuming".
        if (typeof counts.warning === 'string') nums.push(`⚠ ${counts.warning}`);
        if (nums.length) parts.push(`${name}: ${nums.join(', ')}`);
      }
    }
    $('queues').textContent = parts.length ? parts.join(' · ') : 'no queues';
  } else if (queues.status === 401 || queues.status === 403) {
    $('queues').textContent = 'admin token required';
  } else if (queues.status === 404 && queues.body?.error === 'E_DISABLED') {
    $('queues').textContent = 'admin routes disabled (ADMIN_TOKEN unset)';
  }
  const rt = await getJson(`/api/realtime${debug ? '?debug=1' : ''}`);
  if (rt.ok) {
    $('local-rooms').textContent =
      `${rt.body.gateway.rooms.map((r) => `${r.room} (${r.localConnections})`).join(', ') || 'none'} · ${rt.body.gateway.connections} connection(s)`;
    if (debug) {
      const { connections, ...rest } = rt.body;
      $('debug-instance').textContent = JSON.stringify(rest, null, 2);
      $('debug-connections').replaceChildren(
        ...(connections ?? []).map((c) => {
          const tr = document.createElement('tr');
          for (const v of [c.id, c.memberId ?? '', c.rooms.join(' '), c.remoteAddress ?? '', c.connectedAt.slice(11, 19), c.received, c.rejected]) {
            const td = document.createElement('td');
            td.textContent = String(v);
            tr.append(td);
          }
          return tr;
        }),
      );
    }
  }
}

$('room-name').textContent = room;
$('name').value = params.get('name') || localStorage.getItem('redkit-name') || '';
$('debug').hidden = !debug;
state.me = memberId();
$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  join();
});
$('leave-button').addEventListener('click', () => send({ type: 'leave', room }));
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('redkit-admin-token', $('admin-token').value);
  $('admin-token').value = '';
  poll();
});
renderReactions();
connect();
poll();
setInterval(poll, 2000);
