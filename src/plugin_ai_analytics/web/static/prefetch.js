// Start the view's first API requests now, in parallel with loading the modules; api.js picks
// the responses up (window.__prefetched) instead of asking again. A file of its own, not inline:
// the page's Content-Security-Policy allows no inline script.
(function () {
  var api = "/api/plugin-ai-analytics", m = location.hash.match(/^#\/plugin\/([^?]+)/), p = {};
  function get(path) { p[path] = fetch(api + path, { headers: { accept: "application/json" } }); }
  get("/auth/me");
  if (m) { get("/plugins/" + m[1]); get("/dashboard/plugins/" + m[1]); } else if (!/^#\/alerts/.test(location.hash)) { get("/dashboard/overview"); }
  window.__prefetched = p;
})();
