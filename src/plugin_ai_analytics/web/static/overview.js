// The overview (#/): every plugin's health in one table, filtered by text, health, open anomalies
// and forecast risk, sortable by every column; health cards that filter; refreshed every 15 s.
import { api, errorText, setLive } from "./api.js";
import { esc, fmtAge, fmtMetric, fmtNum, fmtPct, fmtTime, metricName } from "./format.js";
import { t } from "./lang.js";

const OVERVIEW_POLL_MS = 15000;
const OVERVIEW_PAGE = 300;
const HEALTH_ORDER = { critical: 3, warning: 2, ok: 1, no_data: 0 };

export class OverviewView {
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
      <form class="filters" id="filters" role="search">
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
    $("#filters").addEventListener("submit", (e) => e.preventDefault());
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
