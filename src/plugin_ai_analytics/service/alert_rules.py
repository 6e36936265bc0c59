"""The alert rules judged on a schedule (like Prometheus rules): every evaluation reads the store
in a fixed handful of aggregate queries and says which conditions hold now; the alerting part
fires what is new, escalates what got worse and resolves what no longer holds.

Predictive: a forecast that reaches a limit, a trend that reaches one (time to impact). The
seed's: accuracy at or below 70 %, a training or prediction that failed, too little data after a
day. Beside them: intervals that stopped covering, a failing source, stale data, the service's
own backlog, and the ongoing conditions (``conditions.py``). Anomaly events alert on their own,
in the transaction that stores them (``alerting.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..alerting import AlertDraft
from ..config import Settings
from ..domain import FORECAST_METRICS
from ..jobs.base import Executor
from ..logs import log_event
from ..store import Store
from ..times import DAY_MS, HOUR_MS, ms_to_iso, to_ms
from .conditions import CONDITION_WINDOW_MS, judged_limits, ongoing_conditions
from .forecasts import Forecasts
from .health import STALE_INTERVALS, forecast_risks
from .sources import Sources
from .tracking import RETRAIN_BELOW_ACCURACY

__all__ = ["EVALUATED_RULES", "AlertRules"]

ACCURACY_ALERT_PERCENT = RETRAIN_BELOW_ACCURACY  # the seed's 70 %: at or below it alerts
ACCURACY_MIN_SCORED = 12  # scored predictions in the last day before accuracy is judged
COVERAGE_ALERT_BELOW = 0.6  # an "80 %" interval that held the actual less often than this
COVERAGE_MIN_SCORED = 48
SOURCE_FAILURES = 3  # consecutive failed reads of a source before it alerts
QUEUE_BACKLOG_JOBS = 20  # background jobs waiting before the service alerts on itself
TIME_TO_LIMIT_HIGH_H = 24.0
TIME_TO_LIMIT_MEDIUM_H = 72.0
READINESS_PER_EVALUATION = 50  # plugins whose history is read to judge "too little data" per round

EVALUATED_RULES = (
    "ongoing_condition",
    "forecast_crosses_limit",
    "time_to_limit",
    "model_accuracy_low",
    "intervals_not_covering",
    "training_failed",
    "prediction_failed",
    "too_little_data",
    "source_failing",
    "data_stale",
    "queue_backlog",
)

_CONDITION_ACTIONS = {
    "saturated": (
        "Find what uses the CPU now: hot endpoints, runaway jobs, a retry storm.",
        "If the load is legitimate, raise the plugin's CPU allocation or add instances.",
        "Shed or defer non-essential work until it is back under its allocation.",
    ),
    "near_limit": (
        "Check for a leak (memory that grows without being released; see the plugin's suggestions).",
        "Restart the plugin in a quiet moment before it is killed at its limit.",
        "If the working set is legitimate, raise the memory limit or shrink caches.",
    ),
    "high_error_rate": (
        "Read the plugin's error logs for the failing requests and their common cause.",
        "Check its dependencies (database, downstream services) and recent deployments; roll back one that coincides.",
        "Shed load or open a circuit breaker toward a failing dependency to limit the damage.",
    ),
}
_FORECAST_ACTIONS = {
    "memory_mb": (
        "Before the forecast time, raise the memory limit or add instances.",
        "Look for a leak: steady growth without release points at one (see the plugin's suggestions).",
    ),
    "cpu_percent": (
        "Before the forecast time, raise the CPU allocation or add instances.",
        "Move batch work away from the forecast peak.",
    ),
    "error_rate": ("Investigate the rising errors now, before they reach the limit: logs, dependencies, deployments.",),
}


class AlertRules:
    def __init__(
        self, *, store: Store, settings: Settings, sources: Sources, forecasts: Forecasts, jobs: Executor
    ) -> None:
        # Like the health overview it reads across record kinds, in aggregate queries.
        self._store = store
        self._settings = settings
        self._sources = sources
        self._forecasts = forecasts
        self._jobs = jobs
        self._readiness: dict[str, tuple[int, Any]] = {}  # plugin -> (when, training readiness)

    def evaluate(self, now: int) -> tuple[dict[str, AlertDraft], set[str]]:
        """What holds now, by fingerprint, and the rules that could be judged (a rule that failed is
        left out, so its alerts are neither resolved nor fired on a guess)."""
        plugins = [p for p in self._store.plugins.all() if p.get("enabled", True)]
        extents = self._store.metrics.extents()
        checks: list[tuple[str, Callable[[], Iterator[AlertDraft]]]] = [
            ("ongoing_condition", lambda: self._conditions(now, plugins)),
            ("forecast_crosses_limit", lambda: self._forecast_limits(now, plugins)),
            ("time_to_limit", lambda: self._time_to_limit(now)),
            ("model_accuracy_low", lambda: self._accuracy(now)),
            ("intervals_not_covering", lambda: self._coverage(now)),
            ("training_failed", lambda: self._training_failed(now)),
            ("prediction_failed", lambda: self._prediction_failed()),
            ("too_little_data", lambda: self._too_little_data(now, plugins, extents)),
            ("source_failing", lambda: self._source_failing(plugins)),
            ("data_stale", lambda: self._stale(now, plugins, extents)),
            ("queue_backlog", lambda: self._backlog()),
        ]
        drafts: dict[str, AlertDraft] = {}
        judged: set[str] = set()
        for rule, check in checks:
            try:
                found = list(check())
            except Exception as exc:  # one rule's failure must not stop the others
                log_event(logging.ERROR, "alerting", f"rule {rule} could not be evaluated: {exc!r}")
                continue
            judged.add(rule)
            drafts.update((d.fingerprint, d) for d in found)
        return drafts, judged

    def _conditions(self, now: int, plugins: list[dict[str, Any]]) -> Iterator[AlertDraft]:
        levels = self._store.metrics.recent_levels(now - CONDITION_WINDOW_MS)
        for plugin in plugins:
            pid = plugin["plugin_id"]
            for c in ongoing_conditions(levels.get(pid, {}), plugin):
                yield AlertDraft(
                    rule="ongoing_condition",
                    plugin_id=pid,
                    metric=c["metric"],
                    severity="High",
                    summary=f"{pid}: {c['summary']} (last hour)",
                    evidence={"condition": c["kind"], "value": c["value"], "limit": c["limit"], "window": "1h"},
                    actions=_CONDITION_ACTIONS.get(c["kind"], ()),
                    key=c["kind"],
                )

    def _forecast_limits(self, now: int, plugins: list[dict[str, Any]]) -> Iterator[AlertDraft]:
        horizon_ms = int(self._settings.prediction_horizon_hours * HOUR_MS)
        forecasts = self._store.predictions.forecast_extremes(now, horizon_ms)
        crossing = self._store.predictions.first_crossing
        for plugin in plugins:
            pid = plugin["plugin_id"]
            if pid not in forecasts:
                continue
            limits = {m: v for m, v in judged_limits(plugin).items() if v is not None}
            risks = forecast_risks(
                forecasts[pid], limits, lambda metric, column, limit, pid=pid: crossing(pid, metric, column, limit, now)
            )
            for risk in risks:
                metric = risk["metric"]
                if risk["kind"] == "rising":
                    summary = (
                        f"{pid}: {metric} forecast to rise from {risk['from_value']:.4g} to {risk['value']:.4g} "
                        "over the next 24 h"
                    )
                    evidence = {"from": risk["from_value"], "to": risk["value"]}
                else:
                    which = "forecast" if risk["level"] == "high" else "forecast's 95 % upper bound"
                    at = risk["at"]
                    hours = None if at is None else max(0.0, (_ms(at) - now) / HOUR_MS)
                    when = f" at {at} (in ~{hours:.1f} h)" if hours is not None else " within 24 h"
                    summary = f"{pid}: {metric} {which} reaches its limit {risk['limit']:.4g}{when}"
                    evidence = {
                        "forecast_peak": risk["value"],
                        "limit": risk["limit"],
                        "at": at,
                        "hours_to_impact": hours,
                    }
                yield AlertDraft(
                    rule="forecast_crosses_limit",
                    plugin_id=pid,
                    metric=metric,
                    severity="High" if risk["level"] == "high" else "Medium",
                    summary=summary,
                    evidence=evidence,
                    actions=_FORECAST_ACTIONS.get(metric, ()),
                )

    def _time_to_limit(self, now: int) -> Iterator[AlertDraft]:
        for s in self._store.suggestions.with_evidence("time_to_limit_h", now - 2 * DAY_MS):
            ttl = s["evidence"]["time_to_limit_h"]
            hours = float(ttl["value"] if isinstance(ttl, dict) else ttl) - (now - s["updated_at"]) / HOUR_MS
            hours = max(0.0, hours)
            severity = (
                "High" if hours <= TIME_TO_LIMIT_HIGH_H else "Medium" if hours <= TIME_TO_LIMIT_MEDIUM_H else "Low"
            )
            metric = "memory_mb" if "memory" in s["finding"] else None
            yield AlertDraft(
                rule="time_to_limit",
                plugin_id=s["plugin_id"],
                metric=metric,
                severity=severity,
                summary=f"{s['plugin_id']}: {s['title']} (~{hours:.1f} h from now)",
                evidence={**s["evidence"], "hours_to_impact": round(hours, 2)},
                actions=tuple(s["steps"] or ()),
                key=s["finding"],
            )

    def _accuracy(self, now: int) -> Iterator[AlertDraft]:
        from ..forecast import accuracy_from_sums  # start-up cost: the engines load on first use

        for pid, metrics in self._store.predictions.error_totals(now - DAY_MS).items():
            for metric, m in metrics.items():
                if metric not in FORECAST_METRICS or m["scored"] < ACCURACY_MIN_SCORED or m["abs_actual"] <= 0:
                    continue
                accuracy = float(accuracy_from_sums(m["abs_error"], m["abs_actual"]))
                if accuracy > ACCURACY_ALERT_PERCENT:
                    continue
                yield AlertDraft(
                    rule="model_accuracy_low",
                    plugin_id=pid,
                    metric=metric,
                    severity="Medium",
                    summary=f"{pid}: {metric} forecast accuracy {accuracy:.1f} % over the last day (≤ 70 %)",
                    evidence={
                        "accuracy_percent": round(accuracy, 2),
                        "scored_predictions": m["scored"],
                        "window": "24h",
                    },
                    actions=(
                        f"Retrain the models (POST /api/plugin-ai-analytics/train-models/{pid}); it also retrains "
                        "by itself while accuracy stays below 70 %.",
                        "Look for a change of regime (deployment, traffic shift) that makes old history misleading.",
                    ),
                )

    def _coverage(self, now: int) -> Iterator[AlertDraft]:
        for pid, metrics in self._store.predictions.coverage_totals(now - DAY_MS).items():
            for metric, c in metrics.items():
                if c["scored"] < COVERAGE_MIN_SCORED:
                    continue
                share = c["inside_80"] / c["scored"]
                if share >= COVERAGE_ALERT_BELOW:
                    continue
                yield AlertDraft(
                    rule="intervals_not_covering",
                    plugin_id=pid,
                    metric=metric,
                    severity="Low",
                    summary=f"{pid}: the 80 % forecast interval of {metric} held the actual only {100 * share:.0f} % "
                    "of the time over the last day",
                    evidence={"coverage_80": round(share, 3), "scored_predictions": c["scored"], "window": "24h"},
                    actions=(
                        "Retrain: the intervals were fitted on history that no longer resembles the plugin.",
                        "Until then, read the forecast's bounds as too narrow.",
                    ),
                )

    def _training_failed(self, now: int) -> Iterator[AlertDraft]:
        newest: dict[str, dict[str, Any]] = {}
        for job in self._store.jobs.recent(limit=500):
            if job["kind"] == "train_models" and job["plugin_id"] and job["status"] in ("succeeded", "failed"):
                newest.setdefault(job["plugin_id"], job)  # newest first
        for pid, job in newest.items():
            code = (job.get("result") or {}).get("error") if job["status"] == "failed" else None
            if job["status"] != "failed" or code == "insufficient_data" or now - job["created_at"] > DAY_MS:
                continue
            yield AlertDraft(
                rule="training_failed",
                plugin_id=pid,
                metric=None,
                severity="Medium",
                summary=f"{pid}: training failed: {(job['error'] or 'unknown error')[:300]}",
                evidence={"job_id": job["job_id"], "failed_at": ms_to_iso(job["finished_at"]), "error": job["error"]},
                actions=(
                    f"Read the job (GET /api/plugin-ai-analytics/jobs/{job['job_id']}).",
                    "Retrain; if it fails again, check the history for gaps or constant series.",
                ),
            )

    def _prediction_failed(self) -> Iterator[AlertDraft]:
        for (pid, metric), (at, error) in list(self._forecasts.failures.items()):
            yield AlertDraft(
                rule="prediction_failed",
                plugin_id=pid,
                metric=metric,
                severity="Medium",
                summary=f"{pid}: the {metric} forecast could not be made: {error[:300]}",
                evidence={"failed_at": ms_to_iso(at), "error": error},
                actions=(
                    "A model that fails its integrity check is refused, never used: retrain to replace it.",
                    "If history is missing, check the plugin is still sending samples.",
                ),
            )

    def _too_little_data(
        self, now: int, plugins: list[dict[str, Any]], extents: dict[str, Any]
    ) -> Iterator[AlertDraft]:
        trained = {m["plugin_id"] for m in self._store.models.active()}
        budget = READINESS_PER_EVALUATION
        for plugin in plugins:
            pid = plugin["plugin_id"]
            extent = extents.get(pid)
            if pid in trained or not extent or extent["first_ts"] > now - DAY_MS or extent["last_ts"] < now - DAY_MS:
                continue
            when, readiness = self._readiness.get(pid, (0, None))
            # it reads the plugin's history: at most hourly, and for a bounded number of plugins per
            # evaluation (the rest keep their last answer, or wait for the next round)
            if (readiness is None or now - when > HOUR_MS) and budget > 0:
                budget -= 1
                readiness = self._forecasts.readiness(pid)
                self._readiness[pid] = (now, readiness)
            if readiness is None or readiness.ready:
                continue
            yield AlertDraft(
                rule="too_little_data",
                plugin_id=pid,
                metric=None,
                severity="Low",
                summary=f"{pid}: sending for a day and still too little data to train: "
                f"{readiness.needed_hours:g} more hours of samples needed",
                evidence={"have_hours": readiness.have_hours, "needed_hours": readiness.needed_hours},
                actions=(
                    f"Keep the plugin sending: training needs {readiness.needed_hours:g} more hours of samples.",
                    "Check it samples at a steady interval: long gaps do not count toward the history.",
                ),
            )

    def _source_failing(self, plugins: list[dict[str, Any]]) -> Iterator[AlertDraft]:
        for plugin in plugins:
            if not plugin.get("source"):
                continue
            status = self._sources.status(plugin["plugin_id"])
            if status is None or status.failures < SOURCE_FAILURES:
                continue
            pid, kind = plugin["plugin_id"], plugin["source"].get("type")
            yield AlertDraft(
                rule="source_failing",
                plugin_id=pid,
                metric=None,
                severity="Medium",
                summary=f"{pid}: its {kind} source failed {status.failures} times in a row: {status.last_error}"[:500],
                evidence={"failures": status.failures, "last_error": status.last_error, "since": status.failing_since},
                actions=(
                    f"Check that the {kind} source is reachable from this service and answers as registered.",
                    f"Fix the registration if the source moved (PUT /api/plugin-ai-analytics/plugins/{pid}).",
                ),
            )

    def _stale(self, now: int, plugins: list[dict[str, Any]], extents: dict[str, Any]) -> Iterator[AlertDraft]:
        for plugin in plugins:
            pid = plugin["plugin_id"]
            extent = extents.get(pid)
            interval_ms = float(plugin.get("interval_seconds") or 60.0) * 1000
            if not extent or now - extent["last_ts"] <= STALE_INTERVALS * interval_ms:
                continue
            age_h = (now - extent["last_ts"]) / HOUR_MS
            yield AlertDraft(
                rule="data_stale",
                plugin_id=pid,
                metric=None,
                severity="Medium",
                summary=f"{pid}: no sample for {age_h:.1f} h (more than {STALE_INTERVALS} intervals of "
                f"{interval_ms / 1000:g} s)",
                evidence={"last_sample": ms_to_iso(extent["last_ts"]), "age_hours": round(age_h, 2)},
                actions=(
                    "Check the plugin is running and its collector (or registered source) is sending.",
                    "If the plugin was retired, disable or delete its registration.",
                ),
            )

    def _backlog(self) -> Iterator[AlertDraft]:
        depth = self._jobs.queue_depth
        if depth >= QUEUE_BACKLOG_JOBS:
            yield AlertDraft(
                rule="queue_backlog",
                plugin_id=None,
                metric=None,
                severity="Medium",
                summary=f"plugin-ai-analytics: {depth} background jobs waiting or running",
                evidence={"queue_depth": depth, "workers": self._jobs.workers},
                actions=(
                    "Look for stuck or slow training jobs (GET /api/plugin-ai-analytics/jobs?status=running).",
                    "Give the service more cores (AI_ANALYTICS_CPU_CORES) or spread batch analyses out.",
                ),
            )


def _ms(iso: str) -> int:
    return int(to_ms(iso) or 0)
