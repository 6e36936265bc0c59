"""Recurring daily peaks: load (or CPU) that climbs to the same hour every day, well above the
daily median, so that moving deferrable work into the trough or caching would flatten it.

Owns the hour-of-day profile, its strength and day-to-day consistency, and the peak reduction
that moving a stated share of the above-median load into the trough would give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._records import Effect, Note, PluginContext, Priority, Report, Suggestion, quantity, sig
from ._series import hourly, prepare, span_days, window

ANALYSIS = "peaks"
CANDIDATES = ("request_count", "cpu_percent")
MIN_DAYS = 7
MIN_SAMPLES_PER_HOUR = 3
MIN_SEASONAL_R2 = 0.5  # the hour of day explains at least half the hourly variance
MIN_PEAK_RATIO = 1.5  # peak hour at least 1.5x the daily median
MIN_CONSISTENT_DAYS = 0.7  # the day's peak falls within +-2 h of the usual peak hour on 70% of days
PEAK_TOLERANCE_H = 2
DEFERRABLE_SHARE = 0.3  # assumed share of above-median peak load that can move or be served from cache
MEDIUM_PEAK_RATIO = 2.5
MIN_REDUCTION = 0.10  # a smaller cut does not change how many instances the peak needs
MIN_PEAK_CPU_PERCENT = 10.0  # flattening a peak of a few % of one core saves nothing real


def analyse(history: pd.DataFrame, context: PluginContext) -> Report:
    """Report a strong, consistent daily peak with the reduction that flattening it would give."""
    frame = prepare(history)
    report = Report()
    metric = next((m for m in CANDIDATES if m in frame.columns and frame[m].notna().any()), None)
    if metric is None:
        report.skipped.append(Note(ANALYSIS, "needs request_count or cpu_percent"))
        return report
    hours = hourly(frame[metric].dropna(), MIN_SAMPLES_PER_HOUR)
    if span_days(hours) < MIN_DAYS or hours.index.hour.nunique() < 24:
        report.skipped.append(Note(ANALYSIS, f"needs {MIN_DAYS} days of hourly {metric}, has {span_days(hours):.1f}"))
        return report
    hour = hours.index.hour.to_numpy()
    # Median across days per hour: one odd day (an incident, a holiday) does not make a peak.
    profile = np.array([np.median(hours.to_numpy()[hour == h]) for h in range(24)])
    r2 = 1 - np.var(hours.to_numpy() - profile[hour]) / max(np.var(hours.to_numpy()), 1e-12)
    median = float(np.median(profile))
    peak_hour = int(np.argmax(profile))
    peak = float(profile[peak_hour])
    ratio = peak / max(median, 1e-9)
    by_day = hours.groupby(hours.index.floor("D"))
    day_peaks = [int(g.index.hour[np.argmax(g.to_numpy())]) for _, g in by_day if len(g) >= 20]
    distance = [min(abs(h - peak_hour), 24 - abs(h - peak_hour)) for h in day_peaks]
    consistent = float(np.mean(np.asarray(distance) <= PEAK_TOLERANCE_H)) if distance else 0.0
    if not (r2 >= MIN_SEASONAL_R2 and ratio >= MIN_PEAK_RATIO and consistent >= MIN_CONSISTENT_DAYS):
        report.clear.append(
            Note(
                ANALYSIS,
                f"no strong recurring daily peak in {metric} (hour-of-day R²={r2:.2f}, "
                f"peak/median={ratio:.2f}, consistent on {100 * consistent:.0f}% of days)",
            )
        )
        return report

    above = np.clip(profile - median, 0, None)
    room = np.clip(median - profile, 0, None)
    # Only what fits under the median in the trough can move there.
    share = min(DEFERRABLE_SHARE, room.sum() / max(above.sum(), 1e-12))
    new_peak = peak - share * (peak - median)
    reduction = (peak - new_peak) / peak
    if reduction < MIN_REDUCTION or (metric == "cpu_percent" and peak < MIN_PEAK_CPU_PERCENT):
        report.clear.append(
            Note(
                ANALYSIS,
                f"daily peak of {metric} too small to be worth flattening (peak "
                f"{peak:.3g}, achievable cut {100 * reduction:.2g}%)",
            )
        )
        return report
    trough_hour = int(np.argmin(profile))
    unit = "requests/interval" if metric == "request_count" else "% of one core"
    evidence = {
        "window": window(hours),
        "metric": metric,
        "hour_of_day_r2": sig(r2, 3),
        "peak_hour_utc": peak_hour,
        "trough_hour_utc": trough_hour,
        "peak_hour_level": quantity(peak, unit),
        "daily_median_level": quantity(median, unit),
        "peak_to_median_ratio": quantity(ratio, "x"),
        "days_peaking_within_2h_pct": quantity(100 * consistent, "%"),
        "deferrable_share_assumed_pct": quantity(100 * share, "%"),
        "peak_after_flattening": quantity(new_peak, unit),
        "peak_reduction_pct": quantity(100 * reduction, "%"),
        "hourly_profile": [sig(v) for v in profile],
    }
    effects = [
        Effect(
            metric,
            -sig(100 * reduction),
            "%",
            f"daily peak at {peak_hour:02d}:00 UTC",
            f"moving {sig(100 * share):g}% of the load above the daily median into the trough "
            f"takes the peak from {sig(peak):g} to {sig(new_peak):g} {unit}",
        )
    ]
    if metric == "request_count" and "cpu_percent" in frame.columns:
        pair = hourly(frame[["request_count", "cpu_percent"]].dropna(), MIN_SAMPLES_PER_HOUR)
        if len(pair) >= 48:
            slope, intercept = np.polyfit(pair["request_count"], pair["cpu_percent"], 1)
            fitted = intercept + slope * pair["request_count"]
            r2_cpu = 1 - np.var(pair["cpu_percent"] - fitted) / max(np.var(pair["cpu_percent"]), 1e-12)
            cpu_peak = intercept + slope * peak
            if r2_cpu >= 0.5 and slope > 0 and cpu_peak > 0:
                cpu_change = -slope * (peak - new_peak) / cpu_peak
                evidence.update(
                    {
                        "cpu_per_request_percent": quantity(slope, "% of one core per request/interval"),
                        "cpu_load_fit_r2": sig(r2_cpu, 3),
                        "cpu_at_peak_percent": quantity(cpu_peak, "% of one core"),
                        "cpu_peak_change_pct": quantity(100 * cpu_change, "%"),
                    }
                )
                effects.append(
                    Effect(
                        "cpu_percent",
                        sig(100 * cpu_change),
                        "%",
                        effects[0].at,
                        f"from the fitted CPU-per-request line, peak CPU {sig(cpu_peak):g}% of a core "
                        "falls with the moved load",
                    )
                )
    priority = Priority.MEDIUM if ratio >= MEDIUM_PEAK_RATIO else Priority.LOW
    report.suggestions.append(
        Suggestion(
            finding="daily_peak",
            title=(
                f"Daily peak at {peak_hour:02d}:00 UTC, {sig(ratio):g}x the daily median {metric}: moving "
                f"{sig(100 * share):g}% of the excess to {trough_hour:02d}:00 cuts the peak by "
                f"{sig(100 * reduction):g}%"
            ),
            priority=priority,
            evidence=evidence,
            expected_effect=effects,
            steps=[
                f"Find the deferrable work in the {peak_hour:02d}:00 UTC peak: batch jobs, report generation, "
                "syncs, e-mails, re-indexing; schedule it around the trough at "
                f"{trough_hour:02d}:00 UTC or run it through a queue drained at a fixed rate.",
                "Cache the responses that dominate the peak (read-heavy endpoints) with a TTL covering the peak, "
                "and pre-warm the cache before it.",
                "Size autoscaling for the flattened peak and re-run this analysis to confirm the reduction.",
            ],
            model=f"hour-of-day profile (median across {len(day_peaks)} days) of hourly {metric}, strength R² and "
            f"peak consistency; {sig(100 * share):g}% of the above-median load moved into the trough",
        )
    )
    return report
