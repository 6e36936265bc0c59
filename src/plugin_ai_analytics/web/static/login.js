// The login view: asks for an API token (or an OIDC token), which the service turns into an
// HttpOnly, SameSite=Strict session cookie; and logging out, which clears it.
import { api } from "./api.js";
import { t } from "./lang.js";
import { esc } from "./format.js";

export class LoginView {
  constructor(root, onLogin) { this.root = root; this.onLogin = onLogin; }

  saved() { return null; }

  start() {
    window.__prefetched = {};  // answered before the login: ask again afterwards
    showLogout(false);
    this.root.innerHTML = `
      <h1>${esc(t("login.title"))}</h1>
      <form id="login" class="login">
        <label>${esc(t("login.token"))}<input id="login-token" type="password" autocomplete="off" required></label>
        <button type="submit">${esc(t("login.submit"))}</button>
        <p id="login-error" class="error" role="alert"></p>
      </form>
      <p class="muted">${esc(t("login.help"))}</p>`;
    const form = this.root.querySelector("#login");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const token = this.root.querySelector("#login-token").value.trim();
      const r = await api("/auth/login", { method: "POST", body: JSON.stringify({ token }) });
      if (r.ok) { showLogout(true); this.onLogin(); return; }
      this.root.querySelector("#login-error").textContent = r.status === 429 ? t("login.throttled") : t("login.failed");
    });
    this.root.querySelector("#login-token").focus();
    window.dashboard.ready = true;
  }

  stop() {}
}

export function showLogout(visible) { document.getElementById("logout").hidden = !visible; }

export async function logout() {
  await api("/auth/logout", { method: "POST" });
  window.dispatchEvent(new CustomEvent("dashboard:login"));
}
