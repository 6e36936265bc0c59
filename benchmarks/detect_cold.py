"""CPU time of anomaly detection per plugin in batch analysis: cold (no detector state: the
detector learns the stored history) and warm (state loaded, nothing new to score).

    python benchmarks/detect_cold.py [--plugins 6] [--days 14] [--data-dir DIR]

Builds plugins with ``batch.py``'s synthetic 14-day, 5-minute, seven-metric histories, then runs
``detect_now`` exactly as a batch worker does (state flushed, detector forgotten after each
plugin). CPU time (``time.process_time``), not wall time: the figure that decides whether
1,000 plugins fit in the batch budget on 2 cores, whatever else the machine is running. The
first plugin is a throw-away that pays the one-off imports (scikit-learn, numpy paths).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from batch import plugin_rows  # noqa: E402

from plugin_ai_analytics.config import Settings  # noqa: E402
from plugin_ai_analytics.service import AnalyticsService  # noqa: E402
from plugin_ai_analytics.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugins", type=int, default=6, help="measured plugins (one more is built to warm imports)")
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--data-dir", default=None, help="reuse (or build into) this directory")
    args = ap.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="detect-bench-"))
    settings = Settings(data_dir=data_dir, log_dir=data_dir / "logs", scheduler_enabled=False, log_level="ERROR")
    ids = [f"bench-{i:04d}" for i in range(args.plugins + 1)]
    store = Store(settings.effective_database_url)
    end_ms = int(time.time() // 300 * 300 * 1000)
    for i, pid in enumerate(ids):
        if store.metrics.nth_latest_ts(pid, 1) is None:
            rows = plugin_rows(i, args.days, end_ms)
            for k in range(0, len(rows), 5000):
                store.metrics.insert(pid, rows[k : k + 5000])
    service = AnalyticsService(settings)
    detection = service.detection

    def run(pid: str) -> tuple[float, dict]:
        started = time.process_time()
        status = detection.detect_now(pid)
        detection.flush_states()
        detection.forget(pid)
        return time.process_time() - started, status

    cold, warm = [], []
    for n, pid in enumerate(ids):
        store.detector_states.delete(pid)  # cold: as if the plugin had just been imported
        cpu_cold, status = run(pid)
        cpu_warm, again = run(pid)
        if n == 0:
            continue
        cold.append(cpu_cold)
        warm.append(cpu_warm)
        print(
            f"{pid}: cold {cpu_cold:.3f} CPU-s (scored {status.scored_now}, {status.status}, "
            f"{len(status.open_anomalies)} open), warm {cpu_warm:.4f} CPU-s (scored {again.scored_now})"
        )
    samples = int(args.days * 288)
    print(
        f"{args.plugins} plugins x {samples} samples x 7 metrics: cold detect "
        f"mean {statistics.mean(cold):.3f} CPU-s (max {max(cold):.3f}), warm detect mean "
        f"{statistics.mean(warm):.4f} CPU-s (max {max(warm):.4f})"
    )


if __name__ == "__main__":
    main()
