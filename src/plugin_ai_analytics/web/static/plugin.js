// One plugin's live view (#/plugin/<id>): the page's frame and buttons, the history behind the
// charts (range, resolution, live polling every 2 s) and the forecast. Charts, side panels and
// the operator's actions are in charts.js, plugin-panels.js and plugin-actions.js.
import { api, debounce, errorText, markOnce, METRICS, setLive, toast } from "./api.js";
import { chartMetrics, drawCharts, redrawCharts, resizeCharts, updateCharts } from "./charts.js";
import { esc, fmtAge, fmtDuration, fmtMetric, fmtNum, fmtTime } from "./format.js";
import { t } from "./lang.js";
import { exportData, runDetection, train } from "./plugin-actions.js";
import { fetchAnomalies, loadAccuracy, loadAnomalies, loadSuggestions, loadTrends, onFeedback, renderTrends, selectAnomaly } from "./plugin-panels.js";

const LIVE_POLL_MS = 2000;
const FORECAST_REFRESH_MS = 5 * 60 * 1000;
const MAX_POINTS = 1200;  // per chart: more than this is downsampled on the server
const RANGES = { "24h": 86400, "3d": 3 * 86400, "7d": 7 * 86400, "14d": 14 * 86400 };
const NICE_BUCKETS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];

export class PluginView {
  constructor(root, pluginId, saved) {
    this.root = root;
    this.id = pluginId;
    this.range = saved?.range || "3d";
    this.charts = {};       // metric → {u, fig}: the uPlot and its <figure>
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
    const anomalies = fetchAnomalies(this);
    await this.loadHistory();
    if (this.stopped) return;
    drawCharts(this);
    performance.mark("plugin-ready");
    window.dashboard.ready = true;
    this.loadForecast(forecast);
    loadAnomalies(this, anomalies);
    loadSuggestions(this, false);
    loadAccuracy(this);
    loadTrends(this);
    this.timers.push(setInterval(() => this.poll(), LIVE_POLL_MS));
    setLive(t("live.on", { s: LIVE_POLL_MS / 1000 }));
    this.onResize = debounce(() => resizeCharts(this), 150);
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
      ${limitsLine(p)}${sourceNotice(p)}${conditionsNotice(h)}
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
            <h2 id="charts-h" class="flush">${esc(t("charts.title"))}</h2>
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
          <section class="panel gap-top" aria-labelledby="trend-h"><h2 id="trend-h">${esc(t("trend.title"))}</h2><div id="trends" class="table-wrap">${esc(t("loading"))}</div></section>
        </section>
        <div class="side">
          <section class="panel" aria-labelledby="anom-h"><h2 id="anom-h">${esc(t("anomalies.title"))}</h2><div id="anomalies">${esc(t("loading"))}</div></section>
          <section class="panel" aria-labelledby="sugg-h"><h2 id="sugg-h">${esc(t("suggestions.title"))}</h2><div id="suggestions">${esc(t("loading"))}</div></section>
          <section class="panel" aria-labelledby="acc-h"><h2 id="acc-h">${esc(t("accuracy.title"))}</h2><div id="accuracy">${esc(t("loading"))}</div></section>
        </div>
      </div>`;
    const $ = (s) => this.root.querySelector(s);
    $("#btn-train").addEventListener("click", () => train(this));
    $("#btn-detect").addEventListener("click", () => runDetection(this, true));
    $("#btn-suggest").addEventListener("click", () => loadSuggestions(this, true));
    $("#btn-export").addEventListener("click", () => exportData(this));
    this.root.querySelector(".range").addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-range]");
      if (!b || b.dataset.range === this.range) return;
      this.range = b.dataset.range;
      for (const x of this.root.querySelectorAll(".range button")) x.setAttribute("aria-pressed", String(x.dataset.range === this.range));
      const started = performance.now();
      await this.loadHistory();
      drawCharts(this);
      performance.measure(`range-${this.range}`, { start: started, end: performance.now() });
      loadAnomalies(this);
    });
    $("#anomalies").addEventListener("click", (e) => onFeedback(this, e));
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

  async poll() {
    if (document.hidden || this.stopped || this.polling) return;
    this.polling = true;
    try {
      const from = new Date((this.lastTs ?? Date.now() - 3600_000) + 1).toISOString();
      const r = await api(`/metrics-history/${this.enc}?${new URLSearchParams({ from, resolution: "raw", limit: "1000" })}`);
      if (!r.ok) { setLive(t("live.error", { error: errorText(r) })); return; }
      setLive(t("live.on", { s: LIVE_POLL_MS / 1000 }) + " · " + t("live.updated", { time: fmtTime(new Date().toISOString(), false) }));
      if (!r.body.samples.length) return;
      const before = chartMetrics(this).join();
      for (const s of r.body.samples) this.addSample(s);
      if (chartMetrics(this).join() !== before) drawCharts(this);
      else updateCharts(this);
      this.root.querySelector("#p-last").textContent = t("plugin.last", { time: fmtAge(new Date(this.lastTs).toISOString()) });
      // The detector scores samples as they arrive, in the background: look again shortly.
      clearTimeout(this.anomalyTimer);
      this.anomalyTimer = setTimeout(() => loadAnomalies(this), 1500);
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
      // Say what training needs before offering it: a button that would answer 409 helps no one.
      const ready = this.health?.training;
      note.hidden = false;
      note.textContent = ready && !ready.ready
        ? t("forecast.needs", { needed: fmtNum(ready.needed_hours, 3), have: fmtNum(ready.have_hours, 3) })
        : t("forecast.none");
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
    redrawCharts(this);
    renderTrends(this);
    markOnce("plugin-forecast");
  }

  // A chart's anomaly marker was clicked (charts.js): the event is picked out in the list.
  selectAnomaly(id) { selectAnomaly(this, id); }
}

// A source that fails, and a state that is bad now, are said at the top of the view: without
// them a plugin whose data stopped, or that is pinned at its limit, would just look quiet.
function sourceNotice(p) {
  const s = p.source_status;
  if (!s || s.ok) return "";
  return `<p class="notice warn" id="source-failing">${esc(t("source.failing", { since: fmtTime(s.failing_since), n: s.failures, error: s.last_error || "" }))}</p>`;
}

function conditionsNotice(h) {
  const list = h?.conditions || [];
  if (!list.length) return "";
  return list.map((c) => `<p class="notice warn condition">${esc(t("condition.now", { summary: c.summary }))}</p>`).join("");
}

// The limits the plugin is judged against, and which are unknown: never the host's cores.
function limitsLine(p) {
  const cpu = p.cpu_limit_percent != null ? fmtMetric("cpu_percent", p.cpu_limit_percent) : t("limit.unknown");
  const mem = p.memory_limit_mb != null ? fmtMetric("memory_mb", p.memory_limit_mb) : t("limit.unknown");
  return `<p class="mini muted" id="limits">${esc(t("limits.line", { cpu, mem }))}</p>`;
}
