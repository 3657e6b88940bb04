// The reviewer page. Plain JS, no dependencies. Everything from the server or the item is
// written with textContent, never parsed as HTML: ids, texts and metadata are client-controlled.
"use strict";

const $ = (id) => document.getElementById(id);
const REASONS = { uncertainty: "uncertain", committee: "committee split", audit: "audit sample",
  cold_start: "cold start", drift: "drift", feedback: "app feedback" };
const WHY = { uncertainty: "the model is unsure between its top labels",
  committee: "the model's committee members disagree",
  audit: "random sample that keeps the accuracy estimate honest",
  cold_start: "the model has too few labels yet", drift: "the stream is changing",
  feedback: "an app reported a wrong prediction" };
const state = { config: null, cred: null, item: null, labels: [], history: [], busy: false,
  heartbeat: null, tick: null, stash: null };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.config.auth) h.Authorization = "Bearer " + state.cred;
  else h["X-Reviewer"] = state.cred;
  return h;
}

async function api(method, path, body) {
  const resp = await fetch(path, { method, headers: headers(),
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401) { logout("Your key was not accepted."); throw new Error("401"); }
  let data = null;
  if (resp.status !== 204) {
    try { data = await resp.json(); } catch (_) { data = null; }
  }
  if (!resp.ok) {
    const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail
      : JSON.stringify(data.detail)) : resp.statusText;
    const err = new Error(detail); err.status = resp.status; throw err;
  }
  return { status: resp.status, data };
}

function say(text, kind) {
  const s = $("status"); s.textContent = text || ""; s.className = "status " + (kind || "");
}

// -- sign in --------------------------------------------------------------------------------
async function boot() {
  state.config = await (await fetch("/page-config.json")).json();
  if (!state.config.auth) {
    $("login-hint").textContent = "Auth is off (dev mode): any name will do.";
    $("login-key").type = "text"; $("login-key").placeholder = "your name";
  }
  $("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login($("login-key").value.trim()); });
  $("logout").addEventListener("click", () => logout(""));
  $("skip-btn").addEventListener("click", skip);
  $("undo-btn").addEventListener("click", undo);
  $("filter").addEventListener("input", renderMatches);
  $("filter").addEventListener("keydown", filterKeys);
  document.addEventListener("keydown", keys);
  const saved = sessionStorage.getItem("alstream.reviewer");
  if (saved) login(saved); else showLogin("");
}

function showLogin(error) {
  $("login").hidden = false; $("workspace").hidden = true; $("stats").hidden = true; $("who").hidden = true;
  $("login-error").textContent = error || ""; $("login-key").focus();
}

async function login(cred) {
  if (!cred) return;
  state.cred = cred;
  try {
    const stats = await api("GET", "/v1/review/stats");
    sessionStorage.setItem("alstream.reviewer", cred);
    $("who-name").textContent = stats.data.reviewer;
    $("login").hidden = true; $("workspace").hidden = false; $("stats").hidden = false; $("who").hidden = false;
    renderStats(stats.data);
    await loadLabels();
    await next();
    renderStats((await api("GET", "/v1/review/stats")).data);  // now counting our lease
    clearInterval(state.tick);
    state.tick = setInterval(refresh, 4000);
  } catch (e) {
    if (e.message !== "401") showLogin(e.message);
  }
}

function logout(msg) {
  sessionStorage.removeItem("alstream.reviewer");
  clearInterval(state.tick); clearInterval(state.heartbeat);
  state.item = null; state.cred = null;
  showLogin(msg);
}

// -- queue ----------------------------------------------------------------------------------
async function loadLabels() {
  const { data } = await api("GET", "/v1/labels");
  state.labels = data.labels.filter((l) => !l.retired).map((l) => l.label);
  renderLabels();
}

async function next() {
  const r = await api("POST", "/v1/review/next");
  show(r.status === 204 ? null : r.data);
}

async function resume() {
  const stashed = state.stash;
  state.stash = null;
  if (stashed) {
    try { show((await api("POST", `/v1/review/leases/${stashed.lease_id}/heartbeat`)).data); return; }
    catch (_) { /* expired meanwhile: take the next one */ }
  }
  await next();
}

async function refresh() {
  try {
    renderStats((await api("GET", "/v1/review/stats")).data);
    if (!state.item && !state.busy) await next();
  } catch (e) { if (e.message !== "401") say(e.message, "bad"); }
}

function show(item) {
  state.item = item;
  clearInterval(state.heartbeat);
  $("item-card").hidden = !item; $("empty").hidden = !!item;
  renderLabels();
  if (!item) { $("similar").replaceChildren(el("li", "muted", "–")); return; }
  $("reason").textContent = REASONS[item.reason] || item.reason;
  $("reason").className = "badge " + item.reason;
  $("reason").title = WHY[item.reason] || "";
  $("why").textContent = WHY[item.reason] ? "· " + WHY[item.reason] : "";
  $("votes").textContent = item.votes_needed > 1 ? `vote ${item.votes + 1} of ${item.votes_needed}` : "";
  $("item-id").textContent = item.item_id; $("item-id").title = item.item_id;
  $("text").textContent = item.text;
  $("text").scrollTop = 0;
  const meta = $("meta"); meta.replaceChildren();
  for (const [k, v] of Object.entries(item.metadata || {})) meta.append(el("span", "", `${k}: ${v}`));
  const suggestion = item.suggestion || item.predicted_label;
  $("suggestion").textContent = suggestion || "no prediction yet";
  $("confidence").textContent = item.confidence != null ? `${Math.round(item.confidence * 100)}%` : "";
  $("model-version").textContent = item.model_version ? `model v${item.model_version}` : "";
  renderProbs(item.probabilities || {});
  tickTimer();
  const every = Math.max(5000, (item.expires_at * 1000 - Date.now()) / 3);
  state.heartbeat = setInterval(heartbeat, every);
  loadSimilar(item);
}

function renderProbs(probs) {
  const box = $("probs"); box.replaceChildren();
  const top = Object.entries(probs).sort((a, b) => b[1] - a[1]).slice(0, 5);
  top.forEach(([label, p], i) => {
    const name = el("span", i === 0 ? "top" : "", label);
    const bg = el("div", "bar-bg" + (i === 0 ? " top" : "")); const fg = el("div", "bar-fg");
    fg.style.width = `${Math.round(p * 100)}%`; bg.append(fg);
    const wrap = el("div", i === 0 ? "top" : ""); wrap.append(bg);
    box.append(name, wrap, el("span", "pct", `${(p * 100).toFixed(1)}%`));
  });
}

function renderLabels() {
  const box = $("labels"); box.replaceChildren();
  const hint = state.item && (state.item.suggestion || state.item.predicted_label);
  state.labels.slice(0, 9).forEach((label, i) => {
    const b = el("button", label === hint ? "suggested" : "");
    b.type = "button"; b.dataset.label = label; b.disabled = !state.item;
    b.append(el("kbd", "", i + 1), el("span", "", label));
    b.addEventListener("click", () => apply(label));
    box.append(b);
  });
  $("filter").disabled = !state.item;
  $("skip-btn").disabled = !state.item;
  $("undo-btn").disabled = !state.history.some((h) => h.undoable);
}

function matching() {
  const q = $("filter").value.trim().toLowerCase();
  if (!q) return [];
  const hits = state.labels.filter((l) => l.toLowerCase().includes(q));
  hits.sort((a, b) => a.toLowerCase().indexOf(q) - b.toLowerCase().indexOf(q));
  if (!hits.some((l) => l.toLowerCase() === q)) hits.push($("filter").value.trim());
  return hits.slice(0, 8);
}

function renderMatches() {
  const box = $("matches"); box.replaceChildren();
  for (const label of matching()) {
    const known = state.labels.includes(label);
    const b = el("button", "", known ? label : `new: ${label}`); b.type = "button";
    b.addEventListener("click", () => apply(label));
    box.append(b);
  }
}

function filterKeys(ev) {
  if (ev.key === "Enter") { ev.preventDefault(); const m = matching(); if (m.length) apply(m[0]); }
  if (ev.key === "Escape") { $("filter").value = ""; renderMatches(); $("filter").blur(); }
}

function keys(ev) {
  if (ev.target instanceof HTMLInputElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if ($("workspace").hidden) return;
  if (/^[1-9]$/.test(ev.key)) {
    const label = state.labels[Number(ev.key) - 1];
    if (label) { ev.preventDefault(); apply(label); }
  } else if (ev.key === "s") { ev.preventDefault(); skip(); }
  else if (ev.key === "u") { ev.preventDefault(); undo(); }
  else if (ev.key === "/") { ev.preventDefault(); $("filter").focus(); }
}

async function act(fn) {
  if (state.busy) return;
  state.busy = true;
  try { await fn(); } catch (e) {
    if (e.message !== "401") say(e.message, "bad");
    // A lease that expired or was taken over: the item is gone from us; move on.
    if ((e.status === 409 || e.status === 403) && /lease/.test(e.message) && state.item) {
      try { await next(); } catch (_) { /* shown on the next tick */ }
    }
  } finally { state.busy = false; renderLabels(); }
  try { renderStats((await api("GET", "/v1/review/stats")).data); } catch (_) { /* next tick */ }
}

function apply(label) {
  const item = state.item;
  if (!item) return;
  act(async () => {
    const b = document.querySelector(`.labels button[data-label="${CSS.escape(label)}"]`);
    if (b) b.classList.add("flash");
    const { data } = await api("POST", `/v1/review/leases/${item.lease_id}/label`, { label });
    state.history.unshift({ event_id: data.event_id, label: data.label, text: item.text, item_id: item.item_id,
      status: data.status, undoable: true });
    state.history = state.history.slice(0, 10);
    renderHistory();
    say(`Labelled “${data.label}”` + (data.status === "pending" ? " (waiting for more votes)" : ""), "ok");
    $("filter").value = ""; renderMatches();
    if (!state.labels.includes(data.label)) await loadLabels();
    await resume();
  });
}

function skip() {
  const item = state.item;
  if (!item) return;
  act(async () => {
    await api("POST", `/v1/review/leases/${item.lease_id}/skip`);
    say("Skipped", "");
    await resume();
  });
}

function undo() {
  const last = state.history.find((h) => h.undoable);
  if (!last) return;
  act(async () => {
    const { data } = await api("POST", `/v1/review/labels/${last.event_id}/undo`);
    last.undoable = false; last.status = "undone";
    state.history = state.history.filter((h) => h !== last);
    renderHistory();
    if (data.item) {
      // The item on screen stays leased to us; we come back to it after relabelling.
      if (state.item && state.item.lease_id !== data.item.lease_id) state.stash = state.item;
      show(data.item);
    }
    say(`Undid “${last.label}”: label it again`, "ok");
  });
}

async function heartbeat() {
  const item = state.item;
  if (!item) return;
  try {
    const { data } = await api("POST", `/v1/review/leases/${item.lease_id}/heartbeat`);
    if (state.item && state.item.lease_id === data.lease_id) state.item.expires_at = data.expires_at;
  } catch (e) {
    if (e.status === 409 || e.status === 403 || e.status === 404) {
      say("The lease on that item expired; here is the next one.", "bad");
      await next();
    }
  }
}

function tickTimer() {
  const item = state.item;
  if (!item) { $("timer").textContent = ""; return; }
  const left = Math.max(0, Math.round(item.expires_at - Date.now() / 1000));
  $("timer").textContent = `lease ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}
setInterval(tickTimer, 1000);

async function loadSimilar(item) {
  const box = $("similar");
  if (!state.config.similar) { box.replaceChildren(el("li", "muted", "Not configured (ALSTREAM_SCORER_URL)")); return; }
  box.replaceChildren(el("li", "muted", "Loading…"));
  try {
    const { data } = await api("GET", `/v1/review/leases/${item.lease_id}/similar`);
    if (!state.item || state.item.lease_id !== item.lease_id) return;
    box.replaceChildren();
    const labelled = data.neighbors.filter((n) => n.label);
    for (const n of (labelled.length ? labelled : data.neighbors).slice(0, 5)) {
      const li = el("li");
      li.append(el("span", "lbl", n.label || "(queued)"), el("span", "muted", `  ${Math.round(n.score * 100)}% similar`),
        el("span", "snip", n.text || n.item_id));
      box.append(li);
    }
    if (!box.children.length) box.append(el("li", "muted", "No similar items yet"));
  } catch (e) { box.replaceChildren(el("li", "muted", "Unavailable: " + e.message)); }
}

function renderHistory() {
  const box = $("history"); box.replaceChildren();
  if (!state.history.length) { box.append(el("li", "muted", "None yet")); return; }
  for (const h of state.history) {
    const li = el("li");
    li.append(el("span", "state " + h.status, h.status), el("span", "lbl", h.label),
      el("span", "id", h.item_id), el("span", "snip", h.text));
    box.append(li);
  }
}

function renderStats(s) {
  $("st-depth").textContent = s.depth; $("st-leased").textContent = s.leased;
  $("st-labeled").textContent = s.labeled; $("st-mine").textContent = s.mine_today;
}


boot();
