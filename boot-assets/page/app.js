// rackboot page: refreshes the server-rendered fragments when /live reports boot events, and
// sends admin actions to /api/v1 with the token the operator typed (kept for this tab only).
'use strict';
(() => {
  const TOKEN_KEY = 'rackboot.adminToken';
  const $ = (selector) => document.querySelector(selector);
  let selected = new URLSearchParams(location.search).get('node');
  // The node list comes a page at a time (thousands of nodes would be megabytes per refresh).
  let nodesPage = 1;
  const timers = {};

  // At most one refresh per delay; an event during the wait earns one more refresh after it.
  const again = {};
  function later(name, ms, work) {
    if (timers[name]) {
      again[name] = true;
      return;
    }
    timers[name] = setTimeout(async () => {
      try {
        await work();
      } finally {
        timers[name] = null;
        if (again[name]) {
          again[name] = false;
          later(name, ms, work);
        }
      }
    }, ms);
  }

  /** `bad`: true for an error, 'warn' for something done that may not work out, false for done. */
  function say(text, bad) {
    const status = $('#status');
    status.textContent = text;
    status.className = bad === 'warn' ? 'warn' : bad ? 'bad' : 'good';
  }

  async function fragment(url, target, swap) {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) return;
    const text = await response.text();
    if (swap) swap(text);
    else $(target).innerHTML = text;
  }

  async function refreshNodes() {
    await fragment(`/ui/nodes?page=${nodesPage}`, '#nodes-panel');
    // The server shows its last page when asked past it (nodes removed meanwhile): follow it.
    const table = $('#nodes');
    if (table) nodesPage = Number(table.dataset.page);
  }
  const refreshImages = () => fragment('/ui/images', '#images-panel');
  // The right half shows the rack at a glance until a node is picked.
  const refreshOverview = () => (selected ? undefined : fragment('/ui/overview', '#timeline-panel', (text) => {
    if (!selected) $('#timeline-panel').innerHTML = text;
  }));
  // Live refreshes re-render the actions form: keep what the operator picked but has not sent yet.
  async function refreshTimeline() {
    if (!selected) return;
    const node = selected;
    await fragment(`/ui/timeline/${encodeURIComponent(node)}`, '#timeline-panel', (text) => {
      if (node !== selected) return;
      const old = $('#assign');
      const picked = old && old.dataset.dirty && { image: old.image.value, once: old.once.checked };
      $('#timeline-panel').innerHTML = text;
      const form = $('#assign');
      if (!picked || !form) return;
      form.image.value = picked.image;
      form.once.checked = picked.once;
      form.dataset.dirty = '1';
    });
  }

  function select(node) {
    selected = node;
    history.replaceState(null, '', `?node=${encodeURIComponent(node)}`);
    refreshTimeline();
  }

  async function api(method, path, body) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return say('enter the admin token first (http.adminToken in the config)', true);
    const response = await fetch(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body && { 'content-type': 'application/json' }) },
      body: body && JSON.stringify(body),
    });
    const reply = await response.json().catch(() => ({}));
    if (!response.ok) return say(`${reply.error || response.status}: ${reply.message || 'failed'}`, true);
    // The path was encoded for the URL; the operator reads the MAC as typed (textContent: no markup).
    const shown = decodeURIComponent(path);
    const form = $('#assign');
    if (form) delete form.dataset.dirty;
    // An accepted assignment the node may not boot (no build for its arch, Pi TFTP limits): said apart, in warning colour.
    const warnings = reply.warnings || [];
    if (warnings.length) say(`${method} ${shown}: done, but ${warnings.map((w) => `${w.code}: ${w.message}; fix: ${w.fix}`).join(' ')}`, 'warn');
    else say(`${method} ${shown}: done`, false);
    refreshNodes();
    refreshTimeline();
  }

  $('#token').value = sessionStorage.getItem(TOKEN_KEY) || '';
  $('#token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
    say('token kept for this tab', false);
  });

  document.addEventListener('click', (event) => {
    const turn = event.target.closest('.pager button[data-page]');
    if (turn) {
      nodesPage = Number(turn.dataset.page);
      return refreshNodes();
    }
    const row = event.target.closest('tr[data-node]');
    if (row) return select(row.dataset.node);
    const button = event.target.closest('#assign button[data-action]');
    if (!button || !selected) return;
    const node = encodeURIComponent(selected);
    if (button.dataset.action === 'rollback') api('POST', `/nodes/${node}/rollback`);
    if (button.dataset.action === 'unassign') api('PUT', `/nodes/${node}/assignment`, { image: null });
  });
  document.addEventListener('change', (event) => {
    const form = event.target.closest('#assign');
    if (form) form.dataset.dirty = '1';
  });
  document.addEventListener('submit', (event) => {
    if (event.target.id !== 'assign') return;
    event.preventDefault();
    const form = event.target;
    if (!form.image.value) return say('choose an image first', true);
    api('PUT', `/nodes/${encodeURIComponent(selected)}/assignment`, { image: form.image.value, once: form.once.checked });
  });

  const live = new EventSource('/live');
  // After a reconnect, events may have been missed: catch up.
  live.onopen = () => {
    $('#live').className = 'live on';
    later('nodes', 50, refreshNodes);
    if (selected) later('timeline', 50, refreshTimeline);
    else later('overview', 50, refreshOverview);
  };
  live.onerror = () => ($('#live').className = 'live off');
  live.onmessage = (message) => {
    const event = JSON.parse(message.data);
    // A boot storm is hundreds of events a second: one node-list refresh a second is plenty.
    later('nodes', 1000, refreshNodes);
    if (event.source === 'api' && event.kind === 'image-added') later('images', 400, refreshImages);
    if (selected) later('timeline', 120, refreshTimeline);
    else later('overview', 1000, refreshOverview);
  };
  // Ages tick here, worded as the server words them (server/http/page/time.ts), without refetching.
  function ago(ms, now) {
    const s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 90) return `${s} s ago`;
    if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
    if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }
  setInterval(() => {
    const now = Date.now();
    for (const time of document.querySelectorAll('time[data-at]')) {
      const text = ago(Number(time.dataset.at), now);
      if (time.textContent !== text) time.textContent = text;
    }
  }, 1000);
  // TFTP buffers fill and drain between events: the overview's storm panel follows them.
  setInterval(() => later('overview', 0, refreshOverview), 5000);
  // Quiet boots turn from in-progress to served without events.
  setInterval(() => {
    refreshNodes();
    refreshTimeline();
  }, 30000);
})();
