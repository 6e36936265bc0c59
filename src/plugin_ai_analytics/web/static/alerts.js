// The alerts view (#/alerts): what is firing and whether it is notified, silenced or inhibited;
// the silences (create one from a form or from an alert's row, end one early); the delivery log
// with each receiver's answer. Refreshed every 5 s.
import { api, errorText, setLive, toast } from "./api.js";
import { esc, escText, fmtTime } from "./format.js";
import { t } from "./lang.js";

const ALERTS_POLL_MS = 5000;

export class AlertsView {
  constructor(root) {
    this.root = root;
    this.timer = null;
    this.showResolved = false;
    this.loaded = false;
  }

  saved() { return null; }

  start() {
    this.root.innerHTML = `
      <h1>${esc(t("alerts.title"))}</h1>
      <p class="muted" id="al-summary" aria-live="polite">${esc(t("loading"))}</p>
      <section class="panel" aria-labelledby="h-firing">
        <h2 id="h-firing">${esc(t("alerts.firing"))}</h2>
        <label class="check"><input id="al-resolved" type="checkbox"> ${esc(t("alerts.showResolved"))}</label>
        <div class="table-wrap"><table id="alerts-table"><thead><tr>
          <th scope="col">${esc(t("alerts.col.severity"))}</th><th scope="col">${esc(t("col.plugin"))}</th>
          <th scope="col">${esc(t("alerts.col.alert"))}</th><th scope="col">${esc(t("alerts.col.status"))}</th>
          <th scope="col">${esc(t("alerts.col.since"))}</th><th scope="col">${esc(t("alerts.col.to"))}</th><th scope="col"></th>
        </tr></thead><tbody></tbody></table></div>
      </section>
      <section class="panel" aria-labelledby="h-silences">
        <h2 id="h-silences">${esc(t("silences.title"))}</h2>
        <form id="silence-form" class="filters" onsubmit="return false">
          <label>${esc(t("silences.matchers"))}<input id="s-matchers" type="text" size="36" placeholder="plugin_id=web-shop, severity=Low" required></label>
          <label>${esc(t("silences.duration"))}<input id="s-duration" type="text" size="6" value="2h" required></label>
          <label>${esc(t("silences.comment"))}<input id="s-comment" type="text" size="28"></label>
          <button type="submit" id="s-create">${esc(t("silences.create"))}</button>
        </form>
        <p class="mini muted">${esc(t("silences.help"))}</p>
        <ul id="silences" class="anomalies"></ul>
      </section>
      <section class="panel" aria-labelledby="h-deliveries">
        <h2 id="h-deliveries">${esc(t("deliveries.title"))}</h2>
        <div class="table-wrap"><table id="deliveries"><thead><tr>
          <th scope="col">${esc(t("deliveries.col.created"))}</th><th scope="col">${esc(t("deliveries.col.to"))}</th>
          <th scope="col">${esc(t("deliveries.col.what"))}</th><th scope="col">${esc(t("deliveries.col.state"))}</th>
          <th scope="col" class="num">${esc(t("deliveries.col.attempts"))}</th><th scope="col">${esc(t("deliveries.col.answer"))}</th>
        </tr></thead><tbody></tbody></table></div>
      </section>`;
    const $ = (id) => this.root.querySelector(id);
    $("#al-resolved").addEventListener("change", (e) => { this.showResolved = e.target.checked; this.load(); });
    $("#silence-form").addEventListener("submit", () => this.createSilence());
    $("#alerts-table").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-silence]");
      if (!b) return;
      $("#s-matchers").value = b.dataset.silence;
      $("#s-matchers").focus();
    });
    $("#silences").addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-end]");
      if (!b) return;
      b.disabled = true;
      const r = await api(`/alerts/silences/${encodeURIComponent(b.dataset.end)}`, { method: "DELETE" });
      if (!r.ok) toast(t("error.generic", { error: errorText(r) }));
      this.load();
    });
    this.load();
    this.timer = setInterval(() => this.load(), ALERTS_POLL_MS);
  }

  stop() { clearInterval(this.timer); }

  async createSilence() {
    const $ = (id) => this.root.querySelector(id);
    const matchers = {};
    for (const part of $("#s-matchers").value.split(",")) {
      const [k, ...v] = part.split("=");
      if (k.trim()) matchers[k.trim()] = v.join("=").trim();
    }
    const body = { matchers, duration: $("#s-duration").value.trim(), comment: $("#s-comment").value, created_by: "dashboard" };
    $("#s-create").disabled = true;
    const r = await api("/alerts/silences", { method: "POST", body: JSON.stringify(body) });
    $("#s-create").disabled = false;
    if (!r.ok) { toast(t("silences.failed", { error: errorText(r) })); return; }
    toast(t("silences.created", { until: fmtTime(r.body.ends_at) }));
    $("#s-comment").value = "";
    this.load();
  }

  async load() {
    const query = this.showResolved ? "?limit=200" : "?state=firing&limit=500";
    const [alerts, silences, deliveries] = await Promise.all([
      api("/alerts" + query), api("/alerts/silences"), api("/alerts/deliveries?limit=50"),
    ].map((p) => p.catch((e) => ({ ok: false, status: 0, body: { message: String(e) } }))));
    const failed = [alerts, silences, deliveries].find((r) => !r.ok);
    if (failed) { setLive(t("live.error", { error: errorText(failed) })); return; }
    this.renderAlerts(alerts.body);
    this.renderSilences(silences.body.silences);
    this.renderDeliveries(deliveries.body);
    setLive(t("live.updated", { time: fmtTime(new Date().toISOString(), false) }));
    if (!this.loaded) { this.loaded = true; window.dashboard.ready = true; }
  }

  renderAlerts(body) {
    const c = body.counts;
    this.root.querySelector("#al-summary").textContent = t("alerts.summary", {
      active: c.active || 0, silenced: c.silenced || 0, inhibited: c.inhibited || 0 });
    const rows = body.alerts.map((a) => {
      const where = a.plugin_id ? `<a href="#/plugin/${encodeURIComponent(a.plugin_id)}">${esc(a.plugin_id)}</a>` : `<span class="muted">${esc(t("alerts.service"))}</span>`;
      const why = a.status === "silenced" ? a.silenced_by.join(", ") : a.status === "inhibited" ? t("alerts.inhibitedBy", { n: a.inhibited_by.length }) : "";
      const matcher = a.plugin_id ? `plugin_id=${a.plugin_id}` : `rule=${a.rule}`;
      return `<tr data-fingerprint="${esc(a.fingerprint)}" data-status="${esc(a.status)}" data-plugin="${esc(a.plugin_id || "")}">
        <td><span class="sev sev-${esc(a.severity)}">${esc(t("severity." + a.severity))}</span></td>
        <td>${where}${a.metric ? `<div class="plugin-id">${esc(a.metric)}</div>` : ""}</td>
        <td><strong>${esc(t("rule." + a.rule))}</strong><div class="mini">${escText(a.summary)}</div></td>
        <td><span class="badge st-${esc(a.status)}">${esc(t("alerts.status." + a.status))}</span>${why ? `<div class="mini muted">${esc(why)}</div>` : ""}</td>
        <td>${esc(fmtTime(a.starts_at))}${a.ends_at ? ` – ${esc(fmtTime(a.ends_at))}` : ""}</td>
        <td class="mini">${esc(a.contact_points.join(", ") || t("alerts.nowhere"))}</td>
        <td>${a.state === "firing" ? `<button type="button" class="secondary" data-silence="${esc(matcher)}">${esc(t("alerts.silence"))}</button>` : ""}</td></tr>`;
    });
    this.root.querySelector("#alerts-table tbody").innerHTML = rows.join("") ||
      `<tr><td colspan="7" class="muted">${esc(t("alerts.none"))}</td></tr>`;
  }

  renderSilences(silences) {
    this.root.querySelector("#silences").innerHTML = silences.map((s) => `
      <li data-silence="${esc(s.silence_id)}" data-state="${esc(s.state)}">
        <span class="badge st-${s.state === "active" ? "silenced" : "resolved"}">${esc(t("silences.state." + s.state))}</span>
        <code>${esc(Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(", "))}</code>
        <span class="mini muted">${esc(t("silences.until", { time: fmtTime(s.ends_at) }))}${s.comment ? " · " + esc(s.comment) : ""} · ${esc(s.created_by)}</span>
        ${s.state !== "expired" ? `<button type="button" class="secondary" data-end="${esc(s.silence_id)}">${esc(t("silences.end"))}</button>` : ""}
      </li>`).join("") || `<li class="muted">${esc(t("silences.none"))}</li>`;
  }

  renderDeliveries(body) {
    const rows = body.deliveries.map((d) => `<tr data-delivery="${d.id}" data-state="${esc(d.state)}">
      <td>${esc(fmtTime(d.created_at))}</td><td>${esc(d.contact_point)}</td>
      <td>${esc(t("deliveries.what", { status: d.status, n: d.alerts }))}<div class="mini muted">${esc(d.plugins.join(", "))}</div></td>
      <td><span class="badge dl-${esc(d.state)}">${esc(t("deliveries.state." + d.state))}</span>${d.latency_seconds != null ? `<div class="mini muted">${esc(t("deliveries.latency", { s: d.latency_seconds }))}</div>` : ""}</td>
      <td class="num">${d.attempts}</td>
      <td class="mini">${esc([d.last_status, d.last_answer].filter(Boolean).join(" · ").slice(0, 200))}</td></tr>`);
    this.root.querySelector("#deliveries tbody").innerHTML = rows.join("") ||
      `<tr><td colspan="6" class="muted">${esc(t("deliveries.none"))}</td></tr>`;
  }
}
