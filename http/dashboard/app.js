// neuroca dashboard. Reads the node's JSON API (protobuf JSON mapping: 64-bit integers arrive as
// strings, enums as names, fields at their default value are left out) and draws it with the DOM
// and SVG; no framework, no build step, nothing fetched from anywhere but this node.
//
// The page state lives in the URL (?tenant=&persona=&memory=) so a view can be linked and reloaded.
// <body data-dashboard-state> is "loading" while requests are in flight and "ready" when the last
// one has answered (successfully or not); data-error-count says how many failed. Tests wait for
// "ready".
'use strict';

(() => {
  const TIERS = ['STM', 'MTM', 'LTM'];
  const TIER_ENUM = ['TIER_UNSPECIFIED', 'STM', 'MTM', 'LTM'];
  const STATES =
      ['EVENT_PENDING', 'EVENT_ASSIGNED', 'EVENT_DELIVERED', 'EVENT_ACKED', 'EVENT_DEAD'];
  const STATE_ENUM = ['EVENT_STATE_UNSPECIFIED', ...STATES];
  const PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'CRITICAL'];
  const PRIORITY_ENUM = ['PRIORITY_UNSPECIFIED', ...PRIORITIES];
  const STATUS_ENUM = ['PERSONA_STATUS_UNSPECIFIED', 'PERSONA_ACTIVE', 'PERSONA_PAUSED'];
  const HISTORY_ENUM = [
    'ACTION_UNSPECIFIED', 'ADD', 'UPDATE', 'PROMOTE', 'DEMOTE', 'MERGE', 'FORGET', 'RESTORE',
    'DELETE'
  ];

  // Bounds: the dashboard must stay cheap for the node however big a persona is.
  const PERSONA_PAGE_SIZE = 500;
  const MAX_PERSONA_PAGES = 20;
  const MEMORY_PAGE_SIZE = 1000;
  const MAX_MEMORIES = 10000;
  const MEMORY_ROWS = 300;   // rows shown in the memory table
  const GRAPH_PROBES = 120;  // healthiest memories whose neighbours are fetched
  const GRAPH_EDGES = 40;    // strongest tubules drawn
  const PARALLEL_REQUESTS = 4;
  const REQUEST_TIMEOUT_MS = 15000;
  const AUTO_REFRESH_MS = 10000;
  const LAYOUT_ITERATIONS = 300;
  const TOKEN_KEY = 'neuroca-token';
  const GRAVITY = 4;  // pull to the centre in the graph layout

  const $ = (sel, root = document) => root.querySelector(sel);

  // ---- small helpers --------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const svg = ['svg', 'g', 'line', 'circle', 'rect', 'text', 'title'].includes(tag);
    const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) :
                       document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
      } else if (k.startsWith('on')) {
        node.addEventListener(k.slice(2), v);
      } else {
        node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // Attributes of a row or shape that a click or the Enter key activates.
  function activates(attrs, action) {
    return Object.assign(attrs, {
      tabindex: '0',
      onclick: action,
      onkeydown: (e) => e.key === 'Enter' && action(),
    });
  }

  const num = (v) => (v === undefined || v === null || v === '' ? 0 : Number(v));
  const fmtInt = (v) => num(v).toLocaleString('en-US');
  const fmtNum = (v, digits = 1) => num(v).toFixed(digits);

  // Protobuf JSON writes enums by name, but a number when the value is unknown to the writer.
  function enumName(v, names, fallback) {
    if (v === undefined || v === null || v === '') return fallback;
    if (typeof v === 'number' || /^\d+$/.test(String(v))) return names[Number(v)] || String(v);
    return String(v);
  }
  const tierOf = (v) => enumName(v, TIER_ENUM, 'TIER_UNSPECIFIED');
  const stateOf = (v) => enumName(v, STATE_ENUM, 'EVENT_STATE_UNSPECIFIED');
  const priorityOf = (v) => {
    const p = enumName(v, PRIORITY_ENUM, 'NORMAL');
    return p === 'PRIORITY_UNSPECIFIED' ? 'NORMAL' : p;
  };
  const statusOf = (v) =>
      (enumName(v, STATUS_ENUM, 'PERSONA_ACTIVE') === 'PERSONA_PAUSED' ? 'paused' : 'active');
  const shortState = (s) => s.replace(/^EVENT_/, '').toLowerCase();

  function fmtTime(us) {
    const n = num(us);
    if (!n) return '';
    const d = new Date(n / 1000);
    return isNaN(d.getTime()) ? '' : d.toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  }

  function truncate(s, n) {
    s = String(s || '');
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
  }

  // Runs fn over items with at most `limit` calls in flight; resolves to [{ok, value|error}].
  async function pool(items, limit, fn) {
    const out = new Array(items.length);
    let next = 0;
    async function worker() {
      while (next < items.length) {
        const i = next++;
        try {
          out[i] = {ok: true, value: await fn(items[i])};
        } catch (e) {
          out[i] = {ok: false, error: e};
        }
      }
    }
    await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
    return out;
  }

  // ---- API ------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, details, path) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || {};
      this.path = path;
    }
    describe() {
      const where = this.path ? ` (${this.path}${this.status ? ', HTTP ' + this.status : ''})` : '';
      const details = Object.entries(this.details).map(([k, v]) => `${k}=${v}`).join(', ');
      return `${this.code}: ${this.message}${details ? ' [' + details + ']' : ''}${where}`;
    }
  }

  const state = {
    tenant: 'default',
    token: '',  // never in the URL: sessionStorage only, so it does not end up in bookmarks or logs
    persona: '',
    memory: '',
    personas: [],
    memories: new Map(),  // id -> MemoryItem of the selected persona
    memoriesTruncated: false,
    inFlight: 0,
    errors: 0,
    personaToken: 0,
    historyToken: 0,
    refreshToken: 0,
    timer: null,
  };

  async function api(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null || v === '') continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    const shown = url.pathname + url.search;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    let resp;
    let text;
    try {
      const headers = {'Accept': 'application/json', 'X-Neuroca-Tenant': state.tenant};
      if (state.token) headers['Authorization'] = `Bearer ${state.token}`;
      resp = await fetch(url, {headers, signal: abort.signal});
      text = await resp.text();
    } catch (e) {
      const why = e.name === 'AbortError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` :
                                            `cannot reach the node (${e.message})`;
      throw new ApiError(0, 'UNAVAILABLE', why, {}, shown);
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try {
      body = text ? JSON.parse(text) : {};
    } catch (e) {
      if (resp.ok)
        throw new ApiError(
            resp.status, 'INTERNAL', 'the node answered with invalid JSON', {}, shown);
    }
    if (!resp.ok) {
      const b = body || {};
      throw new ApiError(
          resp.status, b.code || `HTTP_${resp.status}`,
          b.message || truncate(text, 200) || resp.statusText, b.details, shown);
    }
    return body;
  }

  const enc = encodeURIComponent;

  // ---- errors and busy state ------------------------------------------------------------------

  function sectionError(section, err) {
    const box = $('.section-error', section);
    if (!box) return;
    if (!err) {
      box.hidden = true;
      box.textContent = '';
      return;
    }
    box.hidden = false;
    box.textContent = err instanceof ApiError ? err.describe() : String(err);
    box.dataset.code = err.code || 'ERROR';
  }

  function report(section, err) {
    console.error(err);
    state.errors++;
    document.body.dataset.errorCount = String(state.errors);
    if (section) sectionError(section, err);
    let text = err instanceof ApiError ? err.describe() : String(err);
    if (err.status === 401 || err.status === 403)
      text += ' — enter a token with access to this tenant above.';
    $('#error-list')
        .append(el('li', {dataset: {code: err.code || 'ERROR', path: err.path || ''}}, text));
    $('#error').hidden = false;
  }

  function clearErrors() {
    state.errors = 0;
    document.body.dataset.errorCount = '0';
    $('#error-list').replaceChildren();
    $('#error').hidden = true;
    document.querySelectorAll('.section-error').forEach((b) => {
      b.hidden = true;
      b.textContent = '';
    });
  }

  // Every top-level load goes through busy() so <body data-dashboard-state> tells when all is
  // drawn.
  async function busy(fn) {
    state.inFlight++;
    document.body.dataset.dashboardState = 'loading';
    try {
      return await fn();
    } finally {
      state.inFlight--;
      if (state.inFlight === 0) {
        document.body.dataset.dashboardState = 'ready';
        $('#status-line').textContent = `updated ${new Date().toLocaleTimeString()}` +
            (state.errors ? ` · ${state.errors} error${state.errors > 1 ? 's' : ''}` : '');
      }
    }
  }

  function saveUrl() {
    const q = new URLSearchParams();
    if (state.tenant !== 'default') q.set('tenant', state.tenant);
    if (state.persona) q.set('persona', state.persona);
    if (state.memory) q.set('memory', state.memory);
    const s = q.toString();
    history.replaceState(null, '', window.location.pathname + (s ? '?' + s : ''));
  }

  // ---- personas -------------------------------------------------------------------------------

  async function loadPersonas() {
    const section = $('#personas');
    const all = [];
    let token = '';
    let truncated = false;
    try {
      for (let page = 0; page < MAX_PERSONA_PAGES; page++) {
        const r = await api('/v1/personas', {page_size: PERSONA_PAGE_SIZE, page_token: token});
        all.push(...(r.personas || []));
        token = r.next_page_token || '';
        if (!token) break;
        truncated = page === MAX_PERSONA_PAGES - 1;
      }
    } catch (e) {
      report(section, e);
      return false;
    }
    state.personas = all;
    renderPersonas(truncated);
    return true;
  }

  function renderPersonas(truncated) {
    const body = $('#personas-table tbody');
    body.replaceChildren();
    for (const p of state.personas) {
      const skills = Object.entries(p.skills || {}).sort((a, b) => num(b[1]) - num(a[1]));
      const status = statusOf(p.status);
      const chips = skills.map(([name, level]) => {
        const attrs = {
          class: 'chip',
          dataset: {skill: name, level: String(num(level))},
          title: `proficiency ${fmtNum(level, 2)}`,
        };
        return el(
            'span', attrs, name, el('meter', {min: '0', max: '1', value: String(num(level))}));
      });
      const attrs = activates(
          {class: p.id === state.persona ? 'selected' : '', dataset: {personaId: p.id, status}},
          () => selectPersona(p.id));
      const row =
          el('tr', attrs, el('td', {}, el('code', {}, p.id)),
             el('td', {class: 'persona-name'}, p.name || ''),
             el('td', {class: 'persona-role'}, p.role || ''),
             el('td', {}, el('span', {class: `status status-${status}`}, status)),
             el('td', {class: 'skills'}, chips),
             el('td', {class: 'num'}, num(p.capacity) ? fmtInt(p.capacity) : 'default'));
      body.append(row);
    }
    $('#personas-count').textContent = `(${state.personas.length}${truncated ? '+' : ''})`;
    $('#personas-empty').hidden = state.personas.length > 0;
  }

  function selectPersona(id) {
    if (id === state.persona) return;
    state.persona = id;
    state.memory = '';
    saveUrl();
    document.querySelectorAll('#personas-table tbody tr')
        .forEach((tr) => tr.classList.toggle('selected', tr.dataset.personaId === id));
    $('#history').hidden = true;
    busy(() => loadPersona());
  }

  // ---- one persona: stats, memories, health, graph --------------------------------------------

  async function loadPersona() {
    const token = ++state.personaToken;
    const id = state.persona;
    const detail = $('#persona-detail');
    if (!id) {
      detail.hidden = true;
      return;
    }
    detail.hidden = false;
    detail.dataset.personaId = id;
    const p = state.personas.find((x) => x.id === id);
    $('#selected-persona').textContent = p && p.name ? `${p.name} (${id})` : id;

    const stats = loadStats(id, token);
    const memories = loadMemories(id, token);
    await stats;
    if (await memories) {
      const tasks = [loadGraph(id, token)];
      if (state.memory) tasks.push(loadHistory(state.memory));
      await Promise.all(tasks);
    } else if (state.memory) {
      await loadHistory(state.memory);
    }
  }

  async function loadStats(id, token) {
    const section = $('#tiers');
    sectionError(section, null);
    let r;
    try {
      r = await api(`/v1/personas/${enc(id)}/stats`);
    } catch (e) {
      if (token === state.personaToken) report(section, e);
      return;
    }
    if (token !== state.personaToken) return;
    const ps = (r.persona || []).find((x) => (x.persona_id || id) === id) || {};
    renderTiers(ps);
  }

  function renderTiers(ps) {
    const byTier = {};
    for (const t of ps.tiers || []) byTier[tierOf(t.tier)] = t;
    const max = Math.max(1, ...TIERS.map((t) => num((byTier[t] || {}).items)));
    const bars = $('#tier-bars');
    bars.replaceChildren();
    for (const tier of TIERS) {
      const t = byTier[tier] || {};
      const items = num(t.items);
      const cap = num(t.capacity);
      bars.append(
          el('div', {class: 'tier-row', dataset: {tier, count: String(items)}},
             el('span', {class: 'tier-name'}, tier),
             el('span', {class: 'bar-track'},
                el('span',
                   {class: `bar tier-${tier}`, style: `width:${(100 * items / max).toFixed(1)}%`})),
             el('span', {class: 'tier-count'}, fmtInt(items) + (cap ? ` / ${fmtInt(cap)}` : '')),
             el('span', {class: 'tier-index', title: 'vectors in the tier index (deleted marks)'},
                `index ${fmtInt(t.index_size)}${
                    num(t.index_deleted) ? ` (−${fmtInt(t.index_deleted)})` : ''}`)));
    }
    const c = ps.consolidation || {};
    const facts = [
      ['tubules', fmtInt(ps.tubules)],
      ['archived', fmtInt(ps.archived)],
      ['temperature', fmtNum(ps.temperature, 2)],
      ['live item actors', fmtInt(ps.live_item_actors)],
      ['consolidation ticks', fmtInt(c.ticks)],
      ['promoted / demoted', `${fmtInt(c.promoted)} / ${fmtInt(c.demoted)}`],
      ['forgotten / merged', `${fmtInt(c.forgotten)} / ${fmtInt(c.merged)}`],
      ['capacity evicted', fmtInt(c.capacity_evicted)],
      ['tubules pruned', fmtInt(c.tubules_pruned)],
      ['last tick', fmtTime(c.last_tick_us) || 'never'],
    ];
    const fact =
        ([k, v]) => [el('dt', {}, k), el('dd', {dataset: {fact: k.replace(/[^a-z]+/g, '-')}}, v)];
    $('#persona-stats').replaceChildren(...facts.flatMap(fact));
  }

  async function loadMemories(id, token) {
    const section = $('#memories');
    sectionError(section, null);
    sectionError($('#health'), null);
    const items = [];
    let pageToken = '';
    let truncated = false;
    try {
      while (items.length < MAX_MEMORIES) {
        const r = await api(
            `/v1/personas/${enc(id)}/memories`,
            {page_size: MEMORY_PAGE_SIZE, page_token: pageToken});
        if (token !== state.personaToken) return false;
        items.push(...(r.items || []));
        pageToken = r.next_page_token || '';
        if (!pageToken) break;
        truncated = items.length >= MAX_MEMORIES;
      }
    } catch (e) {
      if (token === state.personaToken) {
        report(section, e);
        sectionError($('#health'), e);
      }
      return false;
    }
    if (token !== state.personaToken) return false;
    state.memories = new Map(items.map((m) => [m.id, m]));
    state.memoriesTruncated = truncated;
    renderHealth(items, truncated);
    renderMemories();
    return true;
  }

  function renderHealth(items, truncated) {
    const buckets = Array.from({length: 10}, () => ({STM: 0, MTM: 0, LTM: 0, total: 0}));
    for (const m of items) {
      const b = Math.min(9, Math.max(0, Math.floor(num(m.health) / 10)));
      const t = tierOf(m.tier);
      if (t in buckets[b]) buckets[b][t]++;
      buckets[b].total++;
    }
    const svg = $('#health-histogram');
    svg.replaceChildren();
    const W = 420, H = 200, left = 30, bottom = 24, top = 16;
    const max = Math.max(1, ...buckets.map((b) => b.total));
    const bw = (W - left - 6) / 10;
    const scale = (H - bottom - top) / max;
    svg.append(el('line', {x1: left, y1: H - bottom, x2: W - 4, y2: H - bottom, class: 'axis'}));
    svg.append(el(
        'text', {x: left - 4, y: top + 4, class: 'axis-label', 'text-anchor': 'end'}, fmtInt(max)));
    svg.append(
        el('text', {x: left - 4, y: H - bottom, class: 'axis-label', 'text-anchor': 'end'}, '0'));
    buckets.forEach((b, i) => {
      const x = left + i * bw + 2;
      const g = el('g', {
        class: 'bucket',
        dataset: {
          bucket: String(i),
          count: String(b.total),
          from: String(i * 10),
          to: String(i * 10 + 10)
        }
      });
      let y = H - bottom;
      for (const t of TIERS) {
        if (!b[t]) continue;
        const h = b[t] * scale;
        y -= h;
        g.append(
            el('rect', {x, y, width: bw - 4, height: h, class: `tier-${t}`},
               el('title', {}, `health ${i * 10}–${i * 10 + 10}: ${b[t]} ${t}`)));
      }
      if (b.total) {
        g.append(
            el('text', {x: x + (bw - 4) / 2, y: y - 3, class: 'bar-label', 'text-anchor': 'middle'},
               String(b.total)));
      }
      g.append(el(
          'text',
          {x: x + (bw - 4) / 2, y: H - bottom + 14, class: 'axis-label', 'text-anchor': 'middle'},
          String(i * 10)));
      svg.append(g);
    });
    const mean = items.length ? items.reduce((s, m) => s + num(m.health), 0) / items.length : 0;
    $('#health-note').textContent = items.length ?
        `${fmtInt(items.length)}${truncated ? ' (first)' : ''} memories · mean health ${
            fmtNum(mean)}` :
        'No memories.';
    $('#health').dataset.total = String(items.length);
  }

  function renderMemories() {
    const truncated = state.memoriesTruncated;
    const tierFilter = $('#memory-tier-filter').value;
    const text = $('#memory-text-filter').value.trim().toLowerCase();
    const all = [...state.memories.values()].sort((a, b) => num(b.health) - num(a.health));
    const shown = all.filter(
        (m) => (!tierFilter || tierOf(m.tier) === tierFilter) &&
            (!text || String(m.content || '').toLowerCase().includes(text)));
    const body = $('#memories-table tbody');
    body.replaceChildren();
    for (const m of shown.slice(0, MEMORY_ROWS)) {
      const tier = tierOf(m.tier);
      const attrs = activates(
          {
            class: m.id === state.memory ? 'selected' : '',
            dataset: {memoryId: m.id, tier, health: fmtNum(m.health, 2)},
          },
          () => selectMemory(m.id));
      const meter = el('meter', {
        min: '0',
        max: '100',
        low: '20',
        high: '80',
        optimum: '100',
        value: String(num(m.health)),
      });
      body.append(
          el('tr', attrs,
             el('td', {class: 'content', title: m.content || ''}, truncate(m.content, 140)),
             el('td', {}, el('span', {class: `tier-tag tier-${tier}`}, tier)),
             el('td', {class: 'num'}, el('span', {class: 'health-meter'}, meter), ' ',
                fmtNum(m.health)),
             el('td', {class: 'num'}, fmtInt(m.access_count)),
             el('td', {class: 'time'}, fmtTime(m.stored_at_us)),
             el('td', {}, el('code', {class: 'id'}, truncate(m.id, 24)))));
    }
    $('#memories-count').textContent = `(${fmtInt(state.memories.size)}${truncated ? '+' : ''})`;
    $('#memories-note').textContent = shown.length > MEMORY_ROWS ?
        `Showing the ${MEMORY_ROWS} healthiest of ${fmtInt(shown.length)} matching memories.` :
        (shown.length ? '' : 'No memory matches.');
  }

  // The graph is built here from the neighbours of the healthiest memories: the API has no
  // "strongest tubules" call, and probing a bounded number of items keeps the cost fixed.
  async function loadGraph(id, token) {
    const section = $('#graph');
    sectionError(section, null);
    const probes = [...state.memories.values()]
                       .sort((a, b) => num(b.health) - num(a.health))
                       .slice(0, GRAPH_PROBES);
    const results =
        await pool(probes, PARALLEL_REQUESTS, (m) => api(`/v1/memories/${enc(m.id)}/neighbours`));
    if (token !== state.personaToken) return;
    const edges = new Map();
    let failed = 0;
    let firstError = null;
    results.forEach((r, i) => {
      if (!r.ok) {
        failed++;
        firstError = firstError || r.error;
        return;
      }
      const from = r.value.item_id || probes[i].id;
      for (const n of r.value.neighbours || []) {
        if (!n.item_id || n.item_id === from) continue;
        const [a, b] = from < n.item_id ? [from, n.item_id] : [n.item_id, from];
        edges.set(a + '\u0000' + b, {
          a,
          b,
          strength: num(n.strength),
          consolidated: !!n.consolidated,
          activations: num(n.activations)
        });
      }
    });
    if (failed && failed === results.length) {
      report(section, firstError);
    } else if (failed) {
      sectionError(
          section,
          new ApiError(
              firstError.status, firstError.code,
              `${failed} of ${results.length} neighbour lookups failed; first: ${
                  firstError.message}`,
              {}, firstError.path));
    }
    const top = [...edges.values()]
                    .sort((x, y) => y.strength - x.strength || (x.a < y.a ? -1 : 1))
                    .slice(0, GRAPH_EDGES);
    renderGraph(top, edges.size, probes.length);
  }

  // A small force layout (Fruchterman-Reingold with a pull to the centre so separate clusters stay
  // close), deterministic because it starts from a circle; then scaled to fill the drawing.
  function layout(nodes, edges, W, H) {
    const n = nodes.length;
    nodes.forEach((nd, i) => {
      nd.x = Math.cos(2 * Math.PI * i / n);
      nd.y = Math.sin(2 * Math.PI * i / n);
    });
    const index = new Map(nodes.map((nd, i) => [nd.id, i]));
    const k = 1 / Math.sqrt(Math.max(n, 1));
    for (let it = 0; n > 2 && it < LAYOUT_ITERATIONS; it++) {
      const temp = 0.1 * (1 - it / LAYOUT_ITERATIONS) + 0.002;
      const dx = new Float64Array(n), dy = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const ex = nodes[i].x - nodes[j].x, ey = nodes[i].y - nodes[j].y;
          const d2 = Math.max(ex * ex + ey * ey, 1e-6);
          const f = (k * k) / d2;
          dx[i] += ex * f;
          dy[i] += ey * f;
          dx[j] -= ex * f;
          dy[j] -= ey * f;
        }
      }
      for (const e of edges) {
        const i = index.get(e.a), j = index.get(e.b);
        const ex = nodes[i].x - nodes[j].x, ey = nodes[i].y - nodes[j].y;
        const f = (Math.sqrt(ex * ex + ey * ey) / k) * (0.5 + e.strength);
        dx[i] -= ex * f;
        dy[i] -= ey * f;
        dx[j] += ex * f;
        dy[j] += ey * f;
      }
      for (let i = 0; i < n; i++) {
        dx[i] -= nodes[i].x * GRAVITY;
        dy[i] -= nodes[i].y * GRAVITY;
        const len = Math.max(Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]), 1e-9);
        const step = Math.min(len, temp);
        nodes[i].x += (dx[i] / len) * step;
        nodes[i].y += (dy[i] / len) * step;
      }
    }
    // Fit the bounding box into the drawing, leaving room for the labels on the right.
    const xs = nodes.map((nd) => nd.x), ys = nodes.map((nd) => nd.y);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const sx = x1 > x0 ? (W - 200) / (x1 - x0) : 0, sy = y1 > y0 ? (H - 50) / (y1 - y0) : 0;
    for (const nd of nodes) {
      nd.x = sx ? 40 + (nd.x - x0) * sx : W / 2;
      nd.y = sy ? 25 + (nd.y - y0) * sy : H / 2;
    }
  }

  function renderGraph(edges, totalEdges, probed) {
    const svg = $('#tubule-graph');
    svg.replaceChildren();
    const W = 800, H = 460;
    const ids = [];
    for (const e of edges) {
      for (const x of [e.a, e.b]) {
        if (!ids.includes(x)) ids.push(x);
      }
    }
    const nodes = ids.map((id) => ({id, item: state.memories.get(id)}));
    layout(nodes, edges, W, H);
    const pos = new Map(nodes.map((nd) => [nd.id, nd]));
    const lines = el('g', {class: 'edges'});
    for (const e of edges) {
      const a = pos.get(e.a), b = pos.get(e.b);
      lines.append(
          el('line', {
            x1: a.x.toFixed(1),
            y1: a.y.toFixed(1),
            x2: b.x.toFixed(1),
            y2: b.y.toFixed(1),
            class: `tubule ${e.consolidated ? 'consolidated' : 'decaying'}`,
            'stroke-width': (1 + 5 * e.strength).toFixed(2),
            dataset: {
              a: e.a,
              b: e.b,
              strength: e.strength.toFixed(4),
              consolidated: String(e.consolidated)
            },
          },
             el('title', {},
                `strength ${e.strength.toFixed(3)} · ${e.activations} activations` +
                    (e.consolidated ? ' · consolidated' : ''))));
    }
    svg.append(lines);
    const dots = el('g', {class: 'nodes'});
    for (const nd of nodes) {
      const tier = nd.item ? tierOf(nd.item.tier) : 'unknown';
      const health = nd.item ? num(nd.item.health) : 0;
      const label = nd.item ? truncate(nd.item.content, 24) : truncate(nd.id, 16);
      const attrs = activates(
          {
            class: 'node',
            dataset: {itemId: nd.id, tier},
            transform: `translate(${nd.x.toFixed(1)},${nd.y.toFixed(1)})`,
          },
          () => selectMemory(nd.id));
      dots.append(el(
          'g', attrs, el('circle', {r: (5 + 5 * health / 100).toFixed(1), class: `tier-${tier}`}),
          el('text', {x: '12', y: '4', class: 'node-label'}, label),
          el('title', {},
             nd.item ? `${nd.item.content}\n${tier} · health ${fmtNum(health)}` : nd.id)));
    }
    svg.append(dots);
    svg.dataset.edges = String(edges.length);
    svg.dataset.nodes = String(nodes.length);
    $('#graph-note').textContent = edges.length ?
        `The ${edges.length} strongest of ${totalEdges} tubules found among the ${probed} ` +
            'healthiest memories. Click a memory to see its history.' :
        (probed ? `No tubules among the ${probed} healthiest memories.` : 'No memories.');
  }

  // ---- a memory's history ---------------------------------------------------------------------

  function selectMemory(id) {
    state.memory = id;
    saveUrl();
    document.querySelectorAll('#memories-table tbody tr')
        .forEach((tr) => tr.classList.toggle('selected', tr.dataset.memoryId === id));
    busy(() => loadHistory(id));
  }

  async function loadHistory(id) {
    const token = ++state.historyToken;
    const section = $('#history');
    section.hidden = false;
    section.dataset.memoryId = id;
    sectionError(section, null);
    $('#history-item').textContent = id;
    $('#history-table tbody').replaceChildren();
    const known = state.memories.get(id);
    showHistoryContent(known ? known.content : '');
    let r;
    try {
      r = await api(`/v1/memories/${enc(id)}/history`);
    } catch (e) {
      if (token === state.historyToken) report(section, e);
      return;
    }
    if (token !== state.historyToken) return;
    const records = (r.records || []).slice().sort((a, b) => num(a.seq) - num(b.seq));
    const body = $('#history-table tbody');
    for (const h of records) {
      const action = enumName(h.action, HISTORY_ENUM, 'ACTION_UNSPECIFIED');
      const prevTier = tierOf(h.prev_tier), newTier = tierOf(h.new_tier);
      const tierText = prevTier === 'TIER_UNSPECIFIED' ?
          (newTier === 'TIER_UNSPECIFIED' ? '' : newTier) :
          (prevTier === newTier || newTier === 'TIER_UNSPECIFIED' ? prevTier :
                                                                    `${prevTier} → ${newTier}`);
      const healthText = h.prev_health === undefined && h.new_health === undefined ?
          '' :
          (h.prev_health === undefined ? fmtNum(h.new_health) :
                                         `${fmtNum(h.prev_health)} → ${fmtNum(h.new_health)}`);
      let content = '';
      if (h.other_item_id)
        content = `merged with ${h.other_item_id}`;
      else if (h.new_content && h.new_content !== h.prev_content)
        content = truncate(h.new_content, 100);
      body.append(
          el('tr', {dataset: {action, seq: String(num(h.seq))}},
             el('td', {class: 'time'}, fmtTime(h.at_us)),
             el('td', {}, el('span', {class: `action action-${action}`}, action)),
             el('td', {}, h.reason || ''), el('td', {}, tierText),
             el('td', {class: 'num'}, healthText), el('td', {class: 'content'}, content)));
    }
    section.dataset.records = String(records.length);
    if (!known) {
      const last = records[records.length - 1];
      if (last && last.new_content) showHistoryContent(last.new_content);
    }
  }

  function showHistoryContent(text) {
    $('#history-content').textContent = text || '';
    $('#history-content').hidden = !text;
  }

  // ---- events ---------------------------------------------------------------------------------

  async function loadEvents() {
    const section = $('#events');
    let r;
    try {
      r = await api('/v1/events/stats');
    } catch (e) {
      report(section, e);
      return;
    }
    renderEvents(r);
  }

  function renderEvents(r) {
    // counts: [{tenant, state, priority, count}] over the events the router holds (every state but
    // ACKED); acked_retained: acknowledged records still kept (events.retention).
    const rows = (r.counts || []).map((c) => ({
                                        tenant: c.tenant || 'default',
                                        state: stateOf(c.state),
                                        priority: priorityOf(c.priority),
                                        count: num(c.count),
                                      }));
    const mine = rows.filter((c) => c.tenant === state.tenant);
    const byState = Object.fromEntries(STATES.map((s) => [s, 0]));
    for (const c of mine) byState[c.state] = (byState[c.state] || 0) + c.count;
    // The router keeps acked events only as retained records, counted over all tenants.
    const ackedRetained = !mine.some((c) => c.state === 'EVENT_ACKED');
    if (ackedRetained) byState.EVENT_ACKED = num(r.acked_retained);

    const tile = (s) => {
      const allTenants = s === 'EVENT_ACKED' && ackedRetained;
      const attrs = {
        class: `tile state-${shortState(s)}`,
        dataset: {state: s, count: String(byState[s]), scope: allTenants ? 'node' : 'tenant'},
        title: allTenants ? 'acknowledged event records still retained, over all tenants' : null,
      };
      const label = shortState(s) + (allTenants ? ' (all tenants)' : '');
      return el(
          'div', attrs, el('span', {class: 'tile-count'}, fmtInt(byState[s])),
          el('span', {class: 'tile-label'}, label));
    };
    $('#event-states').replaceChildren(...STATES.map(tile));

    // State × priority for every tenant the node reports, this tenant first.
    const tenants = [...new Set(rows.map((c) => c.tenant))].sort(
        (a, b) =>
            (a === state.tenant     ? -1 :
                 b === state.tenant ? 1 :
                 a < b              ? -1 :
                                      1));
    const thead = $('#events-table thead');
    const tbody = $('#events-table tbody');
    thead.replaceChildren(
        el('tr', {}, el('th', {}, 'tenant'), el('th', {}, 'state'),
           PRIORITIES.map((p) => el('th', {class: 'num'}, p.toLowerCase())),
           el('th', {class: 'num'}, 'total')));
    tbody.replaceChildren();
    for (const t of tenants) {
      for (const s of STATES) {
        const cells = PRIORITIES.map(
            (p) => rows.filter((c) => c.tenant === t && c.state === s && c.priority === p)
                       .reduce((n, c) => n + c.count, 0));
        const total = cells.reduce((a, b) => a + b, 0);
        if (!total) continue;
        tbody.append(el(
            'tr', {dataset: {tenant: t, state: s, count: String(total)}}, el('td', {}, t),
            el('td', {}, shortState(s)),
            cells.map(
                (n, i) =>
                    el('td', {class: 'num', dataset: {priority: PRIORITIES[i], count: String(n)}},
                       n ? fmtInt(n) : '')),
            el('td', {class: 'num'}, fmtInt(total))));
      }
    }
    $('#events-note').textContent =
        tbody.children.length ? '' : 'No events waiting or in flight on this node.';
  }

  // ---- cluster --------------------------------------------------------------------------------

  async function loadCluster() {
    const section = $('#cluster');
    let r;
    try {
      r = await api('/v1/cluster');
    } catch (e) {
      report(section, e);
      $('#cluster-body').replaceChildren();
      return;
    }
    renderCluster(r);
  }

  // /v1/cluster: {"node": {...}, "members": [{...}], ...}. The members (and, with the cluster, the
  // shard map) become tables; any other field is shown as it comes, so the section keeps up with
  // the cluster's schema without changes here.
  function renderCluster(r) {
    const parts = [];
    const self = r.node || {};
    if (self.id) {
      parts.push(
          el('p', {class: 'cluster-self', dataset: {nodeId: self.id}},
             'This node: ', el('code', {}, self.id), self.state ? ` (${self.state})` : ''));
    }
    for (const [k, v] of Object.entries(r)) {
      if (k === 'node' && self.id && Array.isArray(r.members)) continue;  // it is in the members
      parts.push(el('h3', {}, k.replace(/_/g, ' ')), renderValue(v, k));
    }
    $('#cluster-body').replaceChildren(...parts);
    $('#cluster-body').dataset.members = String((r.members || []).length);
  }

  // Objects as definition lists, lists of objects as tables (the usual columns first).
  const FIRST_COLUMNS = ['id', 'shard', 'state', 'leader', 'address', 'http_address', 'version'];
  function renderValue(v, key) {
    if (Array.isArray(v)) {
      if (!v.length) return el('span', {class: 'muted', dataset: {key}}, 'none');
      if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
        const seen = new Set(v.flatMap((x) => Object.keys(x)));
        const cols = [
          ...FIRST_COLUMNS.filter((c) => seen.has(c)),
          ...[...seen].filter((c) => !FIRST_COLUMNS.includes(c))
        ];
        const cell = (x, c) =>
            el('td', {dataset: {key: c}}, x[c] === undefined ? '' : scalarOrNested(x[c], c));
        const head = el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, c))));
        const rows = v.map((x) => el('tr', {}, cols.map((c) => cell(x, c))));
        return el(
            'div', {class: 'scroll-x'},
            el('table', {class: 'data', dataset: {key}}, head, el('tbody', {}, rows)));
      }
      return el('span', {dataset: {key}}, v.map((x) => String(x)).join(', '));
    }
    if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      if (!entries.length) return el('span', {class: 'muted'}, 'nothing reported');
      return el(
          'dl', {class: 'facts', dataset: {key}},
          entries.flatMap(
              ([k, x]) =>
                  [el('dt', {}, k.replace(/_/g, ' ')),
                   el('dd', {dataset: {key: k}}, renderValue(x, k))]));
    }
    return el('span', {}, String(v));
  }

  function scalarOrNested(x, key) {
    return x && typeof x === 'object' ? renderValue(x, key) : String(x);
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function refresh() {
    const token = ++state.refreshToken;
    clearErrors();
    return busy(async () => {
      const personas = (async () => {
        await loadPersonas();
        if (token !== state.refreshToken) return;
        if (!state.persona && state.personas.length) {
          state.persona = state.personas[0].id;
          saveUrl();
          renderPersonas(false);
        }
        await loadPersona();
      })();
      await Promise.all([personas, loadEvents(), loadCluster()]);
    });
  }

  function setAutoRefresh(on) {
    clearInterval(state.timer);
    state.timer = on ? setInterval(() => {
      if (!state.inFlight) refresh();
    }, AUTO_REFRESH_MS) : null;
  }

  function start() {
    const q = new URLSearchParams(window.location.search);
    state.tenant = q.get('tenant') || 'default';
    state.persona = q.get('persona') || '';
    state.memory = q.get('memory') || '';
    $('#tenant').value = state.tenant;
    try {
      state.token = sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (err) { /* storage disabled */
    }
    $('#token').value = state.token;
    $('#controls').addEventListener('submit', (e) => {
      e.preventDefault();
      state.token = $('#token').value.trim();
      try {
        if (state.token)
          sessionStorage.setItem(TOKEN_KEY, state.token);
        else
          sessionStorage.removeItem(TOKEN_KEY);
      } catch (err) { /* storage disabled: the token lasts until the page is reloaded */
      }
      const tenant = $('#tenant').value.trim() || 'default';
      if (tenant !== state.tenant) {
        state.tenant = tenant;
        state.persona = '';
        state.memory = '';
        $('#history').hidden = true;
      }
      saveUrl();
      refresh();
    });
    $('#auto-refresh').addEventListener('change', (e) => setAutoRefresh(e.target.checked));
    $('#error-dismiss').addEventListener('click', () => {
      $('#error').hidden = true;
    });
    $('#memory-tier-filter').addEventListener('change', () => renderMemories());
    $('#memory-text-filter').addEventListener('input', () => renderMemories());
    refresh();
  }

  start();
})();
