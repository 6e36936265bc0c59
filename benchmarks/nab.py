"""NAB benchmark of the anomaly engine: the detect command's engine over every NAB file, scored twice.

Runs ``detect_frame`` (exactly the production ``PluginDetector``) over ../shared/data/nab, writes
``<category>/<file>.csv`` results, scores ``anomaly_score`` (NAB protocol, threshold optimised
over the corpus) and ``alert`` (the product's own decisions) with ../shared/bench/nab_score.py,
and measures per-sample latency and serialised state size per plugin.

    python benchmarks/nab.py [--out DIR] [--processes 2]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = SHARED / "data" / "nab" / "data"
WINDOWS = SHARED / "data" / "nab" / "labels" / "combined_windows.json"
SCORER = SHARED / "bench" / "nab_score.py"
sys.path.insert(0, str(REPO / "src"))

from plugin_ai_analytics.anomaly import PluginDetector, detect_frame  # noqa: E402


def run_file(args: tuple[str, str]) -> tuple[str, float]:
    src, dst = args
    df = pd.read_csv(src)
    started = time.perf_counter()
    out = detect_frame(df)
    elapsed = time.perf_counter() - started
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(dst, index=False)
    return src, elapsed / len(df)


def score(out_dir: Path, column: str) -> dict:
    """Run the NAB scorer on ``column``; return its JSON result (and echo its table)."""
    json_path = out_dir / f"score_{column}.json"
    cmd = [sys.executable, str(SCORER), str(out_dir), "--windows", str(WINDOWS), "--json", str(json_path)]
    if column != "anomaly_score":
        cmd += ["--score-column", column]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print(proc.stdout)
    return json.loads(json_path.read_text())


def latency_and_state(path: Path, multi: bool) -> dict:
    """Per-sample update latency (all samples after warm-up) and the state size at the end.

    ``multi``: feed six metrics per sample (the product's shape) built from the file's values,
    so the state-size figure is for a realistic plugin, not a one-metric NAB series.
    """
    df = pd.read_csv(path)
    times = pd.to_datetime(df["timestamp"], utc=True)
    x = df["value"].to_numpy(float)
    rng = np.random.default_rng(0)
    det = PluginDetector()
    lat = []
    for i in range(len(df)):
        if multi:
            v = float(x[i])
            sample = {
                "cpu_percent": v,
                "memory_mb": 500.0 + 0.01 * i + rng.normal(0, 2),
                "response_time_ms": 80.0 + v + rng.normal(0, 3),
                "error_rate": min(1.0, abs(rng.normal(0.01, 0.003))),
                "request_count": float(rng.poisson(200)),
                "active_users": float(rng.poisson(40)),
            }
        else:
            sample = {"value": float(x[i])}
        t0 = time.perf_counter()
        det.update(times.iloc[i].to_pydatetime(), sample)
        lat.append(time.perf_counter() - t0)
    lat_ms = np.array(lat[det.warmup :]) * 1000
    state = json.dumps(det.to_state())
    # Memory held by one plugin's detector: what restoring it from its state allocates.
    loaded = json.loads(state)
    gc.collect()
    tracemalloc.start()
    restored = PluginDetector.from_state(loaded)
    gc.collect()
    ram, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del restored
    return {
        "samples": len(df),
        "p50_ms": float(np.percentile(lat_ms, 50)),
        "p99_ms": float(np.percentile(lat_ms, 99)),
        "max_ms": float(lat_ms.max()),
        "state_bytes": len(state.encode()),
        "ram_bytes": ram,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "nab"))
    ap.add_argument("--processes", type=int, default=2)
    a = ap.parse_args(argv)
    out_dir = Path(a.out)
    files = sorted(DATA.glob("*/*.csv"))
    jobs = [(str(f), str(out_dir / f.parent.name / f.name)) for f in files]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(2, a.processes)) as pool:
        per_sample = list(pool.map(run_file, jobs))
    wall = time.perf_counter() - started
    print(
        f"{len(files)} files, {wall:.1f} s wall with {min(2, a.processes)} processes, "
        f"mean {1000 * np.mean([s for _, s in per_sample]):.3f} ms/sample\n"
    )

    print("== anomaly_score (NAB protocol: threshold optimised over the corpus)")
    nab = score(out_dir, "anomaly_score")
    print("== alert (the product's own yes/no decisions)")
    alert = score(out_dir, "alert")

    sample_file = DATA / "realAWSCloudwatch" / "ec2_cpu_utilization_825cc2.csv"
    single = latency_and_state(sample_file, multi=False)
    six = latency_and_state(sample_file, multi=True)
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "anomaly_score": {
            p: {k: r[k] for k in ("score", "threshold", "window_recall", "fp_share", "detections")}
            for p, r in nab["profiles"].items()
        },
        "alert": {
            p: {k: r[k] for k in ("score", "window_recall", "fp_share", "detections")}
            for p, r in alert["profiles"].items()
        },
        "latency_one_metric": single,
        "latency_six_metrics": six,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    for name, res in (("anomaly_score", nab), ("alert", alert)):
        r = res["profiles"]
        print(
            f"{name:14s} standard {r['standard']['score']:6.2f}  "
            f"low-FP {r['reward_low_FP_rate']['score']:6.2f}  "
            f"low-FN {r['reward_low_FN_rate']['score']:6.2f}  recall {r['standard']['window_recall']:.3f}  "
            f"FP share {r['standard']['fp_share']:.3f}  detections {r['standard']['detections']}"
        )
    for name, m in (("1 metric", single), ("6 metrics", six)):
        print(
            f"latency {name}: p50 {m['p50_ms']:.3f} ms, p99 {m['p99_ms']:.3f} ms, "
            f"max {m['max_ms']:.1f} ms; "
            f"state {m['state_bytes'] / 1024:.0f} KiB JSON, {m['ram_bytes'] / 1024:.0f} KiB RAM "
            f"after {m['samples']} samples"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
