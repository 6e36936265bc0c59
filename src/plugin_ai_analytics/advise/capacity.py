"""Capacity knee: response time that rises with load faster past some load level.

Owns the hockey-stick (two-segment linear) fit of load → latency with the knee chosen by least
squares, the test against a straight line, and the effect of capping load per instance at the knee.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._records import Effect, Note, PluginContext, Priority, Report, Suggestion, quantity, sig
from ._series import DAY, prepare, span_days, window

ANALYSIS = "capacity"
LOAD = "request_count"
MIN_PAIRS = 288  # a day of 5-minute samples
MIN_DAYS = 1.0
BINS = 25
MIN_PER_BIN = 5
MIN_BINS = 8
MAX_P = 0.01
MIN_SLOPE_RATIO = 3.0  # past the knee latency must climb at least 3x as fast as before it
MIN_EFFECT = 0.10  # capping at the knee must cut latency at peak load by at least 10%
HIGH_EFFECT = 0.30
HIGH_SHARE_ABOVE = 0.10
PEAK_QUANTILE = 0.95
PEAK_WINDOW = 7 * DAY


@dataclass(frozen=True, slots=True)
class HingeFit:
    """latency = intercept + below * load + (above - below) * max(0, load - knee)."""

    knee: float
    intercept: float
    below: float
    above: float
    sse: float

    def predict(self, load: float | np.ndarray) -> np.ndarray:
        load = np.asarray(load, dtype=float)
        return self.intercept + self.below * load + (self.above - self.below) * np.maximum(0.0, load - self.knee)


def load_curve(load: np.ndarray, latency: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Median load and latency in equal-width load bins: a robust, evenly weighted curve.

    Equal width rather than equal count, so the rare high-load region (where the knee is) weighs
    as much as the crowded typical load; medians so a few slow outliers don't bend it.
    """
    edges = np.linspace(lo, hi, BINS + 1)
    which = np.clip(np.digitize(load, edges) - 1, 0, BINS - 1)
    inside = (load >= lo) & (load <= hi)
    xs, ys = [], []
    for b in range(BINS):
        members = inside & (which == b)
        if members.sum() >= MIN_PER_BIN:
            xs.append(np.median(load[members]))
            ys.append(np.median(latency[members]))
    return np.asarray(xs), np.asarray(ys)


def fit_hinge(x: np.ndarray, y: np.ndarray, knee: float) -> HingeFit:
    design = np.column_stack([np.ones_like(x), x, np.maximum(0.0, x - knee)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    sse = float(np.sum((design @ coef - y) ** 2))
    return HingeFit(knee, float(coef[0]), float(coef[1]), float(coef[1] + coef[2]), sse)


def best_hinge(x: np.ndarray, y: np.ndarray) -> HingeFit:
    """The knee by least squares over a fine grid between the third and third-last bin.

    All 200 candidate knees are fitted at once (a stack of pseudo-inverses): same fits as one
    ``fit_hinge`` per knee, without 200 rounds of Python and LAPACK call overhead.
    """
    grid = np.linspace(x[2], x[-3], 200)
    designs = np.stack(
        [np.ones((len(grid), len(x))), np.broadcast_to(x, (len(grid), len(x))), np.maximum(0.0, x - grid[:, None])],
        axis=2,
    )
    coefs = np.linalg.pinv(designs) @ y
    sse = np.sum((np.einsum("knp,kp->kn", designs, coefs) - y) ** 2, axis=1)
    k = int(np.argmin(sse))
    c = coefs[k]
    return HingeFit(float(grid[k]), float(c[0]), float(c[1]), float(c[1] + c[2]), float(sse[k]))


def analyse(history: pd.DataFrame, context: PluginContext) -> Report:
    """Report a capacity knee when latency bends upward with load and peak load is past it."""
    frame = prepare(history)
    report = Report()
    if LOAD not in frame.columns or "response_time_ms" not in frame.columns:
        report.skipped.append(Note(ANALYSIS, "needs request_count and response_time_ms"))
        return report
    pairs = frame[[LOAD, "response_time_ms"]].dropna()
    if len(pairs) < MIN_PAIRS or span_days(pairs) < MIN_DAYS:
        report.skipped.append(
            Note(
                ANALYSIS,
                f"needs {MIN_PAIRS} samples over {MIN_DAYS:g} day with both "
                f"request_count and response_time_ms, has {len(pairs)}",
            )
        )
        return report
    load = pairs[LOAD].to_numpy()
    lo, hi = np.quantile(load, [0.01, 0.99])
    x, y = load_curve(load, pairs["response_time_ms"].to_numpy(), lo, hi)
    if len(x) < MIN_BINS or hi <= lo:
        report.skipped.append(Note(ANALYSIS, f"load varies too little to fit a curve ({len(x)} load levels)"))
        return report

    fit = best_hinge(x, y)
    line = np.polyfit(x, y, 1)
    sse_line = float(np.sum((np.polyval(line, x) - y) ** 2))
    dof = len(x) - 4  # intercept, two slopes, and the knee itself
    f_stat = ((sse_line - fit.sse) / 2) / max(fit.sse / dof, 1e-12)
    p = float(stats.f.sf(f_stat, 2, dof))
    bends = fit.above > 0 and (fit.below <= 0 or fit.above >= MIN_SLOPE_RATIO * fit.below)
    if not (p < MAX_P and bends):
        report.clear.append(
            Note(
                ANALYSIS,
                f"no knee in load→latency (F-test p={p:.2g}, slopes {fit.below:.3g} → {fit.above:.3g} ms per request)",
            )
        )
        return report

    recent = pairs[pairs.index >= pairs.index[-1] - PEAK_WINDOW]
    peak_load = float(np.quantile(recent[LOAD], PEAK_QUANTILE))
    if peak_load <= fit.knee:
        report.clear.append(
            Note(ANALYSIS, f"knee at {fit.knee:.3g} req/interval, but peak load {peak_load:.3g} is below it")
        )
        return report
    at_peak = float(fit.predict(peak_load))
    at_knee = float(fit.predict(fit.knee))
    change = (at_knee - at_peak) / at_peak
    if -change < MIN_EFFECT:
        report.clear.append(
            Note(
                ANALYSIS,
                f"capping load at the knee would change latency by {100 * change:.2g}%, below {100 * MIN_EFFECT:g}%",
            )
        )
        return report

    share_above = float(np.mean(load > fit.knee))
    knee, peak = sig(fit.knee), sig(peak_load)
    peak_window = f"last {PEAK_WINDOW / DAY:g} days, {100 * PEAK_QUANTILE:g}th percentile"
    evidence = {
        "window": window(pairs),
        "knee_load": quantity(fit.knee, "requests/interval"),
        "slope_below_knee": quantity(fit.below, "ms per request/interval"),
        "slope_above_knee": quantity(fit.above, "ms per request/interval"),
        "f_test_p_vs_line": sig(p),
        "load_levels_fitted": len(x),
        "current_peak_load": quantity(peak_load, "requests/interval", window=peak_window),
        "share_of_time_above_knee_pct": quantity(100 * share_above, "%"),
        "scale_out_factor": quantity(peak_load / fit.knee, "x"),
        "response_time_ms_at_peak": quantity(at_peak, "ms"),
        "response_time_ms_at_knee": quantity(at_knee, "ms"),
        "response_time_ms_change_pct": quantity(100 * change, "%"),
        "curve": [{"load": sig(a), "response_time_ms": sig(b)} for a, b in zip(x, y, strict=True)],
    }
    at = f"current peak load {peak:g} requests/interval capped at {knee:g} per instance"
    effects = [
        Effect(
            "response_time_ms",
            sig(100 * change),
            "%",
            at,
            f"mean response time from {sig(at_peak):g} ms to {sig(at_knee):g} ms on the fitted curve",
        )
    ]
    worst = change
    p95 = frame[[LOAD, "response_time_p95_ms"]].dropna() if "response_time_p95_ms" in frame.columns else None
    if p95 is not None and len(p95) >= MIN_PAIRS:
        x95, y95 = load_curve(p95[LOAD].to_numpy(), p95["response_time_p95_ms"].to_numpy(), lo, hi)
        if len(x95) >= MIN_BINS:
            fit95 = fit_hinge(x95, y95, fit.knee)  # same knee: one capacity limit, two views of it
            p95_peak, p95_knee = float(fit95.predict(peak_load)), float(fit95.predict(fit.knee))
            change95 = (p95_knee - p95_peak) / p95_peak
            evidence["response_time_p95_ms_at_peak"] = quantity(p95_peak, "ms")
            evidence["response_time_p95_ms_at_knee"] = quantity(p95_knee, "ms")
            evidence["response_time_p95_ms_change_pct"] = quantity(100 * change95, "%")
            evidence["p95_slope_above_knee"] = quantity(fit95.above, "ms per request/interval")
            effects.append(
                Effect(
                    "response_time_p95_ms",
                    sig(100 * change95),
                    "%",
                    at,
                    f"p95 response time from {sig(p95_peak):g} ms to {sig(p95_knee):g} ms",
                )
            )
            worst = min(worst, change95)
    priority = Priority.HIGH if -worst >= HIGH_EFFECT and share_above >= HIGH_SHARE_ABOVE else Priority.MEDIUM
    title = (
        f"Capacity knee at {knee:g} requests/interval: peak load {peak:g} is past it; capping load per "
        f"instance there cuts response time by {abs(sig(100 * worst)):g}%"
    )
    steps = [
        f"Scale out so that no instance serves more than about {knee:g} requests per interval at peak "
        f"(about {sig(peak_load / fit.knee):g}x today's capacity), or autoscale on request rate with that target.",
        "Alternatively set a concurrency limit per instance at the knee and queue or shed the excess "
        "with a clear 429/503 so latency of admitted requests stays on the flat part of the curve.",
        "Find what saturates at the knee (thread/connection pool size, DB connections, CPU, locks) and raise "
        "that limit: a higher knee is the cheaper fix.",
        "Re-run this analysis after the change: the knee should move right or peak load should fall below it.",
    ]
    report.suggestions.append(
        Suggestion(
            finding="capacity_knee",
            title=title,
            priority=priority,
            evidence=evidence,
            expected_effect=effects,
            steps=steps,
            model=f"piecewise-linear load→latency fit on {len(x)} load levels (bin medians), knee at {knee:g} "
            "requests/interval chosen by least squares, F-test against a straight line",
        )
    )
    return report
