"""24 h forecast benchmark on real AWS CloudWatch series (NAB realAWSCloudwatch): our engine
against statsforecast AutoTheta / MSTL / AutoARIMA, Prophet, naive, seasonal naive and the seed's
RandomForest, all scored the same way on the same origins.

Protocol (issue 3): every series with at least 5 days; the last 3 days are each forecast 24 h
ahead from everything before them (3 origins, one per day). MASE is scaled by the in-sample daily
seasonal-naive error; accuracy = 100 x (1 - WAPE); coverage = share of actuals inside the 80 % /
95 % intervals; time = seconds per fit + 24 h forecast with intervals.

    nice python benchmarks/forecast.py                 # everything (about 25 minutes on 2 cores)
    nice python benchmarks/forecast.py --only ours     # just our engine (about 20 s)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from plugin_ai_analytics.forecast import accuracy, backtest, coverage, mase, seasonal_scale  # noqa: E402
from plugin_ai_analytics.forecast._series import prepare  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"
HORIZON = pd.Timedelta(hours=24)
ORIGINS = 3
MIN_SPAN = pd.Timedelta(days=5)

# A peer gets the history values, their timestamps and the horizon (steps) and returns
# (point, lower_80, upper_80, lower_95, upper_95), or None for the intervals it cannot make.
Peer = Callable[[np.ndarray, pd.DatetimeIndex, int, int], tuple[np.ndarray, ...]]


def load(path: Path) -> pd.Series:
    frame = pd.read_csv(path, parse_dates=["timestamp"])
    return pd.Series(
        frame["value"].to_numpy(float), index=pd.DatetimeIndex(frame["timestamp"]).tz_localize("UTC")
    )


def _sf(make: Callable[[int], object]) -> Peer:
    def run(y: np.ndarray, ts: pd.DatetimeIndex, h: int, season: int) -> tuple[np.ndarray, ...]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = make(season).forecast(y=y, h=h, level=[80, 95])  # type: ignore[attr-defined]
        return out["mean"], out["lo-80"], out["hi-80"], out["lo-95"], out["hi-95"]

    return run


def _auto_theta(season: int) -> object:
    from statsforecast.models import AutoTheta

    return AutoTheta(season_length=season)


def _mstl(season: int) -> object:
    from statsforecast.models import MSTL, AutoETS

    return MSTL(season_length=season, trend_forecaster=AutoETS(model="ZZN"))


def _auto_arima(season: int) -> object:
    from statsforecast.models import AutoARIMA

    # Seasonal differencing is searched, seasonal AR/MA terms are not: with a period of 288
    # each seasonal term makes the state 288 wide, and the full search took over 200 s per
    # fit here (3 hours for the benchmark).
    return AutoARIMA(season_length=season, max_P=0, max_Q=0)


def _naive(season: int) -> object:
    from statsforecast.models import Naive

    return Naive()


def _seasonal_naive(season: int) -> object:
    from statsforecast.models import SeasonalNaive

    return SeasonalNaive(season_length=season)


def _prophet(y: np.ndarray, ts: pd.DatetimeIndex, h: int, season: int) -> tuple[np.ndarray, ...]:
    import logging

    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    step = ts[1] - ts[0]
    hist = pd.DataFrame({"ds": ts.tz_localize(None), "y": y})
    future = pd.DataFrame({"ds": pd.date_range(ts[-1] + step, periods=h, freq=step).tz_localize(None)})
    model = Prophet(interval_width=0.80)
    model.fit(hist)
    p80 = model.predict(future)
    model.interval_width = 0.95
    p95 = model.predict(future)
    return (
        p80["yhat"].to_numpy(),
        p80["yhat_lower"].to_numpy(),
        p80["yhat_upper"].to_numpy(),
        p95["yhat_lower"].to_numpy(),
        p95["yhat_upper"].to_numpy(),
    )


def _seed_random_forest(y: np.ndarray, ts: pd.DatetimeIndex, h: int, season: int) -> tuple[np.ndarray, ...]:
    """The seed's model as it stands: StandardScaler + RandomForestRegressor over hour of day,
    weekday and the metric's previous 24 h (hourly lags), direct for the 24 h ahead; no intervals."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    step = ts[1] - ts[0]
    per_hour = max(1, round(pd.Timedelta(hours=1) / step))
    lags = h + per_hour * np.arange(24)  # every feature at least one horizon old
    times = pd.date_range(ts[0], periods=len(y) + h, freq=step)
    hours = times.hour.to_numpy() + times.minute.to_numpy() / 60
    weekdays = times.weekday.to_numpy()
    full = np.concatenate([y, np.full(h, np.nan)])

    def features(t: np.ndarray) -> np.ndarray:
        return np.column_stack([hours[t], weekdays[t], *[full[t - lag] for lag in lags]])

    train_t = np.arange(lags.max(), len(y))
    model = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=1))
    model.fit(features(train_t), y[train_t])
    point = model.predict(features(np.arange(len(y), len(y) + h)))
    return (point,)


PEERS: dict[str, Peer] = {
    "statsforecast AutoTheta": _sf(_auto_theta),
    "statsforecast MSTL (ETS trend)": _sf(_mstl),
    "statsforecast AutoARIMA (P=Q=0)": _sf(_auto_arima),
    "Prophet": _prophet,
    "naive (last value)": _sf(_naive),
    "seasonal naive (daily)": _sf(_seasonal_naive),
    "seed RandomForest (lags + time)": _seed_random_forest,
}


def score_rows(rows: list[dict]) -> dict[str, float]:
    """Mean MASE over series, median accuracy over series, pooled coverage, mean seconds."""

    def per_series(key: str) -> np.ndarray:
        names = sorted({r["series"] for r in rows})
        return np.array([np.mean([r[key] for r in rows if r["series"] == n]) for n in names])

    def pooled(key: str) -> float:
        vals = [r[key] for r in rows if r[key] is not None]
        return float(np.mean(vals)) if vals else math.nan

    return {
        "mase": float(np.mean(per_series("mase"))),
        "accuracy": float(np.median(per_series("accuracy"))),
        "coverage_80": pooled("coverage_80"),
        "coverage_95": pooled("coverage_95"),
        "seconds": float(np.mean([r["seconds"] for r in rows])),
        "cpu_seconds": float(np.mean([r["cpu_seconds"] for r in rows])),
    }


def run_ours(series: dict[str, pd.Series]) -> list[dict]:
    rows = []
    for name, s in series.items():
        report = backtest(s, horizon=HORIZON, origins=ORIGINS)
        for o in report.origins:
            rows.append(
                {
                    "series": name,
                    "mase": o.mase,
                    "accuracy": o.accuracy,
                    "coverage_80": o.coverage_80,
                    "coverage_95": o.coverage_95,
                    "seconds": o.fit_seconds,
                    "cpu_seconds": o.fit_cpu_seconds,
                    "model": o.model,
                }
            )
    return rows


def run_peer(peer: Peer, series: dict[str, pd.Series]) -> list[dict]:
    rows = []
    for name, s in series.items():
        grid = prepare(s, HORIZON)
        y = grid.values
        ts = pd.DatetimeIndex(grid.start + grid.step * np.arange(len(y)))
        h = math.ceil(HORIZON / grid.step)
        season = round(pd.Timedelta(days=1) / grid.step)
        for k in range(ORIGINS, 0, -1):
            o = len(y) - k * h
            actual = y[o : o + h]
            t0, c0 = time.perf_counter(), time.process_time()
            out = peer(y[:o], ts[:o], h, season)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            point = np.asarray(out[0], dtype=float)
            row = {
                "series": name,
                "mase": mase(actual, point, seasonal_scale(y[:o], season)),
                "accuracy": accuracy(actual, point),
                "coverage_80": None,
                "coverage_95": None,
                "seconds": seconds,
                "cpu_seconds": cpu,
            }
            if len(out) == 5:
                row["coverage_80"] = coverage(actual, out[1], out[2])
                row["coverage_95"] = coverage(actual, out[3], out[4])
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["ours", "peers"], help="run only our engine, or only the peers")
    parser.add_argument(
        "--peers", help="comma-separated words: only peers whose label contains one (e.g. naive,Prophet)"
    )
    parser.add_argument("--per-series", action="store_true", help="also print our engine's per-series scores")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of CSV files (timestamp,value)")
    args = parser.parse_args()

    series = {}
    for path in sorted(args.data.glob("*.csv")):
        s = load(path)
        if s.index[-1] - s.index[0] >= MIN_SPAN:
            series[path.stem] = s
    print(
        f"{len(series)} series with at least {MIN_SPAN.days} days from {args.data}; "
        f"{ORIGINS} origins, 24 h ahead"
    )

    results: dict[str, dict[str, float]] = {}
    if args.only != "peers":
        # Warm imports (statsforecast, sklearn) once, so the timing is of forecasting, not loading.
        first = next(iter(series.values()))
        backtest(first, horizon=HORIZON, origins=1)
        rows = run_ours(series)
        results["plugin-ai-analytics engine"] = score_rows(rows)
        if args.per_series:
            for name in series:
                mine = [r for r in rows if r["series"] == name]
                print(
                    f"  {name:<40} MASE {np.mean([r['mase'] for r in mine]):6.3f}  "
                    f"acc {np.mean([r['accuracy'] for r in mine]):5.1f}  "
                    f"cov80 {np.mean([r['coverage_80'] for r in mine]):.2f}  "
                    f"cov95 {np.mean([r['coverage_95'] for r in mine]):.2f}  "
                    f"{' | '.join(r['model'] for r in mine)}"
                )
        print(f"done: ours {results['plugin-ai-analytics engine']}", flush=True)
    if args.only != "ours":
        wanted = [w.strip().lower() for w in args.peers.split(",")] if args.peers else None
        for label, peer in PEERS.items():
            if wanted and not any(w in label.lower() for w in wanted):
                continue
            if label == "Prophet":
                try:
                    import prophet  # noqa: F401
                except ImportError:
                    print("note: Prophet is not installed (pip install -e '.[bench]'); skipped")
                    continue
            results[label] = score_rows(run_peer(peer, series))
            print(f"done: {label} {results[label]}", flush=True)

    print()
    print(
        "| model | mean MASE, 24 h | median accuracy %, 24 h "
        "| 80% / 95% interval coverage | s per fit+forecast (wall / CPU) |"
    )
    print("|---|---|---|---|---|")
    for label, r in sorted(results.items(), key=lambda kv: kv[1]["mase"]):
        cov = "none" if math.isnan(r["coverage_80"]) else f"{r['coverage_80']:.3f} / {r['coverage_95']:.3f}"
        secs = f"{r['seconds']:.3f} / {r['cpu_seconds']:.3f}"
        print(f"| {label} | {r['mase']:.3f} | {r['accuracy']:.1f} | {cov} | {secs} |")


if __name__ == "__main__":
    main()
