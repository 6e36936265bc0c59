// The dashboard's entry (the only module index.html loads): routes #/ to the overview,
// #/plugin/<id> to a plugin's live view and #/alerts to the alerts (silences, delivery log), wires the language switch and exposes window.dashboard.
// Plain ES modules over the REST API; charts by the vendored uPlot. No build step, no CDN.
import { STRINGS } from "./i18n.js";
import { setLive } from "./api.js";
import { applyStaticStrings, switchLanguage, t } from "./lang.js";
import { OverviewView } from "./overview.js";
import { PluginView } from "./plugin.js";
import { AlertsView } from "./alerts.js";

let view = null;  // the current view object, with stop()

function route(keepState = false) {
  const hash = location.hash || "#/";
  const m = hash.match(/^#\/plugin\/([^?]+)/);
  const prev = view;
  if (prev) prev.stop();
  window.dashboard.ready = false;
  const main = document.getElementById("main");
  if (m) view = new PluginView(main, decodeURIComponent(m[1]), keepState && prev instanceof PluginView ? prev.saved() : null);
  else if (hash.startsWith("#/alerts")) view = new AlertsView(main);
  else view = new OverviewView(main, keepState && prev instanceof OverviewView ? prev.saved() : null);
  window.dashboard.view = view;
  view.start();
}

function setLanguage(next) {
  if (switchLanguage(next)) route(true);
}

window.dashboard = { ready: false, view: null, setLanguage, strings: STRINGS };
applyStaticStrings();
document.querySelector(".lang").addEventListener("click", (e) => { const b = e.target.closest("button[data-lang]"); if (b) setLanguage(b.dataset.lang); });
window.addEventListener("hashchange", () => { route(false); document.getElementById("main").focus(); });
document.addEventListener("visibilitychange", () => { if (document.hidden) setLive(t("live.paused")); });
route(false);
