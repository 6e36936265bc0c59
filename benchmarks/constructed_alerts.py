"""Pages of the anomaly engine on the constructed series with a known truth (benchmarks/constructed.py):
how many fall inside a true event (a burst or a regime shift and the two hours after it, an incident
from its ramp to its end) and how many events get a page, for each ``confirm_in_range``.

A check of the paging rule on data it was not chosen on (bursty heavy-tailed counts, latency
regimes, a slow ramp into an incident), not a tuning set.

    python benchmarks/constructed_alerts.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from constructed import constructed_series  # noqa: E402

from plugin_ai_analytics.anomaly import PluginDetector  # noqa: E402

AFTER = pd.Timedelta(hours=2)  # a burst or a shift counts as caught by a page within this


def main() -> int:
    totals: dict[tuple[str, int], list[int]] = {}
    for c in constructed_series():
        windows = [(t, t + AFTER) for t in (*c.bursts, *c.shifts)]
        if c.incident:
            windows.append((c.incident[0], c.incident[2]))
        metric = "request_count" if c.kind == "bursty_counts" else "response_time_ms"
        times = [t.to_pydatetime() for t in c.series.index]
        for confirm in (1, 2, 3):
            verdicts = PluginDetector(confirm_in_range=confirm).update_many(times, {metric: c.series.to_list()})
            pages = [c.series.index[i] for i, v in enumerate(verdicts) if v.alert]
            outside = sum(1 for p in pages if not any(a <= p <= b for a, b in windows))
            caught = sum(1 for a, b in windows if any(a <= p <= b for p in pages))
            t = totals.setdefault((c.kind, confirm), [0, 0, 0, 0])
            t[0] += len(pages)
            t[1] += outside
            t[2] += caught
            t[3] += len(windows)
    for (kind, confirm), (pages, outside, caught, events) in sorted(totals.items()):
        print(
            f"{kind:15s} confirm_in_range {confirm}: {pages:2d} pages, {outside:2d} outside the true events, "
            f"{caught}/{events} events paged"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
