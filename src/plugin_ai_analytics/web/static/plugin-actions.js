// The operator's buttons on a plugin view: train the forecasters (a job, followed to its end),
// run anomaly detection now, export the plugin's data. Each function takes the PluginView.
import { API, api, errorText, sleep, toast } from "./api.js";
import { esc, metricName } from "./format.js";
import { t } from "./lang.js";
import { loadAccuracy, loadAnomalies } from "./plugin-panels.js";

export async function runDetection(view, userAsked) {
  const btn = view.root.querySelector("#btn-detect");
  if (userAsked) btn.disabled = true;
  const r = await api(`/detect-anomalies/${view.enc}`);
  if (view.stopped) return;
  btn.disabled = false;
  if (!r.ok) { if (userAsked) toast(t("error.generic", { error: errorText(r) })); return; }
  view.root.querySelector("#p-detector").textContent = t("plugin.detector", { status: r.body.status });
  if (userAsked) {
    view.root.querySelector("#action-status").textContent = t("detect.done", { status: r.body.status });
    loadAnomalies(view);
  }
}

export async function train(view) {
  const btn = view.root.querySelector("#btn-train");
  const status = view.root.querySelector("#action-status");
  btn.disabled = true;
  status.textContent = t("train.queued");
  const r = await api(`/train-models/${view.enc}`, { method: "POST" });
  if (!r.ok) { status.textContent = t("train.failed", { error: errorText(r) }); btn.disabled = false; return; }
  const jobId = r.body.job_id;
  for (;;) {
    await sleep(700);
    if (view.stopped) return;
    const j = await api(`/jobs/${encodeURIComponent(jobId)}`);
    if (!j.ok) { status.textContent = t("train.failed", { error: errorText(j) }); break; }
    if (j.body.status === "succeeded") {
      status.textContent = t("train.done", { metrics: Object.keys(j.body.result?.trained || {}).map(metricName).join(", ") });
      const h = await api(`/dashboard/plugins/${view.enc}`);
      if (h.ok) view.health = h.body;
      await view.loadForecast();
      loadAccuracy(view);
      break;
    }
    if (j.body.status === "failed") { status.textContent = t("train.failed", { error: j.body.error }); break; }
    status.textContent = t("train.progress", { p: Math.round(100 * (j.body.progress || 0)) });
  }
  btn.disabled = false;
}

export async function exportData(view) {
  const status = view.root.querySelector("#action-status");
  const r = await fetch(`${API}/export-data/${view.enc}?format=csv`);
  const csv = `${API}/metrics-history/${view.enc}?${new URLSearchParams({ format: "csv", resolution: "raw", limit: "10000", from: new Date(view.window().from).toISOString() })}`;
  if (r.ok) {
    const blob = await r.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    const named = /filename="?([^";]+)"?/.exec(r.headers.get("content-disposition") || "");
    a.download = named ? named[1] : `${view.id}-export.csv`;
    a.click();
    status.textContent = t("export.done");
    return;
  }
  status.innerHTML = `${esc(r.status === 501 ? t("export.unavailable") : t("error.generic", { error: `HTTP ${r.status}` }))} <a href="${esc(csv)}" download>${esc(t("export.csv"))}</a>`;
}

