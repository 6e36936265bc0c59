// How the page writes values: HTML escaping, numbers and metric units, dates and times through
// Intl in the page's locale (ISO stamps inside the engines' texts included), metric and event names.
import { STRINGS } from "./i18n.js";
import { locale, t } from "./lang.js";

export const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const formats = new Map();
export function dateFormat(options) {
  // Building an Intl formatter costs more than using it: one per locale and options.
  const key = locale() + JSON.stringify(options);
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(locale(), options));
  return formats.get(key);
}

export function fmtNum(v, digits = 3) {
  if (v == null || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  const opts = a >= 1000 ? { maximumFractionDigits: 0 } : a >= 10 ? { maximumFractionDigits: 1 } : { maximumSignificantDigits: digits };
  return new Intl.NumberFormat(locale(), opts).format(v);
}

export function fmtMetric(metric, v) {
  if (v == null) return "–";
  if (metric === "error_rate") return fmtNum(v * 100, 3) + " %";
  return fmtNum(v);
}

export function fmtPct(v) { return v == null ? "–" : fmtNum(v, 3) + " %"; }

export function fmtTime(iso, withDate = true) {
  if (!iso) return "–";
  const d = new Date(iso);
  return dateFormat(withDate ? { dateStyle: "short", timeStyle: "short" } : { timeStyle: "medium" }).format(d);
}

// A calendar day of the API ("2026-11-27", a UTC day).
export function fmtDay(day) {
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(day) : dateFormat({ dateStyle: "short", timeZone: "UTC" }).format(d);
}

// The engines write ISO stamps into their texts (explanations, evidence, steps): shown in the
// same format as every other date on the page. A stamp without a zone is UTC, as in the API.
const ISO_STAMP = /\b(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?(?!\d)/g;
function localStamps(text) {
  return String(text ?? "").replace(ISO_STAMP, (stamp, day, time, zone) => {
    if (!time) return fmtDay(day);
    const ms = Date.parse(`${day}T${time}${zone ? zone.replace(/^([+-]\d{2})(\d{2})$/, "$1:$2") : "Z"}`);
    return Number.isNaN(ms) ? stamp : fmtTime(new Date(ms).toISOString());
  });
}
export const escText = (v) => esc(localStamps(v));

export function fmtAge(iso) {
  if (!iso) return t("fresh.never");
  const s = (Date.parse(iso) - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  const a = Math.abs(s);
  if (a < 60) return rtf.format(Math.round(s), "second");
  if (a < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (a < 86400) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

export function fmtDuration(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${Math.round(seconds / 60)} min`;
}

export const metricName = (m) => t(`metric.${m}`);
// The detector's kind of event, translated when known; a new kind shows as the engine names it.
export const kindName = (k) => (STRINGS.en[`kind.${k}`] ? t(`kind.${k}`) : k);
