"""Memory leak: resident memory that grows and is never given back.

Owns the fit (Theil-Sen slope of the daily memory floor), its significance and effect-size
guards, and the time until the configured memory limit at the fitted rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._records import Effect, Note, PluginContext, Priority, Report, Suggestion, quantity, sig
from ._series import DAY, hours_since, prepare, series, span_days, window

ANALYSIS = "leak"
MIN_DAYS = 5  # Kendall's test cannot reach p < 0.01 with fewer than 5 daily floors
FLOOR_QUANTILE = 0.10  # the post-GC floor: sawtooth peaks and daily-cycle highs don't move it
PEAK_QUANTILE = 0.99
MAX_P = 0.01
MIN_GROWTH_PER_DAY = 0.01  # of the memory level: slower growth is noise or cache warm-up
MIN_KEPT_SHARE = 0.5  # the last floor must keep at least half the fitted growth (not released)
HIGH_WITHIN_H = 72.0
MEDIUM_WITHIN_H = 30 * 24.0
RESTART_DROP = 0.25  # of the memory level, in one hour and lasting: a restart or a deliberate release


def daily_floors(memory: pd.Series) -> pd.DataFrame:
    """The low quantile of each complete 24 h block, counted back from the newest sample.

    Blocks are anchored at the end so the newest day is complete; a block with less than half the
    usual number of samples (a gap) is dropped rather than let a few samples stand for a day.
    """
    end = memory.index[-1]
    block = np.floor(np.asarray((end - memory.index) / DAY, dtype=float)).astype(int)
    full_blocks = int(np.floor(span_days(memory)))
    keep = block < full_blocks
    grouped = memory[keep].groupby(block[keep])
    counts = grouped.size()
    floors = grouped.quantile(FLOOR_QUANTILE)[counts >= 0.5 * counts.median()]
    centres = [end - (b + 0.5) * DAY for b in floors.index]
    return pd.DataFrame({"floor_mb": floors.to_numpy()}, index=pd.DatetimeIndex(centres)).sort_index()


def restarts(memory: pd.Series) -> list[pd.Timestamp]:
    """Hours where the memory floor fell by a quarter of its level or more and stayed down.

    A restart resets a leak: fitting one line across it would blur the rate (or hide the leak),
    so the fit uses only the data since the last restart.
    """
    floors = memory.resample("1h").quantile(FLOOR_QUANTILE).dropna()
    values = floors.to_numpy()
    if len(values) < 12:
        return []
    steps = np.diff(values)
    # GC sawtooth and noise move hourly floors a little; a restart moves them by far more.
    threshold = max(RESTART_DROP * float(np.median(values)), 10 * float(np.median(np.abs(steps))))
    found = []
    for i in np.flatnonzero(steps < -threshold) + 1:
        before, after = values[max(0, i - 6) : i], values[i : i + 6]
        if len(after) >= 3 and np.median(after) < np.median(before) - threshold:
            found.append(floors.index[i])
    return found


def analyse(history: pd.DataFrame, context: PluginContext) -> Report:
    """Report a memory leak when the daily floor rises significantly and is not released."""
    memory = series(prepare(history), "memory_mb")
    report = Report()
    restarted = restarts(memory) if span_days(memory) >= MIN_DAYS else []
    if restarted:
        memory = memory[memory.index >= restarted[-1]]
        if span_days(memory) < MIN_DAYS:
            report.skipped.append(
                Note(
                    ANALYSIS,
                    f"memory dropped (restart) at {restarted[-1].isoformat()}; "
                    f"needs {MIN_DAYS} days since, has {span_days(memory):.1f}",
                )
            )
            return report
    if span_days(memory) < MIN_DAYS:
        report.skipped.append(Note(ANALYSIS, f"needs {MIN_DAYS} days of memory_mb, has {span_days(memory):.1f}"))
        return report
    floors = daily_floors(memory)
    if len(floors) < MIN_DAYS:
        report.skipped.append(Note(ANALYSIS, f"only {len(floors)} days with enough memory_mb samples"))
        return report

    origin = memory.index[0]
    t = hours_since(floors.index, origin)
    y = floors["floor_mb"].to_numpy()
    if np.ptp(y) == 0:  # a flat floor has no trend (and a rank test on it is undefined)
        report.clear.append(Note(ANALYSIS, f"daily memory floor constant at {y[0]:.4g} MiB"))
        return report
    slope, intercept, lo, hi = stats.theilslopes(y, t, alpha=0.95)
    tau, p = stats.kendalltau(t, y)
    level = float(np.median(y))
    growth_per_day = slope * 24 / max(level, 1e-9)
    fitted_growth = slope * (t[-1] - t[0])
    kept = (y[-1] - y[0]) / fitted_growth if fitted_growth > 0 else 0.0

    if not (lo > 0 and p < MAX_P and tau > 0):
        report.clear.append(
            Note(
                ANALYSIS,
                f"no significant growth of the daily memory floor (slope "
                f"{slope:.3g} MiB/h, 95% CI {lo:.3g}..{hi:.3g}, Kendall p={p:.2g})",
            )
        )
        return report
    if growth_per_day < MIN_GROWTH_PER_DAY:
        report.clear.append(
            Note(
                ANALYSIS, f"memory floor grows {100 * growth_per_day:.2g}%/day, below {100 * MIN_GROWTH_PER_DAY:g}%/day"
            )
        )
        return report
    if kept < MIN_KEPT_SHARE:
        report.clear.append(
            Note(
                ANALYSIS,
                f"memory grows but is given back (the newest floor kept {100 * kept:.0f}% of the fitted growth)",
            )
        )
        return report

    h_end = hours_since(pd.DatetimeIndex([memory.index[-1]]), origin)[0]
    # The limit is hit by the top of the sawtooth, not its floor: project the detrended peak.
    detrended = memory.to_numpy() - slope * hours_since(memory.index, origin)
    recent = memory.index >= memory.index[-1] - 7 * DAY
    peak_now = slope * h_end + float(np.quantile(detrended[recent], PEAK_QUANTILE))
    floor_now = intercept + slope * h_end

    rate = sig(slope)
    evidence = {
        "window": window(memory),
        "growth_rate_mib_per_h": quantity(slope, "MiB/h"),
        "growth_rate_ci95_mib_per_h": [sig(lo), sig(hi)],
        "growth_per_day_pct_of_level": quantity(100 * growth_per_day, "%/day"),
        "kendall_tau": sig(tau),
        "kendall_p": sig(p),
        "growth_kept_pct": quantity(100 * kept, "%"),
        "current_floor_mb": quantity(floor_now, "MiB"),
        "current_peak_mb": quantity(peak_now, "MiB", window="last 7 days, detrended 99th percentile"),
        "restarts_detected": [ts.isoformat() for ts in restarted],
        "daily_floor_mb": [
            {"day_centre": ts.isoformat(), "value": sig(v)} for ts, v in zip(floors.index, y, strict=True)
        ],
    }
    effects = [
        Effect(
            "memory_mb",
            -sig(slope * 24),
            "MiB/day",
            "every day once the leak is fixed",
            f"the daily memory floor stops rising by {sig(slope * 24):g} MiB/day",
        )
    ]
    evidence["growth_mib_per_day"] = quantity(slope * 24, "MiB/day")
    limit = context.memory_limit_mb
    if limit is not None and limit > 0:
        ttl_h = max(0.0, (limit - peak_now) / slope)
        evidence["memory_limit_mb"] = quantity(limit, "MiB")
        evidence["time_to_limit_h"] = quantity(ttl_h, "h")
        evidence["time_to_limit_days"] = quantity(ttl_h / 24, "days")
        title = f"Memory leak: {rate:g} MiB/h without release, reaches the {sig(limit):g} MiB limit in {sig(ttl_h):g} h"
        effects.append(
            Effect(
                "memory_mb",
                sig(ttl_h),
                "h",
                f"memory limit {sig(limit):g} MiB",
                f"an out-of-memory kill expected in {sig(ttl_h):g} h is avoided",
            )
        )
        priority = (
            Priority.HIGH if ttl_h <= HIGH_WITHIN_H else (Priority.MEDIUM if ttl_h <= MEDIUM_WITHIN_H else Priority.LOW)
        )
    else:
        title = f"Memory leak: {rate:g} MiB/h without release (no memory limit configured)"
        priority = Priority.MEDIUM
    if restarted:
        title += f" (since the restart at {restarted[-1].strftime('%Y-%m-%d %H:%M')} UTC)"
    steps = [
        "Take two heap snapshots a few hours apart (tracemalloc / objgraph, or the runtime's heap profiler) "
        "and diff them: the growing type is the leak.",
        "Look first at unbounded caches, module-level lists/dicts, listeners or callbacks never removed, "
        "and connections or file handles not closed.",
        "Bound what must be kept (LRU with a size limit, TTL) and release the rest; add a regression test "
        "that runs the hot path many times and asserts resident memory is flat.",
        "Until it is fixed, set a memory limit with headroom and a scheduled restart before the time to limit.",
    ]
    report.suggestions.append(
        Suggestion(
            finding="memory_leak",
            title=title,
            priority=priority,
            evidence=evidence,
            expected_effect=effects,
            steps=steps,
            model=f"Theil-Sen slope of the daily {100 * FLOOR_QUANTILE:.0f}% memory floor over {len(floors)} days, "
            "Kendall trend test",
        )
    )
    return report
