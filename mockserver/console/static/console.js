// genmock console: plain ES module, no build step, no dependencies.
// Reads the admin API under /_mock/ (same origin), follows /_mock/events for live updates.

const TOKEN_KEY = "genmock-admin-token";
const PAGE_SIZE = 50;
const main = document.getElementById("main");
const view = { page: "jobs", arg: null, cursor: null, cursors: [], filters: {}, timer: null };
let options = null; // providers, models, scenarios (GET /_mock/trigger)
let clockInfo = null;
let firstList = null; // performance.now() when the first job list was on screen

// --- helpers ------------------------------------------------------------------
const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const json = (value) => esc(typeof value === "string" ? value : JSON.stringify(value, null, 2));
function isoOf(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace("Z", "");
}
const timeOf = (seconds) => isoOf(seconds).slice(11, 23);
function ago(seconds) {
  if (!clockInfo || seconds == null) return "";
  const d = clockInfo.now - seconds;
  if (d < 1) return "just now";
  if (d < 120) return `${d.toFixed(0)} s ago`;
  if (d < 7200) return `${(d / 60).toFixed(0)} min ago`;
  return `${(d / 3600).toFixed(1)} h ago`;
}
const offset = (at, start) => {
  const d = at - start;
  return (d >= 0 ? "+" : "") + (Math.abs(d) < 100 ? d.toFixed(2) : d.toFixed(0)) + " s";
};
// Notices survive the re-renders live updates cause.
const notices = {};
const noticeHtml = (id) => `<p id="${id}" class="${notices[id] ? `notice ${notices[id][0]}` : ""}">${esc(notices[id]?.[1] ?? "")}</p>`;
function notify(id, ok, text) {
  notices[id] = [ok ? "ok" : "bad", text];
  const el = document.getElementById(id);
  if (el) { el.className = `notice ${notices[id][0]}`; el.textContent = text; }
}
const badge = (text, cls) => `<span class="badge ${esc(cls ?? text)}">${esc(text)}</span>`;
const statusBadge = (code) => badge(code, `s${String(code)[0]}`);
const qs = (params) => Object.entries(params).filter(([, v]) => v !== "" && v != null)
  .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");

// --- the admin API (token in a header, never in a URL) ----------------------------
function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { "X-Mock-Admin-Token": token } : {};
}
let asking = null;
function askToken(message) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = document.getElementById("token-dialog");
      document.getElementById("token-error").textContent = message || "";
      dialog.showModal();
      document.getElementById("token-form").addEventListener("submit", () => {
        sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value);
        asking = null;
        resolve();
      }, { once: true });
    });
  }
  return asking;
}
async function api(path, init = {}) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const headers = { ...authHeaders(), ...(init.body ? { "Content-Type": "application/json" } : {}) };
    const reply = await fetch(`/_mock${path}`, { ...init, headers, credentials: "same-origin" });
    if (reply.status === 401) {
      await askToken(sessionStorage.getItem(TOKEN_KEY) ? "That token was refused." : "");
      continue;
    }
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok && !init.keepErrors) throw new Error(data.error || `HTTP ${reply.status}`);
    return init.keepErrors ? { status: reply.status, data } : data;
  }
  throw new Error("no valid admin token");
}
const send = (path, method, body) => api(path, { method, body: JSON.stringify(body ?? {}) });

// --- live updates: /_mock/events read with fetch (a header can carry the token) -------
const live = document.getElementById("live");
async function follow() {
  for (;;) {
    try {
      const reply = await fetch("/_mock/events", { headers: authHeaders(), cache: "no-store" });
      if (reply.status === 401) { await askToken(""); continue; }
      if (!reply.ok || !reply.body) throw new Error(`HTTP ${reply.status}`);
      live.className = "live on"; live.textContent = "live";
      const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          let name = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data) onEvent(name, JSON.parse(data));
        }
      }
    } catch (error) { /* reconnect below */ }
    live.className = "live off"; live.textContent = "reconnecting";
    await new Promise((r) => setTimeout(r, 2000));
  }
}
const RELEVANT = {
  jobs: ["jobs", "webhooks", "requests"], requests: ["requests"], webhooks: ["webhooks"],
  accounts: ["jobs", "requests"], clock: ["clock", "scenarios"], trigger: [],
};
function onEvent(name, data) {
  if (data.clock_now !== undefined && clockInfo) { clockInfo.now = data.clock_now; showClock(); }
  if (name !== "change") return;
  if ((RELEVANT[view.page] || []).some((k) => data.changed.includes(k))) refresh();
}
let refreshing = false, again = false;
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try { await render(); } catch (error) { console.error(error); }
  refreshing = false;
  if (again) { again = false; refresh(); }
}

// --- clock in the header --------------------------------------------------------
function showClock() {
  if (!clockInfo) return;
  document.getElementById("clock-badge").textContent =
    `${clockInfo.kind} clock ${isoOf(clockInfo.now).slice(0, 19)}`;
}
async function loadClock() { clockInfo = await api("/clock"); showClock(); }
setInterval(() => { // a real clock moves by itself between events
  if (clockInfo && clockInfo.kind === "real" && clockInfo.speed) {
    clockInfo.now += clockInfo.speed; showClock();
  }
}, 1000);

// --- router ---------------------------------------------------------------------
function route() {
  const [page, ...rest] = (location.hash.slice(1) || "jobs").split("/");
  if (page !== view.page) { view.cursor = null; view.cursors = []; }
  view.page = page; view.arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  refresh();
}
const PAGES = { jobs: jobsPage, requests: requestsPage, webhooks: webhooksPage, accounts: accountsPage,
  clock: clockPage, trigger: triggerPage };
async function render() {
  const page = PAGES[view.page] || jobsPage;
  await page();
}
function keepFocus(fn) { // re-rendering must not steal the cursor from a form field
  const active = document.activeElement;
  const id = active && active.id;
  const value = active && "value" in active ? active.value : null;
  fn();
  if (id) { const el = document.getElementById(id); if (el) { el.focus(); if (value !== null) el.value = value; } }
}
function filterBar(fields) {
  return `<form class="filters" id="filters">${fields.map(([name, label, choices]) => choices
    ? `<label>${label}<select name="${name}" id="f-${name}"><option value="">any</option>${choices.map((c) =>
      `<option ${view.filters[name] === c ? "selected" : ""}>${esc(c)}</option>`).join("")}</select></label>`
    : `<label>${label}<input name="${name}" id="f-${name}" value="${esc(view.filters[name] || "")}" size="22"></label>`).join("")}
    <button type="submit">Filter</button><button type="button" id="clear-filters">Clear</button></form>`;
}
function wireFilters() {
  const form = document.getElementById("filters");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    view.filters = Object.fromEntries(new FormData(form).entries());
    view.cursor = null; view.cursors = []; refresh();
  });
  document.getElementById("clear-filters").addEventListener("click", () => {
    view.filters = {}; view.cursor = null; view.cursors = []; refresh();
  });
}
function pager(data, stored) {
  return `<div class="pager"><button class="small" id="newer" ${view.cursors.length ? "" : "disabled"}>← newer</button>
    <button class="small" id="older" ${data.next_cursor ? "" : "disabled"}>older →</button>
    <span>${data.count} shown · ${stored ?? data.stored} stored · pages of ${data.limit} from the server</span></div>`;
}
function wirePager(data) {
  const older = document.getElementById("older"), newer = document.getElementById("newer");
  if (older) older.addEventListener("click", () => { view.cursors.push(view.cursor); view.cursor = data.next_cursor; refresh(); });
  if (newer) newer.addEventListener("click", () => { view.cursor = view.cursors.pop() ?? null; refresh(); });
}

// --- Jobs and the timeline ---------------------------------------------------------
const STATES = ["queued", "running", "succeeded", "failed", "cancelled"];
async function jobsPage() {
  const f = view.filters;
  const data = await api(`/jobs?${qs({ limit: PAGE_SIZE, cursor: view.cursor, provider: f.provider,
    model: f.model, key: f.key, state: f.state })}`);
  const timeline = view.arg ? await api(`/jobs/${encodeURIComponent(view.arg)}/timeline`).catch((e) => ({ error: e.message })) : null;
  const rows = data.jobs.map((job) => `<tr class="row ${job.id === view.arg ? "selected" : ""}" data-id="${esc(job.id)}">
      <td title="${esc(isoOf(job.created_at))}">${esc(timeOf(job.created_at))}<div class="word">${esc(ago(job.created_at))}</div></td>
      <td>${badge(job.provider)}</td><td class="mono">${esc(job.model_id)}</td>
      <td class="mono">${esc(job.key)}</td>
      <td><span class="badge ${esc(job.state)} state" data-state="${esc(job.state)}">${esc(job.state)}</span><span class="word">${esc(job.status ?? "")}</span></td>
      <td>${job.polls}</td><td>${job.scenario ? badge(job.scenario, "scenario") : ""}</td></tr>`).join("");
  keepFocus(() => {
    main.innerHTML = `<div class="split"><div class="card"><h2>Jobs</h2>
      ${filterBar([["provider", "provider", options.providers], ["model", "model", null], ["key", "key (whole)", null], ["state", "state", STATES]])}
      <table id="jobs-table"><thead><tr><th>created (mock clock)</th><th>provider</th><th>model</th><th>key</th><th>state</th><th>polls</th><th>scenario</th></tr></thead>
      <tbody>${rows || `<tr><td colspan="7" class="muted">No job yet: run a client against the mock, or use Trigger.</td></tr>`}</tbody></table>
      ${pager(data)}</div>
      <div class="card" id="timeline-card">${timeline ? timelineHtml(timeline) : `<p class="muted">Select a job to see its story: create, polls, transitions, credits, rate limit, webhook attempts.</p>`}</div></div>`;
  });
  wireFilters(); wirePager(data);
  if (firstList === null) firstList = performance.now();
  for (const tr of main.querySelectorAll("#jobs-table tr.row")) {
    tr.addEventListener("click", () => { location.hash = `jobs/${encodeURIComponent(tr.dataset.id)}`; });
  }
}
const ICONS = { create: "+", poll: "?", transition: "→", credit: "$", rate_limit: "R", scenario: "!",
  webhook_attempt: "↗", cancel: "×", output: "▶" };
function eventSub(ev) {
  const d = ev.detail || {};
  switch (ev.kind) {
    case "create": return `${esc(d.method ?? "")} ${esc(d.path ?? "")} · ${d.duration_ms != null ? `${esc(d.duration_ms)} ms` : ""}`;
    case "poll": return `${esc(d.method)} ${esc(d.path)} · saw <b>${esc(d.status_word ?? "?")}</b> · ${esc(d.duration_ms)} ms`;
    case "credit": return d.label ? esc(d.label) : "";
    case "rate_limit": return d.limits_now ? `limits: ${esc(d.limits_now.creates_per_window)} creates / ${esc(d.limits_now.window_seconds)} s, ${esc(d.limits_now.concurrent ?? "∞")} at once` : "";
    case "scenario": return esc(d.description ?? "");
    case "webhook_attempt": return d.planned ? esc(d.url) : `${esc(d.url)} · ${d.status_code != null ? `HTTP ${esc(d.status_code)}` : esc(d.error ?? "")} · ${esc(Math.round(d.duration_ms ?? 0))} ms latency${d.resend_of ? " · resend" : ""}`;
    case "transition": return d.failure ? `failure: ${esc(d.failure)}` : (d.planned_run_seconds != null ? `planned run ${esc(d.planned_run_seconds)} s` : "");
    case "output": return (d.outputs || []).map(esc).join("<br>");
    default: return "";
  }
}
function eventDetails(ev) {
  const d = ev.detail || {};
  const parts = [];
  if (ev.kind === "create") parts.push(["request and answer", { request: d.request, response: d.response }]);
  if (ev.kind === "webhook_attempt" && !d.planned) parts.push(["signature headers and payload", { headers: d.headers, body: d.body }]);
  if (ev.kind === "scenario") parts.push(["effects", d.effects]);
  if (!parts.length) return "";
  return parts.map(([label, value]) => `<details><summary>${esc(label)}</summary><pre>${json(value)}</pre></details>`).join("");
}
function timelineHtml(data) {
  if (data.error) return `<p class="error">${esc(data.error)}</p>`;
  const job = data.job, start = job.created_at;
  const legend = Object.entries({ create: "create", poll: "poll", transition: "state", credit: "credits",
    rate_limit: "rate limit", scenario: "scenario", webhook_attempt: "webhook" })
    .map(([k, label]) => `<span><i class="lg-${k}"></i>${label}</span>`).join("");
  const events = data.events.map((ev) => {
    const d = ev.detail || {};
    const planned = d.planned ? " planned" : "";
    const bad = ev.kind === "webhook_attempt" && !d.planned && d.outcome !== "delivered" ? " bad" : "";
    const to = ev.kind === "transition" && d.to ? ` to-${esc(d.to)}` : "";
    return `<li class="ev k-${esc(ev.kind)}${planned}${bad}${to}" data-kind="${esc(ev.kind)}">
      <div class="dot">${ICONS[ev.kind] || "•"}</div>
      <div class="t"><b>${esc(offset(ev.at, start))}</b>${esc(timeOf(ev.at))}</div>
      <div class="body"><div class="title">${esc(ev.title)}</div><div class="sub">${eventSub(ev)}</div>${eventDetails(ev)}</div></li>`;
  }).join("");
  return `<div class="job-head"><h2 class="flush">Job</h2><span class="id">${esc(job.id)}</span>${badge(job.provider)}
      <span class="badge ${esc(job.state)}" id="timeline-state">${esc(job.state)}</span><span class="word">${esc(job.status ?? "")}</span></div>
    <dl class="facts"><dt>model</dt><dd class="mono">${esc(job.model_id)}</dd><dt>key</dt><dd class="mono">${esc(job.key)}</dd>
      <dt>created</dt><dd>${esc(isoOf(job.created_at))} (mock clock)</dd>
      <dt>plan</dt><dd>queue ${esc(job.plan.queue_seconds)} s, run ${esc(job.plan.run_seconds)} s → ${esc(job.plan.outcome)}${job.plan.stuck ? " (stuck)" : ""}</dd>
      <dt>webhook</dt><dd class="mono">${esc(job.webhook ? job.webhook.url : "none")}</dd>
      <dt>polls</dt><dd>${esc(job.polls)}</dd></dl>
    <div class="legend">${legend}</div>
    <ol class="timeline" id="timeline">${events}</ol>
    ${data.truncated ? `<p class="muted">Some events are not shown (bounded; the journal ring no longer holds every poll).</p>` : ""}`;
}

// --- Requests -------------------------------------------------------------------
async function requestsPage() {
  const f = view.filters;
  const data = await api(`/requests?${qs({ limit: PAGE_SIZE, cursor: view.cursor, provider: f.provider,
    status: f.status, endpoint: f.endpoint })}`);
  let detail = null;
  if (view.arg) detail = await api(`/requests/${encodeURIComponent(view.arg)}`).catch((e) => ({ error: e.message }));
  const key = (entry) => {
    const h = entry.headers || {};
    return (h["x-api-key"] || h.authorization || "").replace(/^Bearer /i, "");
  };
  const rows = data.requests.map((r) => `<tr class="row ${String(r.seq) === view.arg ? "selected" : ""}" data-seq="${r.seq}">
    <td>${esc(timeOf(r.at))}</td><td>${esc(r.method)}</td><td class="mono clip" title="${esc(r.path)}">${esc(r.path)}</td>
    <td>${r.provider ? badge(r.provider) : ""}</td><td class="mono">${esc(key(r))}</td>
    <td>${statusBadge(r.status)}${r.near_miss ? ' <span class="badge pending" title="the mock knows something close: open it">?</span>' : ""}</td>
    <td>${esc(r.duration_ms)} ms</td></tr>`).join("");
  keepFocus(() => {
    main.innerHTML = `<div class="split"><div class="card"><h2>Requests</h2>
      ${filterBar([["provider", "provider", options.providers], ["status", "status", null], ["endpoint", "endpoint", ["create", "poll", "cancel", "balance"]]])}
      <table id="requests-table"><thead><tr><th>time</th><th>method</th><th>path</th><th>provider</th><th>key</th><th>status</th><th>duration</th></tr></thead>
      <tbody>${rows || `<tr><td colspan="7" class="muted">No request yet.</td></tr>`}</tbody></table>${pager(data)}</div>
      <div class="card" id="request-detail">${detail ? requestHtml(detail) : `<p class="muted">Select a request to see its headers, bodies and, when the mock could not match it, what it does know.</p>`}</div></div>`;
  });
  wireFilters(); wirePager(data);
  for (const tr of main.querySelectorAll("#requests-table tr.row")) {
    tr.addEventListener("click", () => { location.hash = `requests/${tr.dataset.seq}`; });
  }
}
function requestHtml(r) {
  if (r.error) return `<p class="error">${esc(r.error)}</p>`;
  const near = r.near_miss ? `<div class="nearmiss" id="near-miss"><strong>${esc(r.near_miss.suggestion)}</strong>
      <div class="muted">unknown ${esc(r.near_miss.kind)}; the mock knows: ${(r.near_miss.known || []).slice(0, 8).map((k) => `<code>${esc(k)}</code>`).join(", ")}</div></div>` : "";
  const headers = Object.entries(r.headers || {}).map(([k, v]) => `<tr><td>${esc(k)}</td><td class="mono">${esc(v)}</td></tr>`).join("");
  return `<h2>${esc(r.method)} <span class="mono">${esc(r.path)}</span> ${statusBadge(r.status)}</h2>
    ${near}
    <table class="kv"><tr><td>time</td><td>${esc(isoOf(r.at))} (mock clock)</td></tr><tr><td>provider</td><td>${esc(r.provider ?? "none")}</td></tr>
    <tr><td>endpoint</td><td>${esc(r.endpoint ?? "unmatched")}</td></tr><tr><td>duration</td><td>${esc(r.duration_ms)} ms</td></tr>
    ${r.job_id ? `<tr><td>job</td><td><a href="#jobs/${esc(encodeURIComponent(r.job_id))}">${esc(r.job_id)}</a></td></tr>` : ""}
    ${r.scenario ? `<tr><td>scenario</td><td>${esc(r.scenario)}</td></tr>` : ""}</table>
    <h3>Headers <span class="muted">(secrets masked)</span></h3><table class="kv">${headers}</table>
    <h3>Request body</h3><pre>${r.body == null ? "(empty)" : json(r.body)}</pre>
    <h3>Response body</h3><pre>${r.response == null ? "(empty)" : json(r.response)}</pre>`;
}

// --- Webhooks --------------------------------------------------------------------
async function webhooksPage() {
  const data = await api(`/webhooks?${qs({ limit: 200, order: "newest", cursor: view.cursor, provider: view.filters.provider })}`);
  const groups = { delivered: [], pending: [], failed: [] };
  for (const d of data.deliveries) {
    (d.state === "delivered" ? groups.delivered : d.state === "gave_up" ? groups.failed : groups.pending).push(d);
  }
  const card = (d) => `<div class="delivery" data-id="${esc(d.id)}">
      <div class="top"><span>${badge(d.provider)} ${badge(d.state)} <span class="word">${esc(d.kind)}</span></span>
      ${d.state === "delivered" || d.state === "gave_up" ? `<button class="small resend" data-id="${esc(d.id)}">Resend</button>` : ""}</div>
      <div class="sub mono spaced">${esc(d.url)}</div>
      <div class="word">job <a href="#jobs/${esc(encodeURIComponent(d.job_id))}">${esc(d.job_id.slice(0, 13))}…</a>
        ${d.resend_of ? ` · resend of ${esc(d.resend_of.slice(0, 8))}` : ""}${d.resent_as ? ` · resent as ${esc(d.resent_as.slice(0, 8))}` : ""}${d.dropped ? " · dropped at the bound" : ""}</div>
      <ul class="attempts">${d.attempts.map((a) => `<li class="attempt">#${a.attempt} ${esc(timeOf(a.at))} · ${badge(a.outcome, a.outcome === "delivered" ? "delivered" : "failed")}
        ${a.status_code != null ? `HTTP ${esc(a.status_code)}` : ""} ${a.error ? esc(a.error) : ""} · ${esc(Math.round(a.duration_ms))} ms</li>`).join("")
        || `<li class="muted">no attempt yet; due ${esc(timeOf(d.due))}</li>`}</ul></div>`;
  const group = (title, id, list) => `<div class="group card" id="${id}"><h3>${title} <span class="n">${list.length}</span></h3>
      ${list.map(card).join("") || `<p class="muted">none</p>`}</div>`;
  keepFocus(() => {
    main.innerHTML = `<h2>Webhook deliveries</h2>
      ${filterBar([["provider", "provider", options.providers]])}
      ${noticeHtml("webhook-notice")}
      <div class="groups">${group("Delivered", "delivered", groups.delivered)}${group("Pending / in flight", "pending", groups.pending)}${group("Failed (gave up)", "failed", groups.failed)}</div>
      ${pager(data)}`;
  });
  wireFilters(); wirePager(data);
  for (const button of main.querySelectorAll("button.resend")) {
    button.addEventListener("click", async () => {
      try {
        const again = await send(`/webhooks/${encodeURIComponent(button.dataset.id)}/resend`, "POST");
        notify("webhook-notice", true, `Resent as ${again.id}: a new attempt series, due now.`);
      } catch (error) { notify("webhook-notice", false, error.message); }
      refresh();
    });
  }
}

// --- Accounts ----------------------------------------------------------------------
async function accountsPage() {
  const data = await api(`/accounts?${qs({ limit: PAGE_SIZE, cursor: view.cursor })}`);
  const selected = view.arg ? await api(`/accounts/by-fingerprint/${encodeURIComponent(view.arg)}`).catch((e) => ({ error: e.message })) : null;
  const rows = data.keys.map((k) => `<tr class="row ${k.fingerprint === view.arg ? "selected" : ""}" data-fp="${esc(k.fingerprint)}">
      <td class="mono">${esc(k.key)}</td><td class="mono">${esc(k.fingerprint)}</td><td>${k.valid ? badge("valid", "succeeded") : badge("invalid", "failed")}</td>
      <td>${(k.used_with || []).map((p) => badge(p)).join(" ")}</td>
      <td>${Object.values(k.accounts || {}).filter((a) => (k.used_with || []).includes(a.provider)).map((a) => `${esc(a.balance)} ${esc(a.currency)}`).join("<br>")}</td></tr>`).join("");
  keepFocus(() => {
    main.innerHTML = `<div class="split"><div class="card"><h2>Accounts</h2>
      <p class="muted">Keys seen or configured (masked). Defaults: ${Object.entries(data.defaults.balances).map(([c, n]) => `${esc(n)} ${esc(c)}`).join(", ")}.</p>
      <table id="accounts-table"><thead><tr><th>key</th><th>fingerprint</th><th>valid</th><th>used with</th><th>balance</th></tr></thead>
      <tbody>${rows || `<tr><td colspan="5" class="muted">No key yet.</td></tr>`}</tbody></table>${pager(data)}</div>
      <div class="card" id="account-detail">${selected ? accountHtml(selected) : `<p class="muted">Select a key to see and edit its balances and limits.</p>`}</div></div>`;
  });
  wirePager(data);
  for (const tr of main.querySelectorAll("#accounts-table tr.row")) {
    tr.addEventListener("click", () => { location.hash = `accounts/${tr.dataset.fp}`; });
  }
  if (selected && !selected.error) wireAccount(selected);
}
function accountHtml(a) {
  if (a.error) return `<p class="error">${esc(a.error)}</p>`;
  const rows = Object.values(a.accounts).map((acc) => {
    const lim = a.effective_limits[acc.provider] || {};
    return `<tr data-provider="${esc(acc.provider)}"><td>${badge(acc.provider)}</td>
      <td><input class="balance-input" id="balance-${esc(acc.provider)}" type="number" min="0" step="any" value="${esc(acc.balance)}"> ${esc(acc.currency)}</td>
      <td>${esc(acc.reserved)}</td><td>${esc(acc.available)}</td>
      <td><input class="balance-input" id="cpw-${esc(acc.provider)}" type="number" min="0" value="${esc(lim.creates_per_window ?? "")}"> / 
        <input class="balance-input narrow" id="win-${esc(acc.provider)}" type="number" min="1" value="${esc(lim.window_seconds ?? "")}"> s</td>
      <td><input class="balance-input narrow" id="conc-${esc(acc.provider)}" type="number" min="0" value="${esc(lim.concurrent ?? "")}"></td>
      <td><button class="small save-account" data-provider="${esc(acc.provider)}">Save</button></td></tr>`;
  }).join("");
  return `<h2>Key <span class="mono">${esc(a.key)}</span></h2>
    <table class="kv"><tr><td>fingerprint</td><td class="mono">${esc(a.fingerprint)}</td></tr>
    <tr><td>valid</td><td>${a.valid ? "yes" : "no"}</td></tr>
    <tr><td>webhook secret</td><td class="mono"><span id="secret">${esc(a.webhook_secret)}</span> <button class="small" id="reveal">reveal</button></td></tr></table>
    ${noticeHtml("account-notice")}
    <table id="balances"><thead><tr><th>provider</th><th>balance</th><th>reserved</th><th>available</th><th>creates / window</th><th>at once</th><th></th></tr></thead><tbody>${rows}</tbody></table>
    <p class="muted">Balances are in the provider's unit; a create that costs more than the available balance is answered 402.</p>`;
}
function wireAccount(a) {
  document.getElementById("reveal").addEventListener("click", (event) => {
    const span = document.getElementById("secret");
    const shown = span.textContent === a.webhook_secret_full;
    span.textContent = shown ? a.webhook_secret : a.webhook_secret_full;
    event.target.textContent = shown ? "reveal" : "hide";
  });
  for (const button of document.querySelectorAll("button.save-account")) {
    button.addEventListener("click", async () => {
      const p = button.dataset.provider;
      const num = (id) => { const v = document.getElementById(id).value; return v === "" ? undefined : Number(v); };
      // Only the limits changed here become the key's overrides; the others keep following
      // the provider's (or the tier's) values.
      const shown = a.effective_limits[p] || {};
      const limits = {};
      for (const [name, id] of [["creates_per_window", `cpw-${p}`], ["window_seconds", `win-${p}`], ["concurrent", `conc-${p}`]]) {
        if (num(id) !== undefined && num(id) !== shown[name]) limits[name] = num(id);
      }
      try {
        await send(`/accounts/by-fingerprint/${encodeURIComponent(a.fingerprint)}`, "PUT",
          { provider: p, balance: num(`balance-${p}`), limits });
        notify("account-notice", true, `Saved ${p}: balance ${num(`balance-${p}`)}.`);
        setTimeout(refresh, 300);
      } catch (error) { notify("account-notice", false, error.message); }
    });
  }
}

// --- Clock and scenarios --------------------------------------------------------------
async function clockPage() {
  const [clock, scenarios] = await Promise.all([api("/clock"), api("/scenarios?limit=500")]);
  clockInfo = clock; showClock();
  const queued = scenarios.queued.map((q) => `<tr><td>${esc(q.scenario ?? q.code)}</td><td class="mono">${esc(JSON.stringify(q.match || {}))}</td><td>${esc(q.remaining ?? q.times ?? "")}</td></tr>`).join("");
  const registry = scenarios.available.map((s) => `<tr><td class="mono">${esc(s.name)}</td><td>${esc(s.description)}</td></tr>`).join("");
  const opt = (list) => list.map((v) => `<option>${esc(v)}</option>`).join("");
  keepFocus(() => {
    main.innerHTML = `<div class="split"><div>
      <div class="card"><h2>Clock</h2><div class="stat" id="clock-now">${esc(isoOf(clock.now))}</div>
        <p class="muted">${esc(clock.kind)} clock${clock.speed ? `, ${esc(clock.speed)}× the wall clock` : " (moves only when advanced)"} · ${esc(clock.now)} s</p>
        <form class="filters" id="advance-form"><label>advance by (seconds)<input id="advance-seconds" type="number" min="0" step="any" value="60"></label>
          <button class="primary" id="advance-btn" type="submit">Advance</button></form>${noticeHtml("clock-notice")}</div>
      <div class="card"><h2>Queue a scenario</h2>
        <form class="form" id="queue-form">
          <label>scenario<select id="q-scenario"><option value="">(an error code instead)</option>${opt(scenarios.available.map((s) => s.name))}</select></label>
          <label>or code<input id="q-code" type="number" min="400" max="599" placeholder="429"></label>
          <label>provider<select id="q-provider"><option value="">any</option>${opt(options.providers)}</select></label>
          <label>endpoint<select id="q-endpoint"><option value="">any</option>${opt(["create", "poll", "cancel", "balance"])}</select></label>
          <label>model<input id="q-model" placeholder="any"></label><label>key<input id="q-key" placeholder="any"></label>
          <label>nth matching call<input id="q-nth" type="number" min="1" placeholder="next"></label>
          <label>times<input id="q-times" type="number" min="1" value="1"></label>
          <div class="actions wide"><button type="button" id="clear-queue">Clear queue</button><button class="primary" type="submit">Queue</button></div>
        </form>${noticeHtml("queue-notice")}
        <table id="queued"><thead><tr><th>scenario / code</th><th>match</th><th>times left</th></tr></thead><tbody>${queued || `<tr><td colspan="3" class="muted">Queue empty.</td></tr>`}</tbody></table></div></div>
      <div class="card"><h2>Scenario registry</h2><table id="registry"><thead><tr><th>name</th><th>effect</th></tr></thead><tbody>${registry}</tbody></table></div></div>`;
  });
  document.getElementById("advance-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const moved = await send("/clock/advance", "POST", { seconds: Number(document.getElementById("advance-seconds").value) });
      notify("clock-notice", true, `Advanced ${moved.advanced} s: now ${isoOf(moved.now)}.`);
      clockInfo = { ...clockInfo, ...moved }; showClock();
      document.getElementById("clock-now").textContent = isoOf(moved.now);
    } catch (error) { notify("clock-notice", false, error.message); }
  });
  document.getElementById("queue-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const val = (id) => document.getElementById(id).value;
    const match = {};
    for (const [name, id] of [["provider", "q-provider"], ["endpoint", "q-endpoint"], ["model", "q-model"], ["key", "q-key"]]) if (val(id)) match[name] = val(id);
    if (val("q-nth")) match.nth = Number(val("q-nth"));
    const body = { match, times: Number(val("q-times") || 1) };
    if (val("q-scenario")) body.scenario = val("q-scenario"); else body.code = Number(val("q-code"));
    try { await send("/scenarios", "POST", body); notify("queue-notice", true, "Queued."); refresh(); }
    catch (error) { notify("queue-notice", false, error.message); }
  });
  document.getElementById("clear-queue").addEventListener("click", async () => {
    const cleared = await api("/scenarios", { method: "DELETE" });
    notify("queue-notice", true, `Cleared ${cleared.cleared}.`); refresh();
  });
}

// --- Trigger ---------------------------------------------------------------------------
let triggerResult = null;
async function triggerPage() {
  if (document.getElementById("trigger-form")) return; // keep what the user typed
  const opt = (list, selected) => list.map((v) => `<option ${v === selected ? "selected" : ""}>${esc(v)}</option>`).join("");
  main.innerHTML = `<div class="card narrow-card"><h2>Trigger a job</h2>
    <p class="muted">Starts a job the way a client does: a real create request of the provider (its auth header, path and body),
      sent through the mock's own route, so validation, rate limits, price, scenario and journal apply. Like <code>stripe trigger</code>.</p>
    <form class="form" id="trigger-form">
      <label>provider<select id="t-provider">${opt(options.providers)}</select></label>
      <label>model<select id="t-model"></select></label>
      <label>scenario<select id="t-scenario"><option value="">none (normal job)</option>${opt(options.scenarios)}</select></label>
      <label>API key<input id="t-key" value="console"></label>
      <label class="wide">webhook URL (optional)<input id="t-webhook" placeholder="http://127.0.0.1:9000/hooks"></label>
      <label class="wide">model inputs to set (optional JSON object)<textarea id="t-input" rows="3" placeholder='{"prompt": "a cat"}'></textarea></label>
      <div class="actions wide"><button class="primary" type="submit" id="trigger-btn">Start job</button></div>
    </form><div id="trigger-result"></div></div>`;
  const models = () => {
    const provider = document.getElementById("t-provider").value;
    document.getElementById("t-model").innerHTML = opt(options.models[provider] || []);
  };
  document.getElementById("t-provider").addEventListener("change", models);
  models();
  document.getElementById("trigger-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const val = (id) => document.getElementById(id).value.trim();
    const out = document.getElementById("trigger-result");
    let input = {};
    try { input = val("t-input") ? JSON.parse(val("t-input")) : {}; }
    catch (error) { out.innerHTML = `<p class="notice bad">inputs: ${esc(error.message)}</p>`; return; }
    const body = { provider: val("t-provider"), model: val("t-model"), key: val("t-key") || "console", input };
    if (val("t-scenario")) body.scenario = val("t-scenario");
    if (val("t-webhook")) body.webhook_url = val("t-webhook");
    const { status, data } = await api("/trigger", { method: "POST", body: JSON.stringify(body), keepErrors: true });
    triggerResult = data;
    out.innerHTML = data.job
      ? `<p class="notice ok" id="trigger-ok">Job <a href="#jobs/${esc(encodeURIComponent(data.job.id))}">${esc(data.job.id)}</a> created (${badge(data.job.state)}). Open it to follow its timeline.</p>
         <h3>Request sent</h3><pre>${json(data.request)}</pre><h3>Answer (HTTP ${esc(data.response.status)})</h3><pre>${json(data.response.body)}</pre>`
      : `<p class="notice bad" id="trigger-error">${esc(data.error || `HTTP ${status}`)}</p>${data.response ? `<pre>${json(data.response.body)}</pre>` : ""}`;
  });
}

// --- start --------------------------------------------------------------------------------
async function start() {
  options = await api("/trigger");
  await loadClock();
  window.addEventListener("hashchange", route);
  route();
  follow();
}
start().catch((error) => { main.innerHTML = `<p class="error">${esc(error.message)}</p>`; });
window.genmockConsole = { get view() { return view; }, get firstList() { return firstList; }, get lastTrigger() { return triggerResult; } };
