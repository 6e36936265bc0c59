// The plugin view's side panels and trend table: the anomaly list (with feedback and selection),
// the advisor's suggestion cards, forecast accuracy and the 7-day trends. Each function takes the
// PluginView it draws into.
import { api, errorText, markOnce, METRICS, toast } from "./api.js";
import { esc, escText, fmtDay, fmtMetric, fmtNum, fmtPct, fmtTime, kindName, metricName } from "./format.js";
import { t } from "./lang.js";

// -- anomalies -----------------------------------------------------------------------------------

export function fetchAnomalies(view) {
  const w = view.window();
  return api(`/anomalies-history/${view.enc}?${new URLSearchParams({ from: new Date(w.from).toISOString(), limit: "500" })}`);
}

export async function loadAnomalies(view, request = undefined) {
  const r = await (request || fetchAnomalies(view));
  if (view.stopped) return;
  const box = view.root.querySelector("#anomalies");
  if (!r.ok) { box.textContent = t("error.generic", { error: errorText(r) }); return; }
  view.anomalies = r.body.anomalies.map((a) => ({ ...a, t0: Date.parse(a.start) / 1000, t1: Date.parse(a.end || a.start) / 1000 }));
  for (const c of Object.values(view.charts)) c.u.redraw(false, false);
  renderAnomalies(view);
  markOnce("plugin-anomalies");
}

function renderAnomalies(view) {
  const box = view.root.querySelector("#anomalies");
  if (!view.anomalies.length) { box.innerHTML = `<p class="muted">${esc(t("anomalies.none"))}</p>`; return; }
  box.innerHTML = `<ul class="anomalies">${view.anomalies.map((a) => `
      <li id="anomaly-${esc(a.event_id)}" data-event="${esc(a.event_id)}" tabindex="-1" class="${view.selected === a.event_id ? "selected" : ""}">
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

export async function onFeedback(view, e) {
  const b = e.target.closest("button[data-feedback]");
  if (!b) return;
  const id = b.closest("li[data-event]").dataset.event;
  b.disabled = true;
  const r = await api(`/anomalies/${view.enc}/${encodeURIComponent(id)}/feedback`, { method: "POST", body: JSON.stringify({ label: b.dataset.feedback }) });
  if (!r.ok) toast(t("error.generic", { error: errorText(r) }));
  await loadAnomalies(view);
}

export function selectAnomaly(view, id) {
  view.selected = id;
  renderAnomalies(view);
  const li = view.root.querySelector(`#anomaly-${CSS.escape(id)}`);
  if (li) { li.scrollIntoView({ block: "nearest" }); li.focus(); }
}

// -- suggestions ---------------------------------------------------------------------------------

export async function loadSuggestions(view, generate) {
  const box = view.root.querySelector("#suggestions");
  const btn = view.root.querySelector("#btn-suggest");
  if (generate) btn.disabled = true;
  const r = await api(generate ? `/optimization-suggestions/${view.enc}` : `/suggestions-history/${view.enc}`);
  if (view.stopped) return;
  btn.disabled = false;
  if (r.status === 501) { box.innerHTML = `<p class="notice">${esc(t("suggestions.unavailable"))}</p>`; return; }
  if (!r.ok) { box.innerHTML = `<p class="notice warn">${esc(t("error.generic", { error: errorText(r) }))}</p>`; return; }
  const list = Array.isArray(r.body) ? r.body : (r.body?.suggestions || r.body?.items || []);
  // Analyses that could not run say why (e.g. too little history): shown, not hidden.
  const skipped = (r.body?.not_analysed || []).map((n) => `<li><strong>${esc(n.analysis)}</strong>: ${escText(n.reason)}</li>`).join("");
  const notes = skipped ? `<details class="mini"><summary>${esc(t("suggestions.skipped"))}</summary><ul>${skipped}</ul></details>` : "";
  if (!list.length) { box.innerHTML = emptySuggestions(r.body, generate) + notes; return; }
  box.innerHTML = list.map(suggestionHtml).join("") + notes;
}

// Nothing on record: say why, from the newest analysis (when, over what, which analyses could
// not run and which found nothing), rather than inviting a press that would find nothing again.
function emptySuggestions(body, generate) {
  const run = body?.last_analysis;
  if (generate || !run) return `<p class="muted">${esc(t(generate ? "suggestions.empty" : "suggestions.none"))}</p>`;
  const why = (notes) => notes.map((n) => `<li><strong>${esc(n.analysis)}</strong>: ${escText(n.reason)}</li>`).join("");
  return `<p class="muted" id="suggestions-why">${esc(t("suggestions.analysed", { time: fmtTime(run.at), from: fmtTime(run.analysed_from), to: fmtTime(run.analysed_to) }))}</p>
    ${run.not_analysed.length ? `<p class="mini">${esc(t("suggestions.skipped"))}</p><ul class="mini">${why(run.not_analysed)}</ul>` : ""}
    ${run.found_nothing.length ? `<p class="mini">${esc(t("suggestions.clear"))}</p><ul class="mini">${why(run.found_nothing)}</ul>` : ""}`;
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
      return `<span class="bars" role="img" aria-label="${esc(label)}" title="${esc(label)}">${nums.map((x) => `<span data-h="${4 + 24 * (x - lo) / span}"></span>`).join("")}</span> <span class="faint">${esc(fmtNum(lo))} – ${esc(fmtNum(hi))}</span>`;
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

// -- accuracy and trends -------------------------------------------------------------------------

export async function loadAccuracy(view) {
  const box = view.root.querySelector("#accuracy");
  const r = await api(`/forecast-accuracy/${view.enc}?days=7`);
  if (view.stopped) return;
  const tracked = r.ok ? r.body.metrics || {} : {};
  const models = view.health?.models || {};
  const metrics = METRICS.filter((m) => models[m] || tracked[m]);
  if (!metrics.length) { box.innerHTML = `<p class="muted">${esc(t("accuracy.none"))}</p>`; return; }
  const daily = view.health?.accuracy_daily || {};
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
        `<span title="${esc(fmtDay(d.day))}: ${fmtPct(d.accuracy_percent)}" data-h="${Math.max(2, Math.min(100, d.accuracy_percent ?? 0)) * 0.28}"></span>`).join("")}</span></div>`).join("")}` : ""}
      <p class="mini muted">${esc(t("accuracy.explain"))}</p>`;
}

export async function loadTrends(view) {
  // The 7-day slope and the daily peak are the API's (analytics-summary: Theil-Sen on hourly
  // means, hour-of-day profile): one definition, the same figure wherever it is read.
  const from = new Date(Date.now() - 14 * 86400_000).toISOString();
  const [r, summary] = await Promise.all([
    api(`/metrics-history/${view.enc}?${new URLSearchParams({ from, resolution: "1h", limit: "1000" })}`),
    api(`/analytics-summary/${view.enc}`),
  ]);
  if (view.stopped) return;
  view.hourly = r.ok ? r.body.samples : [];
  view.trends = summary.ok ? summary.body.trends || {} : {};
  renderTrends(view);
}

export function renderTrends(view) {
  const box = view.root.querySelector("#trends");
  if (!view.hourly) return;
  const rows = [];
  for (const m of METRICS) {
    // Hourly buckets sum request counts: per sample (the unit of "Latest"), a count is the sum
    // over the bucket's samples, not the hour's total.
    const perSample = (s) => (m === "request_count" && s.samples ? s[m] / s.samples : s[m]);
    const pts = view.hourly.filter((s) => s[m] != null).map((s) => [Date.parse(s.timestamp), perSample(s)]);
    if (pts.length < 2) continue;
    const end = pts[pts.length - 1][0];
    const mean = (a) => (a.length ? a.reduce((x, y) => x + y[1], 0) / a.length : null);
    const day = mean(pts.filter((p) => p[0] > end - 86400_000));
    const prev = mean(pts.filter((p) => p[0] <= end - 86400_000 && p[0] > end - 2 * 86400_000));
    const slope = view.trends?.[m]?.slope_per_day;
    const peak = view.trends?.[m]?.daily_pattern?.peak_hour_utc;
    const last = view.actual[m]?.v.length ? view.actual[m].v[view.actual[m].v.length - 1] : pts[pts.length - 1][1];
    const f = view.forecast?.[m];
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
