// Talking to the service: the REST API's address and metric fields, requests (answered from the
// page's early prefetch when it has one), error texts, the toast and the live-status line; and
// the small timing helpers the views share (performance marks, sleep, debounce).
export const API = "/api/plugin-ai-analytics";
export const METRICS = ["cpu_percent", "memory_mb", "response_time_ms", "response_time_p95_ms", "error_rate", "request_count", "active_users"];

// The login lives in an HttpOnly session cookie the page never reads; a state-changing call
// echoes the CSRF cookie in a header, which a cross-site page cannot do.
export function csrfHeader(method) {
  if (!method || method === "GET") return {};
  const m = document.cookie.match(/(?:^|; )paa_csrf=([^;]*)/);
  return { "X-CSRF-Token": m ? decodeURIComponent(m[1]) : "" };
}

export async function api(path, options = {}) {
  const early = !options.method && window.__prefetched?.[path];  // started by prefetch.js
  if (early) delete window.__prefetched[path];
  const headers = { accept: "application/json", ...(options.body ? { "content-type": "application/json" } : {}), ...csrfHeader(options.method) };
  const res = await (early || fetch(API + path, { headers, ...options }));
  if (res.status === 401 && path !== "/auth/login") window.dispatchEvent(new CustomEvent("dashboard:login"));
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  return { status: res.status, ok: res.ok, body, res };
}

export function errorText(r) {
  if (r.body && typeof r.body === "object") return r.body.message || r.body.detail || r.body.error || `HTTP ${r.status}`;
  return `HTTP ${r.status}`;
}

let toastTimer = null;
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 6000);
}

export function setLive(text) { document.getElementById("live").textContent = text; }

// ---------------------------------------------------------------------------------------------
// timing

export function markOnce(name) { if (!performance.getEntriesByName(name).length) performance.mark(name); }
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function debounce(fn, ms) { let h; return () => { clearTimeout(h); h = setTimeout(fn, ms); }; }
