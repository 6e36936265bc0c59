// The plugin view's charts, drawn by the vendored uPlot (a global): one per metric with data,
// actuals, the forecast and its 80/95 % bands, anomaly shading and markers, value axes that fit
// the metric, time ticks in the browser's clock. Each exported function takes the PluginView.
import { METRICS } from "./api.js";
import { dateFormat, esc, fmtMetric, fmtTime, kindName, metricName } from "./format.js";
import { t } from "./lang.js";

const SEV_ORDER = { High: 3, Medium: 2, Low: 1 };

// The metrics that get a chart: those with samples in the window or a forecast.
export function chartMetrics(view) {
  return METRICS.filter((m) => view.actual[m]?.t.length || view.forecast?.[m]?.length);
}

export function drawCharts(view) {
  const box = view.root.querySelector("#charts");
  if (!box) return;
  for (const c of Object.values(view.charts)) c.u.destroy();
  view.charts = {};
  const metrics = chartMetrics(view);
  if (!metrics.length) { box.innerHTML = `<p class="muted">${esc(t("charts.nodata"))}</p>`; return; }
  box.innerHTML = metrics.map((m) => `<figure class="chart" id="chart-${m}" data-metric="${m}">
      <figcaption><span>${esc(metricName(m))} <span class="faint">(${esc(t("unit." + m))})</span></span><span class="mini muted" data-last></span></figcaption>
      <div class="plot" role="img" aria-label="${esc(metricName(m))}"></div></figure>`).join("");
  for (const m of metrics) {
    const fig = box.querySelector(`#chart-${m}`);
    const plot = fig.querySelector(".plot");
    const u = new uPlot(chartOptions(view, m, plot.clientWidth || 560), chartData(view, m), plot);
    view.charts[m] = { u, fig };
    describe(view, m);
  }
}

export function redrawCharts(view) {
  // New data for the same charts: feed them; only a new metric needs the charts rebuilt.
  if (chartMetrics(view).join() === Object.keys(view.charts).join()) updateCharts(view);
  else drawCharts(view);
}

export function updateCharts(view) {
  for (const [m, c] of Object.entries(view.charts)) { c.u.setData(chartData(view, m)); describe(view, m); }
}

export function resizeCharts(view) {
  for (const c of Object.values(view.charts)) {
    const w = c.fig.querySelector(".plot").clientWidth;
    if (w && Math.abs(w - c.u.width) > 2) c.u.setSize({ width: w, height: 230 });
  }
}

function chartData(view, m) {
  const a = view.actual[m] || { t: [], v: [] };
  const f = view.forecast?.[m] || [];
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

function describe(view, m) {
  // What the chart shows, as attributes: for screen readers (the label) and for tests.
  const c = view.charts[m];
  const d = c.u.data;
  const count = (i) => d[i].reduce((n, v) => n + (v != null ? 1 : 0), 0);
  const a = view.actual[m];
  const last = a.v.length ? a.v[a.v.length - 1] : null;
  c.fig.dataset.points = String(count(1));
  c.fig.dataset.forecastPoints = String(count(2));
  c.fig.dataset.band80 = String(count(5) && count(6));
  c.fig.dataset.band95 = String(count(3) && count(4));
  c.fig.dataset.lastTs = a.t.length ? new Date(a.t[a.t.length - 1] * 1000).toISOString() : "";
  c.fig.dataset.anomalies = String(anomaliesFor(view, m).length);
  c.fig.querySelector("[data-last]").textContent = last == null ? "" : `${fmtMetric(m, last)} · ${fmtTime(c.fig.dataset.lastTs)}`;
  c.fig.querySelector(".plot").setAttribute("aria-label", `${metricName(m)}: ${last == null ? "" : fmtMetric(m, last)}`);
}

function anomaliesFor(view, m) {
  return view.anomalies.filter((a) => !a.metrics.length || a.metrics.includes(m));
}

function chartOptions(view, m, width) {
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
      drawClear: [(u) => shadeAnomalies(view, u, m)],
      draw: [(u) => placeMarkers(view, u, m)],
    },
  };
}

function shadeAnomalies(view, u, m) {
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  const [x0, x1] = [u.scales.x.min, u.scales.x.max];
  const colors = { High: "rgba(185,28,28,0.22)", Medium: "rgba(180,83,9,0.20)", Low: "rgba(30,64,175,0.16)" };
  ctx.save();
  for (const a of anomaliesFor(view, m)) {
    if (a.t1 < x0 || a.t0 > x1) continue;
    const l = u.valToPos(Math.max(a.t0, x0), "x", true);
    const r = u.valToPos(Math.min(a.t1, x1), "x", true);
    ctx.fillStyle = colors[a.severity] || colors.Low;
    ctx.fillRect(l, top, Math.max(r - l, 3 * devicePixelRatio), height);
  }
  ctx.restore();
}

function placeMarkers(view, u, m) {
  let layer = u.over.querySelector(".markers");
  if (!layer) { layer = document.createElement("div"); layer.className = "markers"; u.over.appendChild(layer); }
  const [x0, x1] = [u.scales.x.min, u.scales.x.max];
  const shown = anomaliesFor(view, m).filter((a) => a.t1 >= x0 && a.t0 <= x1).sort((a, b) => SEV_ORDER[b.severity] - SEV_ORDER[a.severity]).slice(0, 60);
  layer.innerHTML = shown.map((a) => `<button type="button" class="anomaly-marker sev-${esc(a.severity)}" data-event="${esc(a.event_id)}"
      data-x="${u.valToPos(Math.max(a.t0, x0), "x")}" aria-label="${esc(t("anomalies.marker", { severity: t("severity." + a.severity), kind: kindName(a.kind), time: fmtTime(a.start) }))}"
      title="${esc(t("anomalies.marker", { severity: t("severity." + a.severity), kind: kindName(a.kind), time: fmtTime(a.start) }))}"></button>`).join("");
  if (!layer.dataset.bound) {
    layer.dataset.bound = "1";
    layer.addEventListener("click", (e) => { const b = e.target.closest("button[data-event]"); if (b) view.selectAnomaly(b.dataset.event); });
    layer.addEventListener("mousedown", (e) => e.stopPropagation());
  }
  const c = view.charts[m];
  if (c) c.fig.dataset.anomalies = String(anomaliesFor(view, m).length);
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
