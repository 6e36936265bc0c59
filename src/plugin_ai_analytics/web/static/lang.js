// The page's language (English or Korean: the visitor's choice, remembered, else the browser's),
// its strings by key, and the locale that dates and numbers are written in for it.
import { STRINGS } from "./i18n.js";

let lang = localStorage.getItem("pa-lang") || ((navigator.language || "en").toLowerCase().startsWith("ko") ? "ko" : "en");
if (!STRINGS[lang]) lang = "en";

export function t(key, params = {}) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  for (const [k, v] of Object.entries(params)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

export function applyStaticStrings() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll(".lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}

// Switches to `next`, remembers it and translates the page's static strings; false when there is
// nothing to switch to. The caller redraws the view.
export function switchLanguage(next) {
  if (!STRINGS[next] || next === lang) return false;
  lang = next;
  localStorage.setItem("pa-lang", lang);
  applyStaticStrings();
  return true;
}

// Dates, times and numbers are written the browser's way for the page's language: the first of
// the browser's languages that is the page's (en-US → 12/2/26, 6:30 PM; en-GB → 02/12/2026,
// 18:30), or the page's language alone when the browser has none of it.
export function locale() {
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || lang];
  return preferred.find((l) => l.toLowerCase().split("-")[0] === lang) || lang;
}
