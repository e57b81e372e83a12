// crew dashboard: one page, two views (#/ the runs, workers and queue;
// #/run/ID one run's jobs and timeline), fed by the broker's server-sent
// events (api/events), one update a second. Everything from the server
// goes into the page as text, never as markup.
"use strict";

const app = document.getElementById("app");
const live = document.getElementById("live");
let source = null;
let view = { run: "" };
let last = { overview: null, run: null };
let cancelArmed = null; // timer while the cancel button waits for its second click

// el builds an element: el("td", {class: "num"}, "text", child, ...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    // Through the CSSOM: the page's Content-Security-Policy forbids style attributes.
    else if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function ago(t) {
  if (!t) return "";
  const s = Math.max(0, (Date.now() - Date.parse(t)) / 1000);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
  return (s / 86400).toFixed(1) + " d ago";
}

function dur(ns) {
  const s = ns / 1e9;
  if (s < 1) return (s * 1000).toFixed(0) + " ms";
  if (s < 60) return s.toFixed(2) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return (s / 3600).toFixed(1) + " h";
}

function clock(t) {
  return t ? new Date(t).toLocaleTimeString() : "";
}

function badge(state) {
  return el("span", { class: "badge " + state }, state);
}

// count shows a number; -1 (unknown) shows as a dash.
function count(n) {
  return n < 0 ? "–" : String(n);
}

function progress(r) {
  const total = r.total > 0 ? r.total : r.done + r.failed + r.running + Math.max(r.queued, 0);
  const pct = (n) => (total > 0 ? (100 * n) / total : 0) + "%";
  return el("div", { class: "bar", title: `${r.done} done, ${r.failed} failed, ${r.running} running of ${count(r.total)}` },
    el("span", { class: "done", style: "width:" + pct(r.done) }),
    el("span", { class: "failed", style: "width:" + pct(r.failed) }),
    el("span", { class: "running", style: "width:" + pct(r.running) }));
}

function card(label, value, id, extra) {
  return el("div", { class: "card" },
    el("div", { class: "label" }, label),
    el("div", { class: "value", id: id }, value),
    extra ? el("div", { class: "extra" }, extra) : null);
}

function renderOverview(ov) {
  const runs = ov.runs || [], workers = ov.workers || [];
  const sum = (f) => runs.reduce((a, r) => a + Math.max(f(r), 0), 0);
  const active = runs.filter((r) => r.state === "running").length;
  const slots = workers.reduce((a, w) => a + w.slots, 0);
  const busy = workers.reduce((a, w) => a + w.busy, 0);
  const cards = el("section", { class: "cards" },
    card("Active runs", active, "ov-active", runs.length + " kept"),
    card("Queued jobs", sum((r) => (r.state === "running" ? r.queued : 0)), "ov-queued", ov.queue + " messages in the queue"),
    card("Running", sum((r) => r.running), "ov-running"),
    card("Done", sum((r) => r.done), "ov-done"),
    card("Failed", sum((r) => r.failed), "ov-failed"),
    card("Workers", workers.length, "ov-workers", busy + " of " + slots + " slots busy"));

  const runRows = runs.map((r) => el("tr", { "data-run": r.id },
    el("td", {}, el("a", { href: "#/run/" + r.id, class: "mono" }, r.id.slice(0, 10))),
    el("td", { class: "cmd", title: r.command }, r.command || "(no command recorded)"),
    el("td", {}, badge(r.state)),
    el("td", { title: r.submitted }, ago(r.submitted)),
    el("td", { class: "num" }, count(r.total)),
    el("td", { class: "num" }, count(r.queued)),
    el("td", { class: "num" }, r.running),
    el("td", { class: "num" }, r.done),
    el("td", { class: "num" }, r.failed),
    el("td", { class: "wide" }, progress(r))));
  const runTable = el("table", { id: "runs" },
    el("thead", {}, el("tr", {}, ["Run", "Command", "State", "Submitted", "Total", "Queued", "Running", "Done", "Failed", "Progress"].map((h, i) => el("th", { class: i >= 4 && i <= 8 ? "num" : null }, h)))),
    el("tbody", {}, runRows.length ? runRows : el("tr", {}, el("td", { colspan: 10, class: "muted" }, "No runs yet: crew run --server URL ..."))));

  const workerRows = workers.map((w) => el("tr", {},
    el("td", {}, w.host),
    el("td", { class: "num" }, w.slots),
    el("td", { class: "num" }, w.busy),
    el("td", { class: "wide" }, el("div", { class: "bar" }, el("span", { class: "running", style: "width:" + (w.slots ? (100 * w.busy) / w.slots : 0) + "%" }))),
    el("td", {}, (w.tags || []).map((t) => el("span", { class: "tag" }, t))),
    el("td", {}, w.version || ""),
    el("td", { title: w.last_seen }, ago(w.last_seen))));
  const workerTable = el("table", { id: "workers" },
    el("thead", {}, el("tr", {}, ["Host", "Slots", "Busy", "", "Tags", "Version", "Last heartbeat"].map((h, i) => el("th", { class: i === 1 || i === 2 ? "num" : null }, h)))),
    el("tbody", {}, workerRows.length ? workerRows : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No worker connected: crew worker --server URL"))));

  app.replaceChildren(cards,
    el("h2", {}, "Runs"), runTable,
    el("h2", {}, "Workers"), workerTable);
}

// lanes assigns each job that started to a row of the timeline: one row
// per job slot a worker was seen using, so overlapping jobs of a worker
// sit on separate rows.
function lanes(jobs, now) {
  const byWorker = new Map();
  const started = jobs.filter((j) => j.start && j.worker && j.state !== "queued");
  started.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  for (const j of started) {
    const s = Date.parse(j.start), e = j.state === "running" ? now : s + j.runtime / 1e6;
    if (!byWorker.has(j.worker)) byWorker.set(j.worker, []);
    const rows = byWorker.get(j.worker);
    // Start times come in whole milliseconds: a job that started in the
    // millisecond its slot's last job ended belongs on that row.
    let row = rows.find((r) => r.end <= s + 1);
    if (!row) { row = { end: 0, jobs: [] }; rows.push(row); }
    row.end = e;
    row.jobs.push({ job: j, s, e });
  }
  return [...byWorker.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function timeline(jobs) {
  const now = Date.now();
  const ws = lanes(jobs, now);
  if (!ws.length) return el("p", { class: "muted" }, "No job has started yet.");
  let t0 = Infinity, t1 = -Infinity, rows = 0;
  for (const [, rs] of ws) {
    rows += rs.length;
    for (const r of rs) for (const b of r.jobs) { t0 = Math.min(t0, b.s); t1 = Math.max(t1, b.e); }
  }
  const span = Math.max(t1 - t0, 1);
  const W = 1000, left = 150, rowH = 16, gap = 6, top = 22;
  const H = top + rows * rowH + ws.length * gap + 4;
  const x = (t) => left + ((t - t0) / span) * (W - left - 10);
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "timeline", id: "timeline", role: "img", "aria-label": "which worker ran which job, over time" });
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    g.append(svg("line", { x1: x(t), x2: x(t), y1: top - 4, y2: H, class: "grid" }));
    g.append(svg("text", { x: x(t), y: 12, class: "axis", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, "+" + dur((t - t0) * 1e6)));
  }
  let y = top;
  for (const [worker, rs] of ws) {
    g.append(svg("text", { x: 4, y: y + rowH - 4, class: "lane" }, worker.length > 20 ? worker.slice(0, 19) + "…" : worker));
    for (const r of rs) {
      for (const b of r.jobs) {
        const j = b.job;
        const rect = svg("rect", { x: x(b.s), y: y + 1, width: Math.max(x(b.e) - x(b.s), 1.5), height: rowH - 3, rx: 2, class: "job " + j.state, "data-seq": j.seq });
        rect.append(svg("title", {}, `#${j.seq} ${j.input} — ${j.state}, exit ${j.exit}, ${dur(j.runtime)} on ${j.worker}`));
        g.append(rect);
      }
      y += rowH;
    }
    y += gap;
    g.append(svg("line", { x1: 0, x2: W, y1: y - gap / 2, y2: y - gap / 2, class: "sep" }));
  }
  return g;
}

function renderRun(detail) {
  if (!detail || detail.error) {
    app.replaceChildren(el("p", { class: "error", id: "message" }, detail ? detail.error : "No such run."),
      el("p", {}, el("a", { href: "#/" }, "Back to the runs")));
    return;
  }
  const r = detail.run, jobs = detail.jobs || [], njobs = detail.job_count || jobs.length;
  const head = el("section", { class: "runhead" },
    el("div", {},
      el("h1", { class: "cmd", title: r.command }, r.command || "(no command recorded)"),
      el("div", { class: "muted" }, el("span", { class: "mono" }, r.id), " · submitted ", ago(r.submitted), r.host ? " from " + r.host : "",
        r.exit >= 0 ? " · exit status " + r.exit : "")),
    el("div", { class: "actions" }, badge(r.state), " ", cancelButton(r)));
  const cards = el("section", { class: "cards" },
    card("Total", count(r.total), "run-total"),
    card("Queued", count(r.queued), "run-queued"),
    card("Running", r.running, "run-running"),
    card("Done", r.done, "run-done"),
    card("Failed", r.failed, "run-failed"));
  const rows = jobs.map((j) => el("tr", { class: j.state },
    el("td", { class: "num" }, j.seq),
    el("td", { class: "cmd", title: j.command }, j.input),
    el("td", {}, badge(j.state)),
    el("td", {}, j.worker || ""),
    el("td", {}, clock(j.start)),
    el("td", { class: "num" }, j.state === "queued" ? "" : dur(j.runtime)),
    el("td", { class: "num" }, j.state === "done" || j.state === "failed" ? j.exit : ""),
    el("td", { class: "num" }, j.try > 1 ? j.try : "")));
  const more = njobs > jobs.length ? el("p", { class: "muted" }, `and ${njobs - jobs.length} more jobs (crew status ${r.id} lists them all)`) : null;
  const bars = detail.timeline || [];
  const numeric = new Set(["Seq", "Run time", "Exit", "Try"]);
  app.replaceChildren(...[head, el("div", { id: "message", class: "message" }), cards, el("div", {}, progress(r)),
    el("h2", {}, "Timeline"), bars.length < r.done + r.failed + r.running ? el("p", { class: "muted" }, `the latest ${bars.length} jobs`) : null, timeline(bars),
    el("h2", {}, "Jobs"),
    el("table", { id: "jobs" },
      el("thead", {}, el("tr", {}, ["Seq", "Input", "State", "Worker", "Start", "Run time", "Exit", "Try"].map((h) => el("th", { class: numeric.has(h) ? "num" : null }, h)))),
      el("tbody", {}, rows)), more].filter((x) => x));
}

function cancelButton(r) {
  const b = el("button", { id: "cancel", class: "danger", disabled: r.state !== "running" }, cancelArmed ? "Click again to cancel" : "Cancel run");
  b.addEventListener("click", () => {
    if (!cancelArmed) {
      cancelArmed = setTimeout(() => { cancelArmed = null; b.textContent = "Cancel run"; }, 5000);
      b.textContent = "Click again to cancel";
      return;
    }
    clearTimeout(cancelArmed);
    cancelArmed = null;
    b.disabled = true;
    cancelRun(r.id);
  });
  return b;
}

async function cancelRun(id) {
  const say = (text, cls) => {
    const m = document.getElementById("message");
    if (m) { m.textContent = text; m.className = "message " + cls; }
  };
  try {
    const resp = await fetch("api/runs/" + encodeURIComponent(id) + "/cancel", {
      method: "POST", headers: { "X-Crew-Request": "cancel" }, credentials: "same-origin",
    });
    const body = await resp.json().catch(() => ({}));
    if (resp.ok) say(`Cancelled: ${body.queued} queued jobs dropped, ${body.running} running jobs stopped.`, "ok");
    else say(body.error || resp.statusText, "error");
  } catch (e) {
    say(String(e), "error");
  }
}

function render() {
  if (view.run) renderRun(last.run);
  else if (last.overview) renderOverview(last.overview);
}

function route() {
  const m = location.hash.match(/^#\/run\/([A-Za-z0-9_-]+)/);
  view = { run: m ? m[1] : "" };
  last.run = null;
  cancelArmed = null;
  connect();
}

function connect() {
  if (source) source.close();
  source = new EventSource("api/events" + (view.run ? "?run=" + encodeURIComponent(view.run) : ""));
  source.addEventListener("update", (ev) => {
    const msg = JSON.parse(ev.data);
    live.textContent = "live";
    live.className = "live on";
    if (msg.error) { live.textContent = msg.error; live.className = "live off"; return; }
    last.overview = msg.overview;
    if (view.run) last.run = msg.run;
    render();
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
  });
}

window.addEventListener("hashchange", route);
route();
