"""CPU time of one IsolationForest fit as IsolationForestDetector makes it: sklearn's vs ``fit_isolation_forest``.

    PYTHONPATH=src nice python benchmarks/forest_fit.py [--rows 256] [--repeat 30]

X is several NAB realAWSCloudwatch metrics side by side, their one-step changes and the hour
(15 features, as for a 7-metric plugin). Prints CPU ms per fit (time.process_time), best of 3.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from plugin_ai_analytics.anomaly._forest_fit import fit_isolation_forest

NAB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"


def design(rows: int) -> np.ndarray:
    files = sorted(NAB.glob("*.csv"))[:7]
    values = np.column_stack([pd.read_csv(f)["value"].to_numpy(float)[:rows] for f in files])
    deltas = np.vstack([np.zeros((1, values.shape[1])), np.diff(values, axis=0)])
    hours = (np.arange(rows) * 5 / 60.0) % 24
    return np.column_stack([values, deltas, hours])


def cpu_ms(fit, repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for i in range(repeat):
            fit(i)
        best = min(best, (time.process_time() - t0) / repeat * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    X = design(args.rows)
    kw = {"n_estimators": 50, "max_samples": min(256, len(X)), "contamination": 0.1}
    fit_isolation_forest(X, random_state=0, **kw)  # imports
    IsolationForest(random_state=0, **kw).fit(X)
    before = cpu_ms(lambda i: IsolationForest(random_state=i, **kw).fit(X), args.repeat)
    after = cpu_ms(lambda i: fit_isolation_forest(X, random_state=i, **kw), args.repeat)
    print(
        f"X {X.shape}, 50 trees: sklearn IsolationForest {before:.1f} CPU ms/fit, "
        f"fit_isolation_forest {after:.1f} CPU ms/fit ({before / after:.1f}x)"
    )


if __name__ == "__main__":
    main()
