"""Error patterns: errors that rise with load, concentrate at certain hours of the day, or step up
after a change (a deployment or restart: a level shift in the error rate).

Owns the three tests (Spearman, Kruskal-Wallis, a single change point with Mann-Whitney), their
effect-size guards, and the order in which each explains away what the previous one found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._records import Effect, Note, PluginContext, Priority, Report, Suggestion, quantity, sig
from ._series import DAY, hourly, prepare, series, span_days, window

ANALYSIS = "errors"
ERRORS = "error_rate"
LOAD = "request_count"
MIN_SAMPLES_PER_HOUR = 3
MIN_DAYS_LOAD = 3
MIN_DAYS_HOUR = 7  # every hour of the day seen at least 7 times
MIN_DAYS_SHIFT = 3
# Hourly means are still autocorrelated, so p-values are optimistic: demand far more than 0.05.
MAX_P = 1e-4
MAX_P_SHIFT = 1e-6
MIN_RHO = 0.3
MIN_EXCESS = 0.005  # 0.5 percentage points of requests: less is not worth an engineer's day
MIN_RATIO = 1.5
RATE_FLOOR = 0.001  # the ratio of two tiny rates means nothing: measure against at least 0.1%
HIGH_EXCESS = 0.02
HIGH_RATE = 0.05
MIN_HOURS_PER_SIDE = 24
PEAK_QUANTILE = 0.95
LOAD_BINS = 10


def pp(rate: float) -> float:
    """An error rate (0..1) in percentage points, rounded like evidence."""
    return sig(100 * rate)


def _ratio(high: float, low: float) -> float:
    return high / max(low, RATE_FLOOR)


def load_curve(load: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean error rate per load decile, at each decile's median load: the load→error curve.

    Not a straight line: errors usually appear only past some load, and a line would leave that
    bend in the residuals, where the hour-of-day test would mistake it for a time-of-day pattern.
    """
    edges = np.quantile(load, np.linspace(0, 1, LOAD_BINS + 1))
    which = np.clip(np.searchsorted(edges, load, side="right") - 1, 0, LOAD_BINS - 1)
    xs = [np.median(load[which == b]) for b in range(LOAD_BINS) if np.any(which == b)]
    ys = [np.mean(err[which == b]) for b in range(LOAD_BINS) if np.any(which == b)]
    return np.asarray(xs), np.asarray(ys)


def with_load(hours: pd.DataFrame, report: Report) -> np.ndarray | None:
    """Errors rising with load; returns the fitted error rate per hour when it is a finding."""
    if LOAD not in hours.columns or len(hours) < MIN_DAYS_LOAD * 24 or hours[LOAD].nunique() < 10:
        report.skipped.append(
            Note("errors_with_load", f"needs {MIN_DAYS_LOAD} days of hourly request_count and error_rate")
        )
        return None
    load, err = hours[LOAD].to_numpy(), hours[ERRORS].to_numpy()
    rho, p = stats.spearmanr(load, err)
    n = len(load)
    half = 1.96 * 1.03 / np.sqrt(n - 3)  # Fisher z interval with the Spearman variance correction
    ci = np.tanh([np.arctanh(np.clip(rho, -0.999, 0.999)) - half, np.arctanh(np.clip(rho, -0.999, 0.999)) + half])
    curve_load, curve_err = load_curve(load, err)
    recent = hours[hours.index >= hours.index[-1] - 7 * DAY]
    peak_load = float(np.quantile(recent[LOAD], PEAK_QUANTILE))
    median_load = float(np.median(load))
    at_peak, at_median = (float(np.interp(x, curve_load, curve_err)) for x in (peak_load, median_load))
    excess = at_peak - at_median
    if not (p < MAX_P and rho >= MIN_RHO and excess >= MIN_EXCESS and _ratio(at_peak, at_median) >= MIN_RATIO):
        report.clear.append(
            Note(
                "errors_with_load",
                f"error rate not significantly higher under load (Spearman "
                f"rho={rho:.2f}, p={p:.2g}, +{100 * excess:.2g} pp at peak)",
            )
        )
        return None
    evidence = {
        "window": window(hours),
        "spearman_rho": sig(rho, 3),
        "spearman_rho_ci95": [sig(ci[0], 3), sig(ci[1], 3)],
        "spearman_p": sig(p, 3),
        "hours_used": n,
        "load_curve": [
            {"load": sig(x), "error_rate_pct": sig(100 * y)} for x, y in zip(curve_load, curve_err, strict=True)
        ],
        "current_peak_load": quantity(peak_load, "requests/interval", window="last 7 days, hourly 95th percentile"),
        "median_load": quantity(median_load, "requests/interval"),
        "error_rate_at_peak_pct": quantity(100 * at_peak, "%"),
        "error_rate_at_median_load_pct": quantity(100 * at_median, "%"),
        "error_rate_excess_at_peak_pp": quantity(100 * excess, "pp"),
    }
    at = f"current peak load {sig(peak_load):g} requests/interval brought to the median {sig(median_load):g}"
    priority = Priority.HIGH if excess >= HIGH_EXCESS or at_peak >= HIGH_RATE else Priority.MEDIUM
    report.suggestions.append(
        Suggestion(
            finding="errors_with_load",
            title=(
                f"Errors rise with load: {pp(at_peak):g}% at peak load vs {pp(at_median):g}% at median load "
                f"(Spearman rho {sig(rho, 3):g})"
            ),
            priority=priority,
            evidence=evidence,
            expected_effect=[
                Effect(
                    ERRORS,
                    -pp(excess),
                    "pp",
                    at,
                    f"on the fitted load→error line, peak-hour error rate falls from {pp(at_peak):g}% "
                    f"to {pp(at_median):g}%",
                )
            ],
            steps=[
                "Break the errors down by type at peak load (timeouts, pool exhaustion, 429/503 from a dependency): "
                "the type that grows with load is the bottleneck.",
                "Raise the exhausted limit (connection/thread pool, dependency quota) or scale out so that load per "
                f"instance stays near the median ({sig(median_load):g} requests/interval) at peak.",
                "Add retries with jitter and a circuit breaker for the dependency that fails under load, and "
                "backpressure (queue or 429) instead of failing requests.",
            ],
            model=f"Spearman rank correlation of hourly error rate with load over {n} hours; mean error rate per "
            f"load decile ({LOAD_BINS} bins, interpolated) for the effect",
        )
    )
    return np.interp(load, curve_load, curve_err)


def by_hour(hours: pd.DataFrame, explained: np.ndarray | None, report: Report) -> np.ndarray | None:
    """Errors concentrated at certain hours of the day; returns the hourly profile when a finding."""
    if span_days(hours) < MIN_DAYS_HOUR or hours.index.hour.nunique() < 24:
        report.skipped.append(Note("errors_by_hour", f"needs {MIN_DAYS_HOUR} days of hourly error_rate"))
        return None
    err = hours[ERRORS].to_numpy()
    # Hours that are busy are also error-prone when errors follow load: judge what load leaves.
    residual = err - explained + np.mean(explained) if explained is not None else err
    hour = hours.index.hour.to_numpy()
    groups = [residual[hour == h] for h in range(24)]
    _, p = stats.kruskal(*groups)
    profile = np.array([g.mean() for g in groups])
    worst = int(np.argmax(profile))
    bad = profile - np.median(profile) >= 0.5 * (profile[worst] - np.median(profile))
    in_bad, rest = residual[bad[hour]].mean(), residual[~bad[hour]].mean()
    excess = in_bad - rest
    if not (p < MAX_P and excess >= MIN_EXCESS and _ratio(in_bad, rest) >= MIN_RATIO):
        report.clear.append(
            Note(
                "errors_by_hour",
                f"no hour of the day with significantly more errors (Kruskal-Wallis p={p:.2g}, +{100 * excess:.2g} pp)",
            )
        )
        return None
    bad_hours = [h for h in range(24) if bad[h]]
    # Consistency: on how many days were the bad hours worse than the rest of that day?
    days = pd.Series(residual, index=hours.index).groupby(hours.index.floor("D"))
    consistent = float(
        np.mean(
            [
                g[bad[g.index.hour]].mean() > g[~bad[g.index.hour]].mean()
                for _, g in days
                if bad[g.index.hour].any() and (~bad[g.index.hour]).any()
            ]
        )
    )
    evidence = {
        "window": window(hours),
        "kruskal_p": sig(p, 3),
        "worst_hours_utc": bad_hours,
        "error_rate_in_worst_hours_pct": quantity(100 * in_bad, "%"),
        "error_rate_other_hours_pct": quantity(100 * rest, "%"),
        "excess_in_worst_hours_pp": quantity(100 * excess, "pp"),
        "daily_average_change_pp": quantity(-100 * excess * len(bad_hours) / 24, "pp"),
        "days_consistent_pct": quantity(100 * consistent, "%"),
        "load_explained_first": explained is not None,
        "hourly_profile_pct": [sig(100 * v, 3) for v in profile],
    }
    hours_text = ", ".join(f"{h:02d}:00" for h in bad_hours)
    priority = Priority.HIGH if excess >= HIGH_EXCESS or in_bad >= HIGH_RATE else Priority.MEDIUM
    report.suggestions.append(
        Suggestion(
            finding="errors_by_hour",
            title=(f"Errors peak at {hours_text} UTC: {pp(in_bad):g}% vs {pp(rest):g}% in other hours"),
            priority=priority,
            evidence=evidence,
            expected_effect=[
                Effect(
                    ERRORS,
                    -pp(excess),
                    "pp",
                    f"hours {hours_text} UTC",
                    f"error rate in those hours brought to the rest of the day's {pp(rest):g}%",
                ),
                Effect(
                    ERRORS,
                    sig(-100 * excess * len(bad_hours) / 24),
                    "pp",
                    "daily average",
                    "the worst hours' excess spread over the whole day",
                ),
            ],
            steps=[
                f"List what runs at {hours_text} UTC: cron jobs, batch imports, backups, cache expiry, "
                "certificate or token refresh, a dependency's maintenance window.",
                "Correlate the plugin's error logs in those hours with that schedule; move or throttle the job, "
                "or stagger cache expiry (TTL jitter).",
                "If a dependency is down in that window, add a fallback or retry with backoff around it.",
            ],
            model=(
                "Kruskal-Wallis test of hourly error rate by hour of day"
                + (" after removing the load effect" if explained is not None else "")
                + f" over {span_days(hours):.1f} days"
            ),
        )
    )
    return profile[hour] - profile.mean()


def after_shift(hours: pd.DataFrame, seasonal: np.ndarray | None, load_finding: bool, report: Report) -> None:
    """A lasting step up in error rate: the best single change point, tested by Mann-Whitney."""
    n = len(hours)
    if span_days(hours) < MIN_DAYS_SHIFT or n < 2 * MIN_HOURS_PER_SIDE:
        report.skipped.append(Note("errors_after_level_shift", f"needs {MIN_DAYS_SHIFT} days of hourly error_rate"))
        return
    err = hours[ERRORS].to_numpy()
    values = err - seasonal if seasonal is not None else err
    # The split maximising the standardised mean difference (binary segmentation, one step).
    cums = np.cumsum(values)
    k = np.arange(MIN_HOURS_PER_SIDE, n - MIN_HOURS_PER_SIDE + 1)
    before_mean, after_mean = cums[k - 1] / k, (cums[-1] - cums[k - 1]) / (n - k)
    score = (after_mean - before_mean) * np.sqrt(k * (n - k) / n)
    split = int(k[np.argmax(score)])
    before, after = values[:split], values[split:]
    _, p = stats.mannwhitneyu(after, before, alternative="greater")
    b, a = float(before.mean()), float(after.mean())
    last_day = float(values[-24:].mean())
    step = a - b
    lasting = last_day - b >= 0.5 * step
    if not (p < MAX_P_SHIFT and step >= MIN_EXCESS and _ratio(a, b) >= MIN_RATIO and lasting):
        report.clear.append(
            Note(
                "errors_after_level_shift",
                f"no lasting step up in error rate (Mann-Whitney p={p:.2g}, +{100 * step:.2g} pp)",
            )
        )
        return
    at_time = hours.index[split]
    load_change = None
    if LOAD in hours.columns:
        load = hours[LOAD].to_numpy()
        load_change = float(load[split:].mean() / max(load[:split].mean(), 1e-9) - 1)
        if load_finding and load_change >= 0.2:
            report.clear.append(
                Note(
                    "errors_after_level_shift",
                    f"error rate stepped up together with load (+{100 * load_change:.0f}%): see errors_with_load",
                )
            )
            return
    changed = at_time.isoformat()
    evidence = {
        "window": window(hours),
        "changed_at": changed,
        "error_rate_before_pct": quantity(100 * b, "%", window=f"{hours.index[0].isoformat()} .. {changed}"),
        "error_rate_after_pct": quantity(100 * a, "%", window=f"{changed} .. {hours.index[-1].isoformat()}"),
        "step_pp": quantity(100 * step, "pp"),
        "ratio_after_to_before": quantity(_ratio(a, b), "x"),
        "error_rate_last_24h_pct": quantity(100 * last_day, "%"),
        "mann_whitney_p": sig(p, 3),
        "hours_before": split,
        "hours_after": n - split,
    }
    if load_change is not None:
        evidence["load_change_pct"] = quantity(100 * load_change, "%")
    priority = Priority.HIGH if step >= HIGH_EXCESS or a >= HIGH_RATE else Priority.MEDIUM
    when = at_time.strftime("%Y-%m-%d %H:00 UTC")
    report.suggestions.append(
        Suggestion(
            finding="errors_after_level_shift",
            title=f"Error rate stepped up at {when}: {pp(b):g}% before, {pp(a):g}% after",
            priority=priority,
            evidence=evidence,
            expected_effect=[
                Effect(
                    ERRORS,
                    -pp(step),
                    "pp",
                    f"after {when}",
                    f"undoing the change restores the earlier {pp(b):g}% error rate",
                )
            ],
            steps=[
                f"Find what changed around {when}: deployments, configuration or feature-flag changes, restarts, "
                "dependency upgrades, infrastructure events.",
                "Compare error types before and after the change; if it was a release, roll it back or disable "
                "the feature flag and confirm the error rate returns to the earlier level.",
                "Fix forward with a test reproducing the new error, and ship future changes as canaries "
                "that are rolled back automatically when the error rate rises.",
            ],
            model=f"single change point in hourly error rate (maximum standardised mean difference, >= "
            f"{MIN_HOURS_PER_SIDE} h per side), Mann-Whitney test of after > before",
        )
    )


def analyse(history: pd.DataFrame, context: PluginContext) -> Report:
    """Run the three error analyses, each on what the previous ones did not already explain."""
    frame = prepare(history)
    report = Report()
    errors = series(frame, ERRORS)
    if errors.empty:
        report.skipped.append(Note(ANALYSIS, "no error_rate samples"))
        return report
    columns = [ERRORS] + ([LOAD] if LOAD in frame.columns and frame[LOAD].notna().any() else [])
    hours = hourly(frame[columns], MIN_SAMPLES_PER_HOUR)
    if span_days(hours) < min(MIN_DAYS_LOAD, MIN_DAYS_SHIFT):
        report.skipped.append(
            Note(ANALYSIS, f"needs {min(MIN_DAYS_LOAD, MIN_DAYS_SHIFT)} days of error_rate, has {span_days(hours):.1f}")
        )
        return report
    if hours[ERRORS].nunique() < 3:  # constant (usually all zero): nothing to rank or test
        report.clear.append(Note(ANALYSIS, f"error rate constant at {100 * hours[ERRORS].iloc[0]:.3g}%"))
        return report
    explained = with_load(hours, report)
    seasonal = by_hour(hours, explained, report)
    after_shift(hours, seasonal, explained is not None, report)
    return report
