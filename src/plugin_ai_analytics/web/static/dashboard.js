// The dashboard's entry (the only module index.html loads): routes #/ to the overview,
// #/plugin/<id> to a plugin's live view and #/alerts to the alerts (silences, delivery log),
// asks for a login when there is none, wires the language switch and exposes window.dashboard.
// Plain ES modules over the REST API; charts by the vendored uPlot. No build step, no CDN.
import { STRINGS } from "./i18n.js";
import { api, setLive } from "./api.js";
import { applyStaticStrings, switchLanguage, t } from "./lang.js";
import { OverviewView } from "./overview.js";
import { PluginView } from "./plugin.js";
import { LoginView, logout, showLogout } from "./login.js";
import { AlertsView } from "./alerts.js";

let view = null;  // the current view object, with stop()

function showLogin() {
  if (view instanceof LoginView) return;
  if (view) view.stop();
  view = new LoginView(document.getElementById("main"), () => route(false));
  window.dashboard.view = view;
  view.start();
}

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
// Sizes computed per value (bar heights, marker positions) arrive as data-h / data-x and are set
// through the CSSOM here: the page's CSP allows no inline style attribute, and no inline script.
new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes) {
    if (node.nodeType !== 1) continue;
    for (const el of [node, ...node.querySelectorAll("[data-h], [data-x]")]) {
      if (el.dataset.h) el.style.height = `${el.dataset.h}px`;
      if (el.dataset.x) el.style.left = `${el.dataset.x}px`;
    }
  }
}).observe(document.body, { childList: true, subtree: true });
applyStaticStrings();
document.querySelector(".lang").addEventListener("click", (e) => { const b = e.target.closest("button[data-lang]"); if (b) setLanguage(b.dataset.lang); });
window.addEventListener("hashchange", () => { if (!(view instanceof LoginView)) { api("/auth/me").then((r) => { if (r.ok) { showLogout(true); route(false); } else showLogin(); }); document.getElementById("main").focus(); } });
window.addEventListener("dashboard:login", showLogin);
document.getElementById("logout").addEventListener("click", logout);
document.addEventListener("visibilitychange", () => { if (document.hidden) setLive(t("live.paused")); });
route(false);
