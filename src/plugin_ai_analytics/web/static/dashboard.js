// The dashboard: an overview of every plugin (#/) and one plugin's live view (#/plugin/<id>).
// Plain ES module over the REST API; charts by the vendored uPlot. No build step, no CDN.
import { STRINGS } from "./i18n.js";

const API = "/api/plugin-ai-analytics";
const METRICS = ["cpu_percent", "memory_mb", "response_time_ms", "response_time_p95_ms", "error_rate", "request_count", "active_users"];
const LIVE_POLL_MS = 2000;
const OVERVIEW_POLL_MS = 15000;
const FORECAST_REFRESH_MS = 5 * 60 * 1000;
const MAX_POINTS = 1200;  // per chart: more than this is downsampled on the server
const OVERVIEW_PAGE = 300;
const RANGES = { "24h": 86400, "3d": 3 * 86400, "7d": 7 * 86400, "14d": 14 * 86400 };
const NICE_BUCKETS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];
const SEV_ORDER = { High: 3, Medium: 2, Low: 1 };
const HEALTH_ORDER = { critical: 3, warning: 2, ok: 1, no_data: 0 };

// ---------------------------------------------------------------------------------------------
// language

let lang = localStorage.getItem("pa-lang") || ((navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en");
if (!STRINGS[lang]) lang = "en";

function t(key, params = {}) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  for (const [k, v] of Object.entries(params)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

function applyStaticStrings() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll(".lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}

function setLanguage(next) {
  if (!STRINGS[next] || next === lang) return;
  lang = next;
  localStorage.setItem("pa-lang", lang);
  applyStaticStrings();
  route(true);
}

// ---------------------------------------------------------------------------------------------
// formatting

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// Dates, times and numbers are written the browser's way for the page's language: the first of
// the browser's languages that is the page's (en-US → 12/2/26, 6:30 PM; en-GB → 02/12/2026,
// 18:30), or the page's language alone when the browser has none of it.
function locale() {
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || lang];
  return preferred.find((l) => l.toLowerCase().split("-")[0] === lang) || lang;
}

const formats = new Map();
function dateFormat(options) {
  // Building an Intl formatter costs more than using it: one per locale and options.
  const key = locale() + JSON.stringify(options);
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(locale(), options));
  return formats.get(key);
}

function fmtNum(v, digits = 3) {
  if (v == null || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  const opts = a >= 1000 ? { maximumFractionDigits: 0 } : a >= 10 ? { maximumFractionDigits: 1 } : { maximumSignificantDigits: digits };
  return new Intl.NumberFormat(locale(), opts).format(v);
}

function fmtMetric(metric, v) {
  if (v == null) return "–";
  if (metric === "error_rate") return fmtNum(v * 100, 3) + " %";
  return fmtNum(v);
}

function fmtPct(v) { return v == null ? "–" : fmtNum(v, 3) + " %"; }

function fmtTime(iso, withDate = true) {
  if (!iso) return "–";
  const d = new Date(iso);
  return dateFormat(withDate ? { dateStyle: "short", timeStyle: "short" } : { timeStyle: "medium" }).format(d);
}

// A calendar day of the API ("2026-11-27", a UTC day).
function fmtDay(day) {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(day) : dateFormat({ dateStyle: "short", timeZone: "UTC" }).format(d);
}

// The engines write ISO stamps into their texts (explanations, evidence, steps): shown in the
// same format as every other date on the page. A stamp without a zone is UTC, as in the API.
const ISO_STAMP = /\b(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?(?!\d)/g;
function localStamps(text) {
  return String(text ?? "").replace(ISO_STAMP, (stamp, day, time, zone) => {
    if (!time) return fmtDay(day);
    const ms = Date.parse(`${day}T${time}${zone ? zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2") : "Z"}`);
    return Number.isNaN(ms) ? stamp : fmtTime(new Date(ms).toISOString());
  });
}
const escText = (v) => esc(localStamps(v));

function fmtAge(iso) {
  if (!iso) return t("fresh.never");
  const s = (Date.parse(iso) - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  const a = Math.abs(s);
  if (a < 60) return rtf.format(Math.round(s), "second");
  if (a < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (a < 86400) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

function fmtDuration(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${Math.round(seconds / 60)} min`;
}

const metricName = (m) => t(`metric.${m}`);
// The detector's kind of event, translated when known; a new kind shows as the engine names it.
const kindName = (k) => (STRINGS.en[`kind.${k}`] ? t(`kind.${k}`) : k);

// ---------------------------------------------------------------------------------------------
// HTTP

async function api(path, options = {}) {
  const early = !options.method && window.__prefetched?.[path];  // started by index.html
  if (early) delete window.__prefetched[path];
  const res = await (early || fetch(API + path, { headers: { accept: "application/json", ...(options.body ? { "content-type": "application/json" } : {}) }, ...options }));
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  return { status: res.status, ok: res.ok, body, res };
}

function errorText(r) {
  if (r.body && typeof r.body === "object") return r.body.message || r.body.detail || r.body.error || `HTTP ${r.status}`;
  return `HTTP ${r.status}`;
}

let toastTimer = null;
function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 6000);
}

function setLive(text) { document.getElementById("live").textContent = text; }

// ---------------------------------------------------------------------------------------------
// routing: #/ is the overview, #/plugin/<id> a plugin

let view = null;  // the current view object, with stop()

function route(keepState = false) {
  const hash = location.hash || "#/";
  const m = hash.match(/^#\/plugin\/([^?]+)/);
  const prev = view;
  if (prev) prev.stop();
  window.dashboard.ready = false;
  const main = document.getElementById("main");
  if (m) view = new PluginView(main, decodeURIComponent(m[1]), keepState && prev instanceof PluginView ? prev.saved() : null);
  else view = new OverviewView(main, keepState && prev instanceof OverviewView ? prev.saved() : null);
  window.dashboard.view = view;
  view.start();
}

// ---------------------------------------------------------------------------------------------
// overview

class OverviewView {
  constructor(root, saved) {
    this.root = root;
    this.rows = [];
    this.state = saved || { q: "", health: "", onlyAnomalies: false, onlyRisk: false, sort: "health", dir: -1, all: false };
    this.timer = null;
    this.loaded = false;
  }

  saved() { return this.state; }

  start() {
    this.root.innerHTML = `
      <h1>${esc(t("overview.title"))}</h1>
      <div class="cards" id="health-cards" role="group" aria-label="${esc(t("filter.health"))}"></div>
      <form class="filters" id="filters" role="search" onsubmit="return false">
        <label>${esc(t("filter.search"))}<input id="f-q" type="search" value="${esc(this.state.q)}" autocomplete="off"></label>
        <label>${esc(t("filter.health"))}<select id="f-health">
          <option value="">${esc(t("filter.any"))}</option>
          ${["critical", "warning", "ok", "no_data"].map((h) => `<option value="${h}" ${this.state.health === h ? "selected" : ""}>${esc(t("health." + h))}</option>`).join("")}
        </select></label>
        <label class="check"><span><input id="f-anom" type="checkbox" ${this.state.onlyAnomalies ? "checked" : ""}> ${esc(t("filter.anomalies"))}</span></label>
        <label class="check"><span><input id="f-risk" type="checkbox" ${this.state.onlyRisk ? "checked" : ""}> ${esc(t("filter.risk"))}</span></label>
      </form>
      <p class="muted" id="ov-summary" aria-live="polite">${esc(t("loading"))}</p>
      <div class="table-wrap"><table id="overview" aria-describedby="ov-summary">
        <thead><tr>${this.headers()}</tr></thead><tbody></tbody></table></div>
      <p id="ov-more"></p>`;
    const $ = (id) => this.root.querySelector(id);
    $("#f-q").addEventListener("input", (e) => { this.state.q = e.target.value; this.render(); });
    $("#f-health").addEventListener("change", (e) => { this.state.health = e.target.value; this.render(); });
    $("#f-anom").addEventListener("change", (e) => { this.state.onlyAnomalies = e.target.checked; this.render(); });
    $("#f-risk").addEventListener("change", (e) => { this.state.onlyRisk = e.target.checked; this.render(); });
    this.root.querySelector("thead").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-sort]");
      if (!b) return;
      const key = b.dataset.sort;
      this.state.dir = this.state.sort === key ? -this.state.dir : (key === "plugin" ? 1 : -1);
      this.state.sort = key;
      this.root.querySelector("thead tr").innerHTML = this.headers();
      this.root.querySelector(`button[data-sort="${key}"]`).focus();
      this.render();
    });
    $("#health-cards").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-health]");
      if (!b) return;
      this.state.health = this.state.health === b.dataset.health ? "" : b.dataset.health;
      $("#f-health").value = this.state.health;
      this.render();
    });
    $("#ov-more").addEventListener("click", (e) => { if (e.target.closest("button")) { this.state.all = true; this.render(); } });
    this.load();
    this.timer = setInterval(() => this.load(), OVERVIEW_POLL_MS);
  }

  stop() { clearInterval(this.timer); }

  headers() {
    const cols = [["health", "col.health"], ["plugin", "col.plugin"], ["anomalies", "col.anomalies", "num"], ["anomalies24h", "col.anomalies24h", "num"],
      ["risk", "col.risk"], ["accuracy", "col.accuracy", "num"], ["freshness", "col.freshness"], ["samples", "col.samples", "num"]];
    return cols.map(([key, label, cls]) => {
      const sorted = this.state.sort === key ? (this.state.dir > 0 ? "ascending" : "descending") : "none";
      return `<th scope="col" class="${cls || ""}" aria-sort="${sorted}"><button type="button" data-sort="${key}" aria-label="${esc(t("sort.by", { col: t(label) }))}">${esc(t(label))}</button></th>`;
    }).join("");
  }

  async load() {
    const r = await api("/dashboard/overview").catch((e) => ({ ok: false, status: 0, body: { message: String(e) } }));
    if (!r.ok) { setLive(t("live.error", { error: errorText(r) })); return; }
    this.data = r.body;
    this.rows = r.body.plugins;
    this.render();
    setLive(t("live.updated", { time: fmtTime(r.body.generated_at, false) }));
    if (!this.loaded) {
      this.loaded = true;
      performance.mark("overview-ready");
      window.dashboard.ready = true;
    }
  }

  sortValue(row) {
    switch (this.state.sort) {
      case "health": return HEALTH_ORDER[row.health] * 1e6 + (row.open_anomalies.High * 100 + row.open_anomalies.Medium * 10 + row.open_anomalies.Low);
      case "plugin": return (row.name || row.plugin_id).toLowerCase();
      case "anomalies": return row.open_anomalies.High * 1e4 + row.open_anomalies.Medium * 100 + row.open_anomalies.Low;
      case "anomalies24h": return row.anomalies_24h;
      case "risk": return { high: 3, medium: 2, none: 1 }[row.forecast.risk] || 0;
      case "accuracy": return row.accuracy.tracked_percent ?? row.accuracy.backtest_percent ?? -1;
      case "freshness": return row.last_sample ? Date.parse(row.last_sample) : 0;
      case "samples": return row.samples;
      default: return 0;
    }
  }

  render() {
    if (!this.data) return;
    const s = this.state;
    const q = s.q.trim().toLowerCase();
    let rows = this.rows.filter((r) =>
      (!q || r.plugin_id.toLowerCase().includes(q) || (r.name || "").toLowerCase().includes(q)) &&
      (!s.health || r.health === s.health) &&
      (!s.onlyAnomalies || r.open_anomalies.High + r.open_anomalies.Medium + r.open_anomalies.Low > 0) &&
      (!s.onlyRisk || r.forecast.risk === "high" || r.forecast.risk === "medium"));
    rows = rows.map((r) => [this.sortValue(r), r]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1].plugin_id.localeCompare(b[1].plugin_id) * s.dir) * s.dir).map((x) => x[1]);
    const counts = this.data.health_counts || {};
    this.root.querySelector("#health-cards").innerHTML = ["critical", "warning", "ok", "no_data"].map((h) =>
      `<button type="button" class="card" data-health="${h}" aria-pressed="${s.health === h}"><span class="badge h-${h}">${esc(t("health." + h))}</span><strong>${counts[h] || 0}</strong></button>`).join("");
    const focused = document.activeElement?.dataset?.plugin;
    const shown = s.all ? rows : rows.slice(0, OVERVIEW_PAGE);
    const tbody = this.root.querySelector("tbody");
    tbody.innerHTML = shown.map((r) => this.rowHtml(r)).join("") ||
      `<tr><td colspan="8" class="muted">${esc(t(this.rows.length ? "overview.nomatch" : "overview.empty"))}</td></tr>`;
    if (focused) tbody.querySelector(`a[data-plugin="${CSS.escape(focused)}"]`)?.focus();
    this.root.querySelector("#ov-summary").textContent = t("overview.summary", { n: this.rows.length, time: fmtTime(this.data.generated_at, false) }) +
      (rows.length !== this.rows.length || shown.length < rows.length ? " · " + t("overview.showing", { shown: shown.length, total: rows.length }) : "");
    this.root.querySelector("#ov-more").innerHTML = shown.length < rows.length ? `<button type="button" class="secondary">${esc(t("overview.showall", { n: rows.length }))}</button>` : "";
  }

  rowHtml(r) {
    const a = r.open_anomalies;
    const sev = (k) => `<span class="sev ${a[k] ? "sev-" + k : "zero"}" title="${esc(t("severity." + k))}">${a[k]}</span>`;
    const reasons = r.reasons.map((x) => t("reason." + x)).join(", ");
    const risk = r.forecast.risk == null ? `<span class="faint">${esc(t("risk.unknown"))}</span>` :
      r.forecast.risk === "none" ? `<span class="muted">${esc(t("risk.none"))}</span>` :
      `<span class="badge ${r.forecast.risk === "high" ? "h-critical" : "h-warning"}">${esc(t("risk." + r.forecast.risk))}</span> <span class="mini">${esc(r.forecast.risks.map(riskText).join("; "))}</span>`;
    const acc = r.accuracy.tracked_percent != null ? t("acc.tracked", { value: fmtPct(r.accuracy.tracked_percent) }) :
      r.accuracy.backtest_percent != null ? t("acc.backtest", { value: fmtPct(r.accuracy.backtest_percent) }) : t("acc.none");
    const href = `#/plugin/${encodeURIComponent(r.plugin_id)}`;
    return `<tr data-plugin="${esc(r.plugin_id)}">
      <td><span class="badge h-${r.health}">${esc(t("health." + r.health))}</span>${reasons ? `<div class="mini muted">${esc(reasons)}</div>` : ""}</td>
      <td><a class="plugin-name" href="${href}" data-plugin="${esc(r.plugin_id)}">${esc(r.name || r.plugin_id)}</a><div class="plugin-id">${esc(r.plugin_id)}</div></td>
      <td class="num">${sev("High")} ${sev("Medium")} ${sev("Low")}</td>
      <td class="num">${r.anomalies_24h}</td>
      <td>${risk}</td>
      <td class="num">${esc(acc)}</td>
      <td>${esc(fmtAge(r.last_sample))}${r.stale ? ` <span class="badge h-warning">${esc(t("fresh.stale"))}</span>` : ""}</td>
      <td class="num">${fmtNum(r.samples)}</td></tr>`;
  }
}

function riskText(r) {
  const metric = metricName(r.metric);
  if (r.kind === "rising") return t("risk.rising", { metric, from: fmtMetric(r.metric, r.from_value), to: fmtMetric(r.metric, r.value) });
  const p = { metric, value: fmtMetric(r.metric, r.value), limit: fmtMetric(r.metric, r.limit), time: fmtTime(r.at) };
  return t(r.at ? "risk.limit.at" : "risk.limit", p);
}

// ---------------------------------------------------------------------------------------------
// one plugin

class PluginView {
  constructor(root, pluginId, saved) {
    this.root = root;
    this.id = pluginId;
    this.range = saved?.range || "3d";
    this.charts = {};       // metric → {u, el, ...}
    this.actual = {};       // metric → {t: [sec], v: []}
    this.forecast = null;   // metric → [{t, value, lower_80, ...}]
    this.anomalies = [];
    this.lastTs = null;     // ms of the newest sample shown
    this.timers = [];
    this.stopped = false;
    this.selected = null;
  }

  saved() { return { range: this.range }; }

  stop() {
    this.stopped = true;
    this.timers.forEach(clearInterval);
    for (const c of Object.values(this.charts)) c.u.destroy();
    window.removeEventListener("resize", this.onResize);
  }

  async start() {
    const enc = encodeURIComponent(this.id);
    this.enc = enc;
    const [plugin, health] = await Promise.all([api(`/plugins/${enc}`), api(`/dashboard/plugins/${enc}`)]);
    if (this.stopped) return;
    if (!plugin.ok) {
      this.root.innerHTML = `<p><a href="#/">${esc(t("plugin.back"))}</a></p><p class="notice warn" role="alert">${esc(plugin.status === 404 ? t("error.notfound", { id: this.id }) : t("error.generic", { error: errorText(plugin) }))}</p>`;
      return;
    }
    this.plugin = plugin.body;
    this.health = health.ok ? health.body : null;
    this.lastTs = this.plugin.last_sample ? Date.parse(this.plugin.last_sample) : null;
    this.renderShell();
    // Ask for the overlays now, in parallel with the history; draw them once the charts stand.
    const hasModels = Object.keys(this.health?.models || {}).length > 0;
    const forecast = hasModels ? api(`/predict/${this.enc}`) : null;
    const anomalies = this.fetchAnomalies();
    await this.loadHistory();
    if (this.stopped) return;
    this.drawCharts();
    performance.mark("plugin-ready");
    window.dashboard.ready = true;
    this.loadForecast(forecast);
    this.loadAnomalies(anomalies);
    this.loadSuggestions(false);
    this.loadAccuracy();
    this.loadTrends();
    this.timers.push(setInterval(() => this.poll(), LIVE_POLL_MS));
    setLive(t("live.on", { s: LIVE_POLL_MS / 1000 }));
    this.onResize = debounce(() => this.resize(), 150);
    window.addEventListener("resize", this.onResize);
  }

  renderShell() {
    const p = this.plugin;
    const h = this.health;
    this.root.innerHTML = `
      <p><a href="#/">${esc(t("plugin.back"))}</a></p>
      <div class="plugin-head">
        <h1>${esc(p.name || p.plugin_id)}</h1>
        <span class="plugin-id">${esc(p.plugin_id)}</span>
        ${h ? `<span class="badge h-${h.health}">${esc(t("health." + h.health))}</span>` : ""}
        <span class="muted" id="p-last">${esc(t("plugin.last", { time: fmtAge(p.last_sample) }))}</span>
        <span class="muted" id="p-samples">${esc(t("plugin.samples", { n: fmtNum(p.samples), time: fmtTime(p.first_sample) }))}</span>
        <span class="muted" id="p-detector"></span>
      </div>
      ${p.description ? `<p class="muted">${esc(p.description)}</p>` : ""}
      <div class="actions">
        <button type="button" id="btn-train">${esc(t("btn.train"))}</button>
        <button type="button" id="btn-detect" class="secondary">${esc(t("btn.detect"))}</button>
        <button type="button" id="btn-suggest" class="secondary">${esc(t("btn.suggest"))}</button>
        <button type="button" id="btn-export" class="secondary">${esc(t("btn.export"))}</button>
        <span id="action-status" class="muted" role="status" aria-live="polite"></span>
      </div>
      <div class="layout">
        <section aria-labelledby="charts-h">
          <div class="actions">
            <h2 id="charts-h" style="margin:0">${esc(t("charts.title"))}</h2>
            <div class="range" role="group" aria-label="${esc(t("range.label"))}">
              ${Object.keys(RANGES).map((k) => `<button type="button" data-range="${k}" aria-pressed="${k === this.range}">${esc(t("range." + k))}</button>`).join("")}
            </div>
            <span id="resolution" class="muted mini"></span>
          </div>
          <div class="legend" aria-hidden="true">
            <span><i class="k-actual"></i>${esc(t("legend.actual"))}</span><span><i class="k-forecast"></i>${esc(t("legend.forecast"))}</span>
            <span><i class="k-b80"></i>${esc(t("legend.b80"))}</span><span><i class="k-b95"></i>${esc(t("legend.b95"))}</span>
            <span><i class="k-anom"></i>${esc(t("legend.anomaly"))}</span>
          </div>
          <div id="forecast-note" class="notice" hidden></div>
          <div class="charts" id="charts"></div>
          <section class="panel" aria-labelledby="trend-h" style="margin-top:1rem"><h2 id="trend-h">${esc(t("trend.title"))}</h2><div id="trends" class="table-wrap">${esc(t("loading"))}</div></section>
        </section>
        <div class="side">
          <section class="panel" aria-labelledby="anom-h"><h2 id="anom-h">${esc(t("anomalies.title"))}</h2><div id="anomalies">${esc(t("loading"))}</div></section>
          <section class="panel" aria-labelledby="sugg-h"><h2 id="sugg-h">${esc(t("suggestions.title"))}</h2><div id="suggestions">${esc(t("loading"))}</div></section>
          <section class="panel" aria-labelledby="acc-h"><h2 id="acc-h">${esc(t("accuracy.title"))}</h2><div id="accuracy">${esc(t("loading"))}</div></section>
        </div>
      </div>`;
    const $ = (s) => this.root.querySelector(s);
    $("#btn-train").addEventListener("click", () => this.train());
    $("#btn-detect").addEventListener("click", () => this.runDetection(true));
    $("#btn-suggest").addEventListener("click", () => this.loadSuggestions(true));
    $("#btn-export").addEventListener("click", () => this.exportData());
    this.root.querySelector(".range").addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-range]");
      if (!b || b.dataset.range === this.range) return;
      this.range = b.dataset.range;
      for (const x of this.root.querySelectorAll(".range button")) x.setAttribute("aria-pressed", String(x.dataset.range === this.range));
      const started = performance.now();
      await this.loadHistory();
      this.drawCharts();
      performance.measure(`range-${this.range}`, { start: started, end: performance.now() });
      this.loadAnomalies();
    });
    $("#anomalies").addEventListener("click", (e) => this.onFeedback(e));
  }

  // -- data ------------------------------------------------------------------------------------

  window() {
    const span = RANGES[this.range];
    const now = Date.now();
    const end = this.lastTs && now - this.lastTs > span * 1000 ? this.lastTs + 1 : now + 60_000;
    return { from: end - span * 1000, to: end, span };
  }

  resolutionFor(span) {
    const interval = this.plugin.interval_seconds || 60;
    if (span / interval <= MAX_POINTS) return null;
    const want = span / MAX_POINTS;
    return NICE_BUCKETS.find((b) => b >= want && b >= interval) || NICE_BUCKETS[NICE_BUCKETS.length - 1];
  }

  async loadHistory() {
    const w = this.window();
    // Bucket by the span the data really covers in the window: a young plugin stays raw.
    const first = this.plugin.first_sample ? Date.parse(this.plugin.first_sample) : w.from;
    const res = this.resolutionFor(Math.min(w.span, Math.max(0, (w.to - Math.max(first, w.from)) / 1000)));
    this.resolution = res;
    const q = new URLSearchParams({ from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString(), limit: "10000", resolution: res ? `${res}s` : "raw" });
    const r = await api(`/metrics-history/${this.enc}?${q}`);
    this.actual = {};
    for (const m of METRICS) this.actual[m] = { t: [], v: [] };
    if (!r.ok) { toast(t("error.generic", { error: errorText(r) })); return; }
    for (const s of r.body.samples) this.addSample(s);
    this.root.querySelector("#resolution").textContent = res ? t("resolution.bucket", { res: fmtDuration(res) }) : t("resolution.raw");
  }

  addSample(s) {
    const ts = Date.parse(s.timestamp);
    for (const m of METRICS) {
      if (s[m] == null) continue;
      const a = this.actual[m];
      if (a.t.length && a.t[a.t.length - 1] >= ts / 1000) continue;
      a.t.push(ts / 1000);
      a.v.push(s[m]);
    }
    if (this.lastTs == null || ts > this.lastTs) this.lastTs = ts;
  }

  chartMetrics() {
    return METRICS.filter((m) => this.actual[m]?.t.length || this.forecast?.[m]?.length);
  }

  async poll() {
    if (document.hidden || this.stopped || this.polling) return;
    this.polling = true;
    try {
      const from = new Date((this.lastTs ?? Date.now() - 3600_000) + 1).toISOString();
      const r = await api(`/metrics-history/${this.enc}?${new URLSearchParams({ from, resolution: "raw", limit: "1000" })}`);
      if (!r.ok) { setLive(t("live.error", { error: errorText(r) })); return; }
      setLive(t("live.on", { s: LIVE_POLL_MS / 1000 }) + " · " + t("live.updated", { time: fmtTime(new Date().toISOString(), false) }));
      if (!r.body.samples.length) return;
      const before = this.chartMetrics().join();
      for (const s of r.body.samples) this.addSample(s);
      if (this.chartMetrics().join() !== before) this.drawCharts();
      else this.updateCharts();
      this.root.querySelector("#p-last").textContent = t("plugin.last", { time: fmtAge(new Date(this.lastTs).toISOString()) });
      // The detector scores samples as they arrive, in the background: look again shortly.
      clearTimeout(this.anomalyTimer);
      this.anomalyTimer = setTimeout(() => this.loadAnomalies(), 1500);
      // New actuals make a newer forecast (the service re-forecasts on request); every 5 min.
      if (this.forecast && Date.now() - (this.forecastAt || 0) > FORECAST_REFRESH_MS) this.loadForecast();
    } catch (e) {
      setLive(t("live.error", { error: String(e) }));
    } finally {
      this.polling = false;
    }
  }

  async loadForecast(request = undefined) {
    const note = this.root.querySelector("#forecast-note");
    const models = this.health?.models || {};
    if (!Object.keys(models).length) {
      note.hidden = false;
      note.textContent = t("forecast.none");
      return;
    }
    const r = await (request || api(`/predict/${this.enc}`));
    if (this.stopped) return;
    if (r.status === 409) {
      note.hidden = false;
      note.className = "notice warn";
      note.textContent = t("forecast.insufficient", { needed: r.body?.needed_hours ?? "?" });
      return;
    }
    if (!r.ok) {
      note.hidden = false;
      note.className = "notice warn";
      note.textContent = t("forecast.error", { error: errorText(r) });
      return;
    }
    this.forecast = {};
    this.forecastAt = Date.now();
    for (const [m, f] of Object.entries(r.body.metrics || {})) {
      if (f.forecast) this.forecast[m] = f.forecast.map((p) => ({ ...p, t: Date.parse(p.timestamp) / 1000 }));
    }
    note.hidden = false;
    note.className = "notice";
    note.textContent = t("forecast.made", { time: fmtTime(r.body.made_at), hours: r.body.horizon_hours });
    this.redrawCharts();
    this.renderTrends();
    markOnce("plugin-forecast");
  }

  fetchAnomalies() {
    const w = this.window();
    return api(`/anomalies-history/${this.enc}?${new URLSearchParams({ from: new Date(w.from).toISOString(), limit: "500" })}`);
  }

  async loadAnomalies(request = undefined) {
    const r = await (request || this.fetchAnomalies());
    if (this.stopped) return;
    const box = this.root.querySelector("#anomalies");
    if (!r.ok) { box.textContent = t("error.generic", { error: errorText(r) }); return; }
    this.anomalies = r.body.anomalies.map((a) => ({ ...a, t0: Date.parse(a.start) / 1000, t1: Date.parse(a.end || a.start) / 1000 }));
    for (const c of Object.values(this.charts)) c.u.redraw(false, false);
    this.renderAnomalies();
    markOnce("plugin-anomalies");
  }

  renderAnomalies() {
    const box = this.root.querySelector("#anomalies");
    if (!this.anomalies.length) { box.innerHTML = `<p class="muted">${esc(t("anomalies.none"))}</p>`; return; }
    box.innerHTML = `<ul class="anomalies">${this.anomalies.map((a) => `
      <li id="anomaly-${esc(a.event_id)}" data-event="${esc(a.event_id)}" tabindex="-1" class="${this.selected === a.event_id ? "selected" : ""}">
        <span class="sev sev-${esc(a.severity)}">${esc(t("severity." + a.severity))}</span>
        <strong>${esc(kindName(a.kind))}</strong> · ${esc(a.metrics.map(metricName).join(", "))}
        · <span class="muted">${esc(t("anomalies.state." + a.state))}</span>
        <div class="mini muted">${esc(t("anomalies.since", { start: fmtTime(a.start), end: a.state === "open" ? t("anomalies.ongoing") : fmtTime(a.end) }))}</div>
        ${a.explanation ? `<p>${escText(a.explanation)}</p>` : ""}
        ${a.diagnosis ? `<p><em>${escText(a.diagnosis)}</em></p>` : ""}
        ${a.recommended_actions?.length ? `<div class="mini"><strong>${esc(t("anomalies.actions"))}</strong><ol>${a.recommended_actions.map((x) => `<li>${escText(x)}</li>`).join("")}</ol></div>` : ""}
        <div class="actions">${a.feedback ? `<span class="muted mini">${esc(t("anomalies.feedback", { label: t(a.feedback === "false_alarm" ? "btn.false_alarm" : "btn.confirm") }))}</span>` : `
          <button type="button" class="secondary" data-feedback="false_alarm">${esc(t("btn.false_alarm"))}</button>
          <button type="button" class="secondary" data-feedback="confirmed">${esc(t("btn.confirm"))}</button>`}</div>
      </li>`).join("")}</ul>`;
  }

  async onFeedback(e) {
    const b = e.target.closest("button[data-feedback]");
    if (!b) return;
    const id = b.closest("li[data-event]").dataset.event;
    b.disabled = true;
    const r = await api(`/anomalies/${this.enc}/${encodeURIComponent(id)}/feedback`, { method: "POST", body: JSON.stringify({ label: b.dataset.feedback }) });
    if (!r.ok) toast(t("error.generic", { error: errorText(r) }));
    await this.loadAnomalies();
  }

  selectAnomaly(id) {
    this.selected = id;
    this.renderAnomalies();
    const li = this.root.querySelector(`#anomaly-${CSS.escape(id)}`);
    if (li) { li.scrollIntoView({ block: "nearest" }); li.focus(); }
  }

  async runDetection(userAsked) {
    const btn = this.root.querySelector("#btn-detect");
    if (userAsked) btn.disabled = true;
    const r = await api(`/detect-anomalies/${this.enc}`);
    if (this.stopped) return;
    btn.disabled = false;
    if (!r.ok) { if (userAsked) toast(t("error.generic", { error: errorText(r) })); return; }
    this.root.querySelector("#p-detector").textContent = t("plugin.detector", { status: r.body.status });
    if (userAsked) {
      this.root.querySelector("#action-status").textContent = t("detect.done", { status: r.body.status });
      this.loadAnomalies();
    }
  }

  async train() {
    const btn = this.root.querySelector("#btn-train");
    const status = this.root.querySelector("#action-status");
    btn.disabled = true;
    status.textContent = t("train.queued");
    const r = await api(`/train-models/${this.enc}`, { method: "POST" });
    if (!r.ok) { status.textContent = t("train.failed", { error: errorText(r) }); btn.disabled = false; return; }
    const jobId = r.body.job_id;
    for (;;) {
      await sleep(700);
      if (this.stopped) return;
      const j = await api(`/jobs/${encodeURIComponent(jobId)}`);
      if (!j.ok) { status.textContent = t("train.failed", { error: errorText(j) }); break; }
      if (j.body.status === "succeeded") {
        status.textContent = t("train.done", { metrics: Object.keys(j.body.result?.trained || {}).map(metricName).join(", ") });
        const h = await api(`/dashboard/plugins/${this.enc}`);
        if (h.ok) this.health = h.body;
        await this.loadForecast();
        this.loadAccuracy();
        break;
      }
      if (j.body.status === "failed") { status.textContent = t("train.failed", { error: j.body.error }); break; }
      status.textContent = t("train.progress", { p: Math.round(100 * (j.body.progress || 0)) });
    }
    btn.disabled = false;
  }

  async exportData() {
    const status = this.root.querySelector("#action-status");
    const r = await fetch(`${API}/export-data/${this.enc}?format=csv`);
    const csv = `${API}/metrics-history/${this.enc}?${new URLSearchParams({ format: "csv", resolution: "raw", limit: "10000", from: new Date(this.window().from).toISOString() })}`;
    if (r.ok) {
      const blob = await r.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      const named = /filename="?([^";]+)"?/.exec(r.headers.get("content-disposition") || "");
      a.download = named ? named[1] : `${this.id}-export.csv`;
      a.click();
      status.textContent = t("export.done");
      return;
    }
    status.innerHTML = `${esc(r.status === 501 ? t("export.unavailable") : t("error.generic", { error: `HTTP ${r.status}` }))} <a href="${esc(csv)}" download>${esc(t("export.csv"))}</a>`;
  }

  async loadSuggestions(generate) {
    const box = this.root.querySelector("#suggestions");
    const btn = this.root.querySelector("#btn-suggest");
    if (generate) btn.disabled = true;
    const r = await api(generate ? `/optimization-suggestions/${this.enc}` : `/suggestions-history/${this.enc}`);
    if (this.stopped) return;
    btn.disabled = false;
    if (r.status === 501) { box.innerHTML = `<p class="notice">${esc(t("suggestions.unavailable"))}</p>`; return; }
    if (!r.ok) { box.innerHTML = `<p class="notice warn">${esc(t("error.generic", { error: errorText(r) }))}</p>`; return; }
    const list = Array.isArray(r.body) ? r.body : (r.body?.suggestions || r.body?.items || []);
    // Analyses that could not run say why (e.g. too little history): shown, not hidden.
    const skipped = (r.body?.not_analysed || []).map((n) => `<li><strong>${esc(n.analysis)}</strong>: ${escText(n.reason)}</li>`).join("");
    const notes = skipped ? `<details class="mini"><summary>${esc(t("suggestions.skipped"))}</summary><ul>${skipped}</ul></details>` : "";
    if (!list.length) { box.innerHTML = `<p class="muted">${esc(t(generate ? "suggestions.empty" : "suggestions.none"))}</p>${notes}`; return; }
    box.innerHTML = list.map(suggestionHtml).join("") + notes;
  }

  async loadAccuracy() {
    const box = this.root.querySelector("#accuracy");
    const r = await api(`/forecast-accuracy/${this.enc}?days=7`);
    if (this.stopped) return;
    const tracked = r.ok ? r.body.metrics || {} : {};
    const models = this.health?.models || {};
    const metrics = METRICS.filter((m) => models[m] || tracked[m]);
    if (!metrics.length) { box.innerHTML = `<p class="muted">${esc(t("accuracy.none"))}</p>`; return; }
    const daily = this.health?.accuracy_daily || {};
    box.innerHTML = `<div class="table-wrap"><table class="mini">
      <thead><tr><th>${esc(t("accuracy.metric"))}</th><th>${esc(t("accuracy.model"))}</th><th class="num">${esc(t("accuracy.backtest"))}</th>
      <th class="num">${esc(t("accuracy.tracked"))}</th><th class="num">${esc(t("accuracy.mase"))}</th><th class="num">${esc(t("accuracy.coverage"))}</th></tr></thead>
      <tbody>${metrics.map((m) => {
        const mo = models[m] || {}; const tr = tracked[m];
        const cov = tr ? `${fmtPct(100 * tr.coverage_80)} / ${fmtPct(100 * tr.coverage_95)}` : mo.backtest ? `${fmtPct(100 * mo.backtest.coverage_80)} / ${fmtPct(100 * mo.backtest.coverage_95)}` : "–";
        return `<tr><td>${esc(metricName(m))}</td><td>${esc(mo.model || "–")}</td><td class="num">${fmtPct(mo.backtest?.accuracy)}</td>
          <td class="num">${tr ? fmtPct(tr.accuracy_percent) + ` <span class="faint">(${tr.scored_predictions})</span>` : `<span class="faint">${esc(t("accuracy.unscored"))}</span>`}</td>
          <td class="num">${fmtNum(tr?.mase ?? mo.backtest?.mase)}</td><td class="num">${cov}</td></tr>`;
      }).join("")}</tbody></table></div>
      ${Object.keys(daily).length ? `<h3>${esc(t("accuracy.daily"))}</h3>${Object.entries(daily).map(([m, days]) => `<div class="mini">${esc(metricName(m))}:
        <span class="bars" role="img" aria-label="${esc(days.map((d) => `${fmtDay(d.day)} ${fmtPct(d.accuracy_percent)}`).join(", "))}">${days.map((d) =>
          `<span title="${esc(fmtDay(d.day))}: ${fmtPct(d.accuracy_percent)}" style="height:${Math.max(2, Math.min(100, d.accuracy_percent ?? 0)) * 0.28}px"></span>`).join("")}</span></div>`).join("")}` : ""}
      <p class="mini muted">${esc(t("accuracy.explain"))}</p>`;
  }

  async loadTrends() {
    // The 7-day slope and the daily peak are the API's (analytics-summary: Theil-Sen on hourly
    // means, hour-of-day profile): one definition, the same figure wherever it is read.
    const from = new Date(Date.now() - 14 * 86400_000).toISOString();
    const [r, summary] = await Promise.all([
      api(`/metrics-history/${this.enc}?${new URLSearchParams({ from, resolution: "1h", limit: "1000" })}`),
      api(`/analytics-summary/${this.enc}`),
    ]);
    if (this.stopped) return;
    this.hourly = r.ok ? r.body.samples : [];
    this.trends = summary.ok ? summary.body.trends || {} : {};
    this.renderTrends();
  }

  renderTrends() {
    const box = this.root.querySelector("#trends");
    if (!this.hourly) return;
    const rows = [];
    for (const m of METRICS) {
      const pts = this.hourly.filter((s) => s[m] != null).map((s) => [Date.parse(s.timestamp), s[m]]);
      if (pts.length < 2) continue;
      const end = pts[pts.length - 1][0];
      const mean = (a) => (a.length ? a.reduce((x, y) => x + y[1], 0) / a.length : null);
      const day = mean(pts.filter((p) => p[0] > end - 86400_000));
      const prev = mean(pts.filter((p) => p[0] <= end - 86400_000 && p[0] > end - 2 * 86400_000));
      const slope = this.trends?.[m]?.slope_per_day;
      const peak = this.trends?.[m]?.daily_pattern?.peak_hour_utc;
      const last = this.actual[m]?.v.length ? this.actual[m].v[this.actual[m].v.length - 1] : pts[pts.length - 1][1];
      const f = this.forecast?.[m];
      const change = prev ? (day - prev) / Math.abs(prev) * 100 : null;
      rows.push(`<tr><td>${esc(metricName(m))}</td><td class="num">${fmtMetric(m, last)}</td><td class="num">${fmtMetric(m, day)}</td>
        <td class="num ${change > 0 ? "up" : change < 0 ? "down" : ""}">${change == null ? "–" : (change > 0 ? "+" : "") + fmtNum(change, 2) + " %"}</td>
        <td class="num">${slope == null ? "–" : (slope > 0 ? "+" : "") + fmtMetric(m, slope)}</td>
        <td class="num">${peak == null ? "–" : `${String(peak).padStart(2, "0")}:00`}</td>
        <td class="num">${f?.length ? `${fmtMetric(m, f[0].value)} → ${fmtMetric(m, f[f.length - 1].value)} (≤ ${fmtMetric(m, Math.max(...f.map((p) => p.upper_95)))})` : "–"}</td></tr>`);
    }
    box.innerHTML = rows.length ? `<table class="mini"><thead><tr><th>${esc(t("trend.metric"))}</th><th class="num">${esc(t("trend.now"))}</th><th class="num">${esc(t("trend.day"))}</th>
      <th class="num">${esc(t("trend.change"))}</th><th class="num" title="${esc(t("trend.slope.explain"))}">${esc(t("trend.slope"))}</th><th class="num">${esc(t("trend.peak"))}</th><th class="num">${esc(t("trend.next"))}</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table>` : `<p class="muted">${esc(t("trend.none"))}</p>`;
  }

  // -- charts ----------------------------------------------------------------------------------

  chartData(m) {
    const a = this.actual[m] || { t: [], v: [] };
    const f = this.forecast?.[m] || [];
    const xs = new Map();
    a.t.forEach((x, i) => xs.set(x, [a.v[i], null, null, null, null, null]));
    for (const p of f) {
      const row = xs.get(p.t) || [null, null, null, null, null, null];
      row[1] = p.value; row[2] = p.lower_95; row[3] = p.upper_95; row[4] = p.lower_80; row[5] = p.upper_80;
      xs.set(p.t, row);
    }
    const keys = [...xs.keys()].sort((x, y) => x - y);
    const cols = [keys, [], [], [], [], [], []];
    for (const k of keys) { const row = xs.get(k); for (let i = 0; i < 6; i++) cols[i + 1].push(row[i]); }
    return cols;
  }

  drawCharts() {
    const box = this.root.querySelector("#charts");
    if (!box) return;
    for (const c of Object.values(this.charts)) c.u.destroy();
    this.charts = {};
    const metrics = this.chartMetrics();
    if (!metrics.length) { box.innerHTML = `<p class="muted">${esc(t("charts.nodata"))}</p>`; return; }
    box.innerHTML = metrics.map((m) => `<figure class="chart" id="chart-${m}" data-metric="${m}">
      <figcaption><span>${esc(metricName(m))} <span class="faint">(${esc(t("unit." + m))})</span></span><span class="mini muted" data-last></span></figcaption>
      <div class="plot" role="img" aria-label="${esc(metricName(m))}"></div></figure>`).join("");
    for (const m of metrics) {
      const fig = box.querySelector(`#chart-${m}`);
      const plot = fig.querySelector(".plot");
      const u = new uPlot(this.chartOptions(m, plot.clientWidth || 560), this.chartData(m), plot);
      this.charts[m] = { u, fig };
      this.describe(m);
    }
  }

  redrawCharts() {
    // New data for the same charts: feed them; only a new metric needs the charts rebuilt.
    if (this.chartMetrics().join() === Object.keys(this.charts).join()) this.updateCharts();
    else this.drawCharts();
  }

  updateCharts() {
    for (const [m, c] of Object.entries(this.charts)) { c.u.setData(this.chartData(m)); this.describe(m); }
  }

  describe(m) {
    // What the chart shows, as attributes: for screen readers (the label) and for tests.
    const c = this.charts[m];
    const d = c.u.data;
    const count = (i) => d[i].reduce((n, v) => n + (v != null ? 1 : 0), 0);
    const a = this.actual[m];
    const last = a.v.length ? a.v[a.v.length - 1] : null;
    c.fig.dataset.points = String(count(1));
    c.fig.dataset.forecastPoints = String(count(2));
    c.fig.dataset.band80 = String(count(5) && count(6));
    c.fig.dataset.band95 = String(count(3) && count(4));
    c.fig.dataset.lastTs = a.t.length ? new Date(a.t[a.t.length - 1] * 1000).toISOString() : "";
    c.fig.dataset.anomalies = String(this.anomaliesFor(m).length);
    c.fig.querySelector("[data-last]").textContent = last == null ? "" : `${fmtMetric(m, last)} · ${fmtTime(c.fig.dataset.lastTs)}`;
    c.fig.querySelector(".plot").setAttribute("aria-label", `${metricName(m)}: ${last == null ? "" : fmtMetric(m, last)}`);
  }

  anomaliesFor(m) {
    return this.anomalies.filter((a) => !a.metrics.length || a.metrics.includes(m));
  }

  chartOptions(m, width) {
    const view = this;
    const fmt = (u, vals) => vals.map((v) => (v == null ? "" : fmtMetric(m, v)));
    const band = (label) => ({ label: t(label), stroke: "rgba(124,58,237,0.35)", width: 0, points: { show: false }, value: (u, v) => (v == null ? "–" : fmtMetric(m, v)) });
    return {
      width, height: 230,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => axisRange(m, min, max) } },
      legend: { live: true },
      series: [
        { label: t("legend.time"), value: (u, v) => (v == null ? "–" : fmtTime(new Date(v * 1000).toISOString())) },
        { label: t("legend.actual"), stroke: "#1f2937", width: 1.5, spanGaps: true, points: { show: false }, value: (u, v) => (v == null ? "–" : fmtMetric(m, v)) },
        { label: t("legend.forecast"), stroke: "#7c3aed", width: 2, dash: [6, 4], spanGaps: true, points: { show: false }, value: (u, v) => (v == null ? "–" : fmtMetric(m, v)) },
        band("series.lo95"), band("series.hi95"), band("series.lo80"), band("series.hi80"),
      ],
      bands: [
        { series: [4, 3], fill: "rgba(124,58,237,0.14)" },
        { series: [6, 5], fill: "rgba(124,58,237,0.32)" },
      ],
      axes: [{ stroke: "#374151", grid: { stroke: "#e5e7eb" }, values: timeTicks, space: 60 }, { stroke: "#374151", grid: { stroke: "#e5e7eb" }, values: fmt, size: 70 }],
      hooks: {
        drawClear: [(u) => view.shadeAnomalies(u, m)],
        draw: [(u) => view.placeMarkers(u, m)],
      },
    };
  }

  shadeAnomalies(u, m) {
    const ctx = u.ctx;
    const { top, height } = u.bbox;
    const [x0, x1] = [u.scales.x.min, u.scales.x.max];
    const colors = { High: "rgba(185,28,28,0.22)", Medium: "rgba(180,83,9,0.20)", Low: "rgba(30,64,175,0.16)" };
    ctx.save();
    for (const a of this.anomaliesFor(m)) {
      if (a.t1 < x0 || a.t0 > x1) continue;
      const l = u.valToPos(Math.max(a.t0, x0), "x", true);
      const r = u.valToPos(Math.min(a.t1, x1), "x", true);
      ctx.fillStyle = colors[a.severity] || colors.Low;
      ctx.fillRect(l, top, Math.max(r - l, 3 * devicePixelRatio), height);
    }
    ctx.restore();
  }

  placeMarkers(u, m) {
    let layer = u.over.querySelector(".markers");
    if (!layer) { layer = document.createElement("div"); layer.className = "markers"; u.over.appendChild(layer); }
    const [x0, x1] = [u.scales.x.min, u.scales.x.max];
    const shown = this.anomaliesFor(m).filter((a) => a.t1 >= x0 && a.t0 <= x1).sort((a, b) => SEV_ORDER[b.severity] - SEV_ORDER[a.severity]).slice(0, 60);
    layer.innerHTML = shown.map((a) => `<button type="button" class="anomaly-marker sev-${esc(a.severity)}" data-event="${esc(a.event_id)}"
      style="left:${u.valToPos(Math.max(a.t0, x0), "x")}px" aria-label="${esc(t("anomalies.marker", { severity: t("severity." + a.severity), kind: kindName(a.kind), time: fmtTime(a.start) }))}"
      title="${esc(t("anomalies.marker", { severity: t("severity." + a.severity), kind: kindName(a.kind), time: fmtTime(a.start) }))}"></button>`).join("");
    if (!layer.dataset.bound) {
      layer.dataset.bound = "1";
      layer.addEventListener("click", (e) => { const b = e.target.closest("button[data-event]"); if (b) this.selectAnomaly(b.dataset.event); });
      layer.addEventListener("mousedown", (e) => e.stopPropagation());
    }
    const c = this.charts[m];
    if (c) c.fig.dataset.anomalies = String(this.anomaliesFor(m).length);
  }

  resize() {
    for (const c of Object.values(this.charts)) {
      const w = c.fig.querySelector(".plot").clientWidth;
      if (w && Math.abs(w - c.u.width) > 2) c.u.setSize({ width: w, height: 230 });
    }
  }
}

function suggestionHtml(s) {
  const evidence = s.evidence;
  let ev = "";
  if (typeof evidence === "string") ev = `<p>${escText(evidence)}</p>`;
  else if (Array.isArray(evidence)) ev = `<ul>${evidence.map((x) => `<li>${escText(typeof x === "string" ? x : JSON.stringify(x))}</li>`).join("")}</ul>`;
  else if (evidence && typeof evidence === "object") ev = `<dl class="kv">${Object.entries(evidence).map(([k, v]) => `<dt>${esc(k.replaceAll("_", " "))}</dt><dd>${evidenceValue(v)}</dd>`).join("")}</dl>`;
  const effects = Array.isArray(s.expected_effect) ? s.expected_effect : s.expected_effect ? [s.expected_effect] : [];
  const effect = effects.map((e) => typeof e === "string" ? `<li>${escText(e)}</li>` :
    `<li><strong>${esc(metricName(e.metric) === `metric.${e.metric}` ? e.metric : metricName(e.metric))} ${esc(typeof e.change === "number" ? (e.change > 0 ? "+" : "") + fmtNum(e.change) : e.change ?? "")} ${esc(e.unit ?? "")}</strong>${e.at ? ` <span class="muted">${escText(t("suggestions.at", { at: e.at }))}</span>` : ""}${e.explanation ? ` — ${escText(e.explanation)}` : ""}</li>`).join("");
  const steps = Array.isArray(s.steps) ? s.steps : s.implementation_steps || [];
  return `<article class="suggestion">
    <h3>${escText(s.title || "")}</h3>
    ${s.priority != null ? `<span class="badge ${/high|1/i.test(String(s.priority)) ? "h-critical" : /medium|2/i.test(String(s.priority)) ? "h-warning" : "h-ok"}">${esc(t("suggestions.priority", { p: s.priority }))}</span>` : ""}
    ${ev ? `<h4>${esc(t("suggestions.evidence"))}</h4>${ev}` : ""}
    ${effect ? `<h4>${esc(t("suggestions.effect"))}</h4><ul>${effect}</ul>` : ""}
    ${steps.length ? `<h4>${esc(t("suggestions.steps"))}</h4><ol>${steps.map((x) => `<li>${escText(typeof x === "string" ? x : x.text || JSON.stringify(x))}</li>`).join("")}</ol>` : ""}
  </article>`;
}

// The smallest span a metric's axis shows: 1 % for the error rate (a ratio), else one unit.
const AXIS_MIN_SPAN = { error_rate: 0.01 };

// A metric's value axis: padded around the data, never below 0 (every metric is ≥ 0) nor above
// 100 % for the error rate, and never narrower than the metric's minimum span (or a fifth of
// the value), so a flat series sits mid-axis and an all-zero one gets 0..1 unit — uPlot alone
// turns 0..0 into 0..100, which for an error rate is an axis up to 10,000 %.
function axisRange(m, min, max) {
  const ceiling = m === "error_rate" ? 1 : Infinity;
  const minSpan = AXIS_MIN_SPAN[m] ?? 1;
  if (min == null || max == null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, minSpan];
  let lo, hi;
  if (max - min < minSpan) {
    const half = Math.max(minSpan, Math.abs(max) * 0.2) / 2, mid = (min + max) / 2;
    [lo, hi] = [mid - half, mid + half];
  } else {
    [lo, hi] = uPlot.rangeNum(min, max, 0.1, true);
  }
  if (lo < 0 && min >= 0) [lo, hi] = [0, hi - lo];
  if (hi > ceiling && max <= ceiling) [lo, hi] = [Math.max(0, lo - (hi - ceiling)), ceiling];
  return [lo, hi];
}

function timeTicks(u, splits) {
  // The clock the browser's locale uses, as everywhere else; the date where a day starts (or on the first tick).
  const day = dateFormat({ month: "numeric", day: "numeric" });
  const hm = dateFormat({ hour: "numeric", minute: "2-digit" });
  return splits.map((v, i) => {
    const d = new Date(v * 1000);
    const midnight = d.getHours() === 0 && d.getMinutes() === 0;
    return midnight ? day.format(d) : i === 0 ? `${day.format(d)}\n${hm.format(d)}` : hm.format(d);
  });
}

function evidenceValue(v, depth = 0) {
  // The advisor's evidence, readable: {value, unit} as "618 requests/interval", short lists
  // inline, long series as a small bar strip (the numbers in its label), other objects as k: v.
  if (v == null) return "–";
  if (typeof v === "number") return esc(fmtNum(v));
  if (typeof v === "boolean") return v ? "✓" : "✗";
  if (typeof v === "string") return escText(v);
  if (Array.isArray(v)) {
    const nums = v.map((x) => (typeof x === "number" ? x : x && typeof x === "object" && typeof x.value === "number" ? x.value : null));
    if (v.length > 6 && nums.every((x) => x != null)) {
      const lo = Math.min(...nums), hi = Math.max(...nums), span = hi - lo || 1;
      const label = nums.map((x) => fmtNum(x)).join(", ");
      return `<span class="bars" role="img" aria-label="${esc(label)}" title="${esc(label)}">${nums.map((x) => `<span style="height:${4 + 24 * (x - lo) / span}px"></span>`).join("")}</span> <span class="faint">${esc(fmtNum(lo))} – ${esc(fmtNum(hi))}</span>`;
    }
    return v.length ? v.map((x) => evidenceValue(x, depth + 1)).join(", ") : "–";
  }
  if (typeof v === "object") {
    if ("value" in v && Object.keys(v).length <= 4) {
      const rest = Object.entries(v).filter(([k]) => k !== "value" && k !== "unit").map(([k, x]) => `${esc(k)}: ${evidenceValue(x, depth + 1)}`);
      return `${evidenceValue(v.value, depth + 1)}${v.unit ? " " + esc(v.unit) : ""}${rest.length ? ` <span class="faint">(${rest.join(", ")})</span>` : ""}`;
    }
    if (depth > 1) return escText(JSON.stringify(v));
    return Object.entries(v).map(([k, x]) => `${esc(k)}: ${evidenceValue(x, depth + 1)}`).join(", ");
  }
  return esc(String(v));
}

function markOnce(name) { if (!performance.getEntriesByName(name).length) performance.mark(name); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function debounce(fn, ms) { let h; return () => { clearTimeout(h); h = setTimeout(fn, ms); }; }

// ---------------------------------------------------------------------------------------------
// start

window.dashboard = { ready: false, view: null, setLanguage, strings: STRINGS };
applyStaticStrings();
document.querySelector(".lang").addEventListener("click", (e) => { const b = e.target.closest("button[data-lang]"); if (b) setLanguage(b.dataset.lang); });
window.addEventListener("hashchange", () => { route(false); document.getElementById("main").focus(); });
document.addEventListener("visibilitychange", () => { if (document.hidden) setLive(t("live.paused")); });
route(false);
