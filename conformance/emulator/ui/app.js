// The sandbox pages' only script: fetch the feed, render it, refetch on every server-sent "change".
// No framework, no build step; every string from the feed goes in through textContent.
'use strict';
(function () {
  const body = document.body;
  const org = body.dataset.org;
  const app = body.dataset.app;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const time = (ms) => new Date(ms).toISOString().slice(11, 23);
  const hours = (ms) => Math.round(ms / 360000) / 10;

  function renderApp(feed) {
    const a = feed.app;
    if (!a) return;
    $('app-name').textContent = a.name;
    $('inst-app').textContent = a.name;
    $('app-webhook').textContent = a.webhookUrl || '(none)';
    $('app-redirect').textContent = a.redirectUrl || '(none)';
    $('app-scopes').textContent = a.scopes.join(', ');
    $('app-events').textContent = a.events.join(', ') + (a.verifyInstall ? ' · verify install required' : '');
  }

  function renderInstallation(feed) {
    const inst = feed.installation;
    const state = inst ? inst.state : 'not installed';
    for (const id of ['status', 'app-status']) {
      $(id).textContent = state;
      $(id).dataset.state = state;
    }
    $('inst-id').textContent = inst ? `installation ${inst.uuid}` : 'Not installed: use Install on the Integrations page.';
    const live = inst && state !== 'uninstalled';
    $('install').hidden = Boolean(live);
    $('manage').hidden = !live;
    $('uninstall').disabled = !live;
  }

  function renderPhone(feed) {
    const list = $('phone');
    list.replaceChildren();
    if (feed.phone === null) {
      $('phone-empty').textContent = 'No Pushover emulator in this process: start one (npm run emulator does) to see notifications here.';
      $('phone-empty').hidden = false;
      $('phone-count').textContent = '';
      return;
    }
    $('phone-empty').hidden = feed.phone.length > 0;
    $('phone-count').textContent = feed.phone.length ? String(feed.phone.length) : '';
    for (const n of feed.phone) {
      const item = el('li', 'notification');
      item.dataset.priority = String(n.priority);
      const head = el('div', 'n-head');
      head.append(el('span', 'n-app', 'Sentry'), el('span', 'n-time', time(n.at)));
      item.append(head, el('div', 'n-title', n.title));
      // HTML messages are shown as text: the sandbox never renders markup it received.
      item.append(el('div', 'n-message', n.html ? n.message.replace(/<[^>]*>/g, '') : n.message));
      if (n.url) {
        const link = el('a', 'n-link', n.urlTitle || n.url);
        link.href = n.url;
        link.target = '_blank';
        link.rel = 'noreferrer';
        item.append(link);
      }
      list.append(item);
    }
  }

  function renderTimeline(feed) {
    const list = $('timeline');
    const open = new Set([...list.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    list.replaceChildren();
    feed.timeline.forEach((e, i) => {
      const item = el('li', `entry kind-${e.kind}${e.ok ? '' : ' failed'}`);
      item.dataset.kind = e.kind;
      const head = el('div', 'e-head');
      head.append(el('span', 'e-time', time(e.at)), el('span', 'e-kind', e.kind));
      if (e.status !== undefined) head.append(el('span', 'e-status', e.status === 0 ? 'no answer' : String(e.status)));
      head.append(el('span', 'e-title', e.title));
      item.append(head);
      if (e.summary) item.append(el('div', 'e-summary', e.summary));
      if (e.request || e.response) {
        const details = el('details');
        details.dataset.key = `${e.at}-${i}`;
        if (open.has(details.dataset.key)) details.open = true;
        details.append(el('summary', '', 'request / response'));
        if (e.request) details.append(el('pre', 'e-request', e.request));
        if (e.response) details.append(el('pre', 'e-response', e.response));
        item.append(details);
      }
      list.append(item);
    });
    list.scrollTop = list.scrollHeight;
  }

  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(`/_ui/feed?org=${encodeURIComponent(org)}&app=${encodeURIComponent(app)}`, { cache: 'no-store' });
      const feed = await res.json();
      if (feed.banner) { $('banner').textContent = feed.banner; $('banner').hidden = false; }
      $('clock').textContent = feed.offsetMs > 60000 ? `clock: real time + ${hours(feed.offsetMs)} h` : 'clock: real time';
      renderApp(feed);
      renderInstallation(feed);
      renderPhone(feed);
      renderTimeline(feed);
      body.dataset.loaded = 'true';
    } catch (error) {
      $('action-result').textContent = `Cannot reach the emulator: ${error}`;
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  async function post(action, payload) {
    $('action-result').textContent = '…';
    try {
      const res = await fetch(`/_ui/${action}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org, app, ...payload }),
      });
      const answer = await res.json();
      $('action-result').textContent = res.ok ? describe(action, answer) : `Error: ${answer.error}`;
    } catch (error) {
      $('action-result').textContent = `Error: ${error}`;
    }
    refresh();
  }

  function describe(action, answer) {
    if (action === 'issue') {
      if (!answer.webhook) return 'Issue created. Not installed, so no webhook was sent.';
      return answer.delivered ? `Issue ${answer.issueId} created; the integration accepted the webhook.` : `Issue ${answer.issueId} created; the integration did not accept the webhook.`;
    }
    if (action === 'clock') return 'Sentry’s clock moved 8 hours ahead.';
    if (action === 'uninstall') return answer.delivered ? 'Uninstalled; the integration acknowledged installation.deleted.' : 'Uninstalled.';
    return 'Done.';
  }

  $('issue-form').addEventListener('submit', (event) => {
    event.preventDefault();
    post('issue', { title: $('issue-title').value });
  });
  $('advance-clock').addEventListener('click', () => post('clock', { hours: 8 }));
  $('uninstall').addEventListener('click', () => post('uninstall', {}));

  if (window.EventSource) {
    const source = new EventSource('/_ui/events');
    source.addEventListener('change', refresh);
    source.addEventListener('open', refresh);
  }
  // A slow safety net in case the event stream is cut (proxies, sleeping laptops).
  setInterval(refresh, 5000);
  refresh();
})();
