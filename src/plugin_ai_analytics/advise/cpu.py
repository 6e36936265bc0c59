"""CPU right-sizing: an allocation far above what the plugin ever uses (headroom), or one it keeps
hitting (saturation).

Owns the percentile-based recommended allocation with its safety margin, the saving or the
extra cores it implies, and the latency penalty observed while saturated.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ._records import Effect, Note, PluginContext, Priority, Report, Suggestion, quantity, sig
from ._series import prepare, series, span_days, window

ANALYSIS = "cpu"
CPU = "cpu_percent"
MIN_DAYS_HEADROOM = 7  # a downsizing must have seen a whole week, weekly peaks included
MIN_DAYS_SATURATION = 1
MARGIN = 1.5  # recommended allocation = 1.5 x p99 use: p99 sits at two thirds of it, peaks still fit
TARGET_UTILISATION = 0.7  # after an upsizing, p99 use should sit at 70% of the allocation
STEP_PERCENT = 10.0  # allocations move in tenths of a core
MAX_HEADROOM_USE = 0.4  # p99 use at or under 40% of the allocation before right-sizing is worth it
MIN_SAVING_PERCENT = 25.0  # a quarter of a core at least
MEDIUM_SAVING_SHARE = 0.5
SATURATED_AT = 0.85  # of the allocation
MIN_SATURATED_SHARE = 0.05  # of the time
HIGH_SATURATED_SHARE = 0.10
MAX_P = 1e-4


def round_up(percent: float) -> float:
    return max(STEP_PERCENT, math.ceil(percent / STEP_PERCENT - 1e-9) * STEP_PERCENT)


def analyse(history: pd.DataFrame, context: PluginContext) -> Report:
    """Report CPU headroom worth giving back, or saturation calling for more CPU."""
    frame = prepare(history)
    cpu = series(frame, CPU)
    report = Report()
    allocation = context.cpu_allocation_percent
    if allocation is None:
        report.skipped.append(Note(ANALYSIS, "CPU allocation unknown (set cpu_cores or cpu_limit_percent)"))
        return report
    if span_days(cpu) < MIN_DAYS_SATURATION:
        report.skipped.append(
            Note(ANALYSIS, f"needs {MIN_DAYS_SATURATION} day of cpu_percent, has {span_days(cpu):.1f}")
        )
        return report
    saturated = cpu >= SATURATED_AT * allocation
    share = float(saturated.mean())
    p95, p99, peak = (float(v) for v in np.quantile(cpu, [0.95, 0.99, 1.0]))
    base = {
        "window": window(cpu),
        "allocation_percent": quantity(allocation, "% of one core"),
        "allocation_cores": quantity(allocation / 100, "cores"),
        "cpu_p95_percent": quantity(p95, "% of one core"),
        "cpu_p99_percent": quantity(p99, "% of one core"),
        "cpu_max_percent": quantity(peak, "% of one core"),
        "p99_share_of_allocation_pct": quantity(100 * p99 / allocation, "%"),
    }
    if share >= MIN_SATURATED_SHARE:
        report.suggestions.append(_saturation(frame, cpu, saturated, share, p99, allocation, base))
        return report
    if span_days(cpu) < MIN_DAYS_HEADROOM:
        report.skipped.append(
            Note(
                "cpu_headroom", f"needs {MIN_DAYS_HEADROOM} days of cpu_percent to right-size, has {span_days(cpu):.1f}"
            )
        )
        return report
    recommended = round_up(MARGIN * p99)
    saving = allocation - recommended
    if p99 > MAX_HEADROOM_USE * allocation or saving < MIN_SAVING_PERCENT:
        report.clear.append(
            Note(
                ANALYSIS,
                f"CPU fits its allocation (p99 {100 * p99 / allocation:.0f}% of it, "
                f"{100 * share:.1f}% of time above {100 * SATURATED_AT:g}%)",
            )
        )
        return report
    evidence = dict(base)
    evidence.update(
        {
            "margin_over_p99": quantity(MARGIN, "x"),
            "recommended_allocation_percent": quantity(recommended, "% of one core"),
            "recommended_allocation_cores": quantity(recommended / 100, "cores"),
            "saving_cores": quantity(saving / 100, "cores"),
            "saving_pct_of_allocation": quantity(100 * saving / allocation, "%"),
            "p99_share_of_recommended_pct": quantity(100 * p99 / recommended, "%"),
            "max_share_of_recommended_pct": quantity(100 * peak / recommended, "%"),
        }
    )
    priority = Priority.MEDIUM if saving / allocation >= MEDIUM_SAVING_SHARE else Priority.LOW
    report.suggestions.append(
        Suggestion(
            finding="cpu_headroom",
            title=(
                f"CPU over-provisioned: p99 use {sig(p99):g}% of a core against {sig(allocation):g}% allocated; "
                f"{sig(recommended):g}% is enough, saving {sig(saving / 100):g} cores"
            ),
            priority=priority,
            evidence=evidence,
            expected_effect=[
                Effect(
                    "cpu_allocation",
                    -sig(saving / 100),
                    "cores",
                    "every instance",
                    f"allocation from {sig(allocation / 100):g} to {sig(recommended / 100):g} cores "
                    f"({sig(100 * saving / allocation):g}% less)",
                ),
                Effect(
                    CPU,
                    sig(100 * p99 / recommended),
                    "% of allocation",
                    "p99 use at the new allocation",
                    f"p99 use {sig(p99):g}% of a core fills {sig(100 * p99 / recommended):g}% of it; the "
                    f"maximum seen fills {sig(100 * peak / recommended):g}%",
                ),
            ],
            steps=[
                f"Lower the CPU request/limit to {sig(recommended / 100):g} cores ({sig(recommended):g}% of one core).",
                "Roll it out to one instance first and watch p99 CPU, throttling counters and p95 response time "
                "for a full week, weekly peaks included.",
                "Keep an alert on CPU above 85% of the new allocation; re-run this analysis after a month.",
            ],
            model=f"{MARGIN:g} x the 99th percentile of cpu_percent over {span_days(cpu):.1f} days, rounded up "
            f"to {STEP_PERCENT / 100:g} core",
        )
    )
    return report


def _saturation(
    frame: pd.DataFrame, cpu: pd.Series, saturated: pd.Series, share: float, p99: float, allocation: float, base: dict
) -> Suggestion:
    # Saturated samples are censored at the limit, so p99 underestimates demand: the upsizing below
    # is a floor, to be confirmed by re-running the analysis once the limit is raised.
    recommended = round_up(max(p99, SATURATED_AT * allocation) / TARGET_UTILISATION)
    recommended = max(recommended, allocation + STEP_PERCENT)
    evidence = dict(base)
    evidence.update(
        {
            "saturated_threshold_percent": quantity(SATURATED_AT * allocation, "% of one core"),
            "share_of_time_saturated_pct": quantity(100 * share, "%"),
            "recommended_allocation_percent": quantity(recommended, "% of one core"),
            "recommended_allocation_cores": quantity(recommended / 100, "cores"),
            "extra_cores": quantity((recommended - allocation) / 100, "cores"),
        }
    )
    hours = saturated.groupby(saturated.index.hour).mean()
    evidence["saturated_hours_utc"] = [int(h) for h in hours.index if hours[h] >= 2 * share]
    effects = [
        Effect(
            CPU,
            -sig(100 * share),
            "pp of time",
            "saturated intervals",
            f"with {sig(recommended / 100):g} cores, today's p99 use fills {sig(100 * p99 / recommended):g}% "
            "of the allocation instead of hitting the limit",
        )
    ]
    evidence["p99_share_of_recommended_pct"] = quantity(100 * p99 / recommended, "%")
    latency_hurt = False
    if "response_time_ms" in frame.columns:
        pair = frame[[CPU, "response_time_ms"]].dropna()
        if len(pair) > 50:
            hot = pair[CPU] >= SATURATED_AT * allocation
            varies = pair[CPU].nunique() > 2 and pair["response_time_ms"].nunique() > 2
            if varies and hot.sum() >= 10 and (~hot).sum() >= 10:
                rho, p_rho = stats.spearmanr(pair[CPU], pair["response_time_ms"])
                _, p = stats.mannwhitneyu(
                    pair["response_time_ms"][hot], pair["response_time_ms"][~hot], alternative="greater"
                )
                slow, normal = (
                    float(pair["response_time_ms"][hot].median()),
                    float(pair["response_time_ms"][~hot].median()),
                )
                evidence.update(
                    {
                        "spearman_rho_cpu_latency": sig(rho, 3),
                        "spearman_p": sig(p_rho, 3),
                        "response_time_ms_saturated_median": quantity(slow, "ms"),
                        "response_time_ms_unsaturated_median": quantity(normal, "ms"),
                        "mann_whitney_p": sig(p, 3),
                    }
                )
                if p < MAX_P and slow > normal:
                    latency_hurt = True
                    change = (normal - slow) / slow
                    evidence["response_time_ms_change_pct"] = quantity(100 * change, "%")
                    effects.append(
                        Effect(
                            "response_time_ms",
                            sig(100 * change),
                            "%",
                            "saturated intervals",
                            f"median response time while saturated {sig(slow):g} ms vs {sig(normal):g} ms otherwise",
                        )
                    )
    priority = Priority.HIGH if share >= HIGH_SATURATED_SHARE or latency_hurt else Priority.MEDIUM
    return Suggestion(
        finding="cpu_saturation",
        title=(
            f"CPU saturated {sig(100 * share):g}% of the time (at or above {sig(SATURATED_AT * allocation):g}% "
            f"of one core); raise the allocation to {sig(recommended / 100):g} cores"
        ),
        priority=priority,
        evidence=evidence,
        expected_effect=effects,
        steps=[
            f"Raise the CPU limit to at least {sig(recommended / 100):g} cores, or scale out so each instance "
            f"stays below {sig(SATURATED_AT * allocation):g}% of one core.",
            "Profile the busiest intervals (py-spy / perf) for hot loops, serialisation or regex costs that a "
            "cache or a better algorithm removes.",
            "Re-run the analysis afterwards: saturated samples hide the true demand, so the new p99 is the "
            "real sizing input.",
        ],
        model=(
            f"time share of cpu_percent at or above {100 * SATURATED_AT:g}% of the allocation over "
            f"{span_days(cpu):.1f} days; upsizing to put p99 at {100 * TARGET_UTILISATION:g}% of it"
            + (", Mann-Whitney of response time saturated vs not" if latency_hurt else "")
        ),
    )
