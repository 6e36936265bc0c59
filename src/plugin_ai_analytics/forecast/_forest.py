"""The seed's model as a candidate: RandomForestRegressor behind a StandardScaler over time of day,
weekday and the metric's previous day, fitted tree by tree through scikit-learn's tree builder
when the installed scikit-learn is one that fast path was verified against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ._coarse import from_coarse, to_coarse
from ._series import Context

__all__ = ["VERIFIED_SKLEARN", "Forest", "fast_path_verified", "forest_pipeline", "random_forest"]

# The seed's forest: StandardScaler + RandomForestRegressor(16 trees, depth 8, leaves >= 2,
# random_state 0). Fitted tree by tree through scikit-learn's own tree builder, with the seeds and
# bootstrap draws RandomForestRegressor makes, so the forest is the same one; the estimator's
# per-tree cloning and parameter checks cost twice the building itself at this size.
FOREST_TREES = 16
FOREST_DEPTH = 8
FOREST_LEAF = 2
# The tree-by-tree fit calls scikit-learn's private tree API (sklearn.tree._criterion, _splitter,
# _tree), which changes between releases without notice. It runs only on the release series it
# was verified against, forest for forest (tests/forecast/test_training.py); on any other the
# public RandomForestRegressor fits the same forest, at about three times the cost (see above).
# Verify a new series before adding it here.
VERIFIED_SKLEARN: tuple[str, ...] = ("1.9.",)


def fast_path_verified() -> bool:
    """Whether the installed scikit-learn belongs to a release series in ``VERIFIED_SKLEARN``."""
    import sklearn  # start-up cost: scikit-learn is imported on the forest's first fit only

    return sklearn.__version__.startswith(VERIFIED_SKLEARN)


def forest_pipeline() -> Any:
    """The seed's unfitted pipeline, through scikit-learn's public API."""
    # start-up cost: scikit-learn is imported on the forest's first fit only
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        RandomForestRegressor(
            n_estimators=FOREST_TREES,
            max_depth=FOREST_DEPTH,
            min_samples_leaf=FOREST_LEAF,
            random_state=0,
            n_jobs=1,
        ),
    )


class Forest:
    """A fitted forest: ``predict(X)`` as the sklearn pipeline above would after ``fit(X, y)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.preprocessing import StandardScaler  # start-up cost: imported on the first fit only

        self._scaler = StandardScaler().fit(x)
        self._trees: list[Any] | None = None
        self._pipeline: Any = None
        if fast_path_verified():
            try:
                self._trees = self._build(np.asarray(self._scaler.transform(x), dtype=np.float32), y)
            except (ImportError, TypeError, ValueError, AttributeError):
                self._trees = None  # the private tree API is not what it was verified as: the public path
        if self._trees is None:
            self._pipeline = forest_pipeline().fit(x, y)

    @staticmethod
    def _build(x: np.ndarray, y: np.ndarray) -> list[Any]:
        # Private modules, imported only once the release is known to be a verified one (and a
        # failing import falls back to the public estimator).
        from sklearn.tree._criterion import MSE
        from sklearn.tree._splitter import BestSplitter
        from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

        n, features = x.shape
        target = np.ascontiguousarray(y, dtype=np.float64).reshape(-1, 1)
        seeds = np.random.RandomState(0)
        # Each tree draws its bootstrap sample and its splitter's seed from a fresh generator
        # seeded with the tree's seed; reseeding one generator gives the same streams 70x faster
        # than constructing one.
        stream = np.random.RandomState(0)
        trees = []
        for _ in range(FOREST_TREES):
            seed = seeds.randint(np.iinfo(np.int32).max)
            stream.seed(seed)
            weight = np.bincount(stream.randint(0, n, n), minlength=n).astype(np.float64)
            stream.seed(seed)
            splitter = BestSplitter(MSE(1, n), features, FOREST_LEAF, 0.0, stream, None)
            tree = Tree(features, np.ones(1, dtype=np.intp), 1)
            DepthFirstTreeBuilder(splitter, 2 * FOREST_LEAF, FOREST_LEAF, 0.0, FOREST_DEPTH, 0.0).build(
                tree, x, target, weight, None
            )
            trees.append(tree)
        return trees

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._trees is None:
            return np.asarray(self._pipeline.predict(x), dtype=float)
        z = np.asarray(self._scaler.transform(x), dtype=np.float32)
        out = np.zeros(len(z))
        for tree in self._trees:
            out += tree.predict(z).reshape(len(z), -1)[:, 0]
        return out / len(self._trees)


def _forest_design(y: np.ndarray, ctx: Context) -> tuple[int, np.ndarray, int, int, Callable[[np.ndarray], np.ndarray]]:
    """Coarse series, horizon and lag of the forest, and its features of coarse index ``t``:
    time of day, weekday, the value ``lag`` earlier and the mean of the day before that."""
    k = ctx.coarse
    season_c = max(1, round(ctx.season / k))
    yc = to_coarse(y, k, 28, ctx.season)
    m = len(yc)
    hc = math.ceil(ctx.horizon / k) + 1
    # Every feature of a target at t comes from t - lag or earlier, with lag >= the horizon.
    lag = season_c * max(1, math.ceil(hc / season_c))
    coarse_step = ctx.step * k
    t_end = ctx.t_last.value - (np.arange(m + hc)[::-1] - hc) * coarse_step.value
    times = pd.DatetimeIndex(t_end, tz="UTC")
    hours = times.hour.to_numpy() + times.minute.to_numpy() / 60.0
    weekdays = times.weekday.to_numpy()
    full = np.concatenate([yc, np.full(hc, np.nan)])
    csum = np.concatenate([[0.0], np.cumsum(yc)])

    def features(t: np.ndarray) -> np.ndarray:
        src = t - lag
        lo = np.maximum(src - season_c + 1, 0)
        window_mean = (csum[src + 1] - csum[lo]) / (src + 1 - lo)
        return np.column_stack([hours[t], weekdays[t], full[src], window_mean])

    return k, yc, hc, lag, features


def random_forest(y: np.ndarray, ctx: Context) -> np.ndarray:
    """The seed's model: RandomForestRegressor behind a StandardScaler over time-of-day,
    weekday and the metric's own previous 24 h window (direct, so no forecast feeds another).

    Refitted at every origin and every predict: its trees are too large to keep in a state, and
    trees fitted days earlier forecast worse than the refit predict will run (measured), so a
    backtest of fixed trees would misjudge it."""
    k, yc, hc, lag, features = _forest_design(y, ctx)
    m = len(yc)
    train_t = np.arange(lag, m)
    if len(train_t) < 2 * max(1, round(ctx.season / k)):
        return np.full(ctx.horizon, y[-1])
    fc = Forest(features(train_t), yc[train_t]).predict(features(np.arange(m, m + hc)))
    return from_coarse(float(yc[-1]), fc, k, ctx.horizon)
