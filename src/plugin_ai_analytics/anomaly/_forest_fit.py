"""sklearn's IsolationForest fit, tree for tree, without its per-estimator overhead.

``IsolationForest.fit`` on a few hundred rows spends most of its time outside the tree builder:
parameter validation, cloning and ``set_params`` of every ExtraTreeRegressor, signature
inspection, joblib dispatch and a second validation pass to score the training rows for
``offset_``. ``fit_isolation_forest`` draws the same random streams (the targets ``y``, one seed
per tree, each tree's bagging indices and its splitter's seed) and hands them straight to
sklearn's Cython tree builder, so the trees and ``offset_`` are bit-for-bit those of
``IsolationForest(...).fit(X)``. It runs only on the scikit-learn releases it was verified
against (``VERIFIED_SKLEARN``); any other release, or a private import that fails, fits the
public estimator (logged once).
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["VERIFIED_SKLEARN", "FittedForest", "fast_path_verified", "fit_isolation_forest"]

log = logging.getLogger("plugin_ai_analytics.anomaly")
_MAX_INT = np.iinfo(np.int32).max
_fell_back = False  # logged once
# The fast path calls scikit-learn's private tree API (sklearn.tree._criterion, _splitter, _tree),
# which changes between releases without notice. It runs only on the release series it was
# verified against, tree for tree (tests/anomaly/test_forest_fit.py); on any other the public
# IsolationForest fits the same forest, at several times the cost (benchmarks/forest_fit.py).
# Verify a new series before adding it here.
VERIFIED_SKLEARN: tuple[str, ...] = ("1.9.",)


def _installed_sklearn() -> str:
    import sklearn  # start-up cost: scikit-learn is imported on the first forest fit only

    return sklearn.__version__


def fast_path_verified() -> bool:
    """Whether the installed scikit-learn belongs to a release series in ``VERIFIED_SKLEARN``."""
    return _installed_sklearn().startswith(VERIFIED_SKLEARN)


@dataclass
class _Tree:
    """What the caller reads of a fitted ExtraTreeRegressor: its ``tree_``."""

    tree_: Any


@dataclass
class FittedForest:
    """The attributes of a fitted IsolationForest that ``IsolationForestDetector`` reads."""

    estimators_: list[_Tree]
    estimators_features_: list[np.ndarray]
    estimators_samples_: list[np.ndarray]
    offset_: float
    max_samples_: int


def _average_path_length(n: np.ndarray) -> np.ndarray:
    # sklearn.ensemble._iforest._average_path_length without its check_array: the same operations
    # in the same order, hence the same floats.
    n = np.asarray(n).reshape((1, -1))
    out = np.zeros(n.shape)
    mask_1 = n <= 1
    mask_2 = n == 2
    rest = ~np.logical_or(mask_1, mask_2)
    out[mask_1] = 0.0
    out[mask_2] = 1.0
    out[rest] = 2.0 * (np.log(n[rest] - 1.0) + np.euler_gamma) - 2.0 * (n[rest] - 1.0) / n[rest]
    return out.reshape(-1)


def _n_samples(max_samples: Any, n: int) -> int:
    """IsolationForest.fit's ``max_samples`` resolution ("auto", an int clamped to n, or a fraction)."""
    if isinstance(max_samples, str) and max_samples == "auto":
        return min(256, n)
    if isinstance(max_samples, numbers.Integral):
        return min(int(max_samples), n)
    return int(max_samples * n)


def _fast(X: np.ndarray, n_estimators: int, max_samples: Any, contamination: Any, random_state: Any) -> FittedForest:
    # Private modules, imported only on a verified release (start-up cost: on the first fit only).
    from sklearn.tree._criterion import MSE
    from sklearn.tree._splitter import RandomSplitter
    from sklearn.tree._tree import DepthFirstTreeBuilder, Tree
    from sklearn.utils import check_random_state
    from sklearn.utils.random import sample_without_replacement

    x = np.asarray(X, dtype=np.float32)  # validate_data(dtype=np.float32): C order, NaN/inf allowed
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {x.shape}")
    if not (contamination == "auto" or 0.0 < float(contamination) <= 0.5):
        raise ValueError(f"contamination must be 'auto' or in (0, 0.5], got {contamination!r}")
    n, features = x.shape
    size = _n_samples(max_samples, n)
    if not 1 <= size <= n:
        raise ValueError(f"max_samples={max_samples!r} gives {size} samples out of {n}")
    max_depth = int(np.ceil(np.log2(max(size, 2))))

    # IsolationForest.fit draws the targets from check_random_state(random_state), then
    # BaseBagging._fit calls check_random_state(random_state) again for the tree seeds: for an
    # int seed that is a fresh generator, for a RandomState the same one, continued.
    y = check_random_state(random_state).uniform(size=n).reshape(-1, 1)  # float64, contiguous
    seeds = check_random_state(random_state).randint(_MAX_INT, size=n_estimators)

    estimators, estimators_features, estimators_samples = [], [], []
    stream = np.random.RandomState(0)  # reseeded per draw: the same streams as fresh generators, cheaper
    for seed in seeds:
        # _make_estimator -> _set_random_states: the tree's random_state is drawn from the seed.
        stream.seed(seed)
        tree_seed = stream.randint(_MAX_INT)
        # _generate_bagging_indices(seed, ...): feature indices (all of them, drawn anyway), then rows.
        stream.seed(seed)
        feats = sample_without_replacement(features, features, random_state=stream)
        rows = sample_without_replacement(n, size, random_state=stream)
        # ExtraTreeRegressor consumes sample_weight, so the bag is a weight on the full X.
        weight = np.bincount(rows, minlength=n).astype(np.float64)
        # ExtraTreeRegressor(max_features=1, splitter="random", max_depth=...)._fit(check_input=False):
        # min_samples_leaf 1, min_samples_split 2, min_weight_leaf 0, no monotonic constraints.
        stream.seed(tree_seed)
        splitter = RandomSplitter(MSE(1, n), 1, 1, 0.0, stream, None)
        tree = Tree(features, np.ones(1, dtype=np.intp), 1)
        DepthFirstTreeBuilder(splitter, 2, 1, 0.0, max_depth, 0.0).build(tree, x, y, weight, None)
        estimators.append(_Tree(tree))
        estimators_features.append(feats)
        estimators_samples.append(rows)

    if contamination == "auto":
        offset = -0.5
    else:
        # IsolationForest._compute_score_samples on the training rows, in its summation order.
        # A node holds 1..size rows: one table of the path-length constant serves every tree.
        table = _average_path_length(np.arange(size + 1))
        depths = np.zeros(n, order="f")
        for est in estimators:
            t = est.tree_
            leaves = t.apply(x)
            depths += t.compute_node_depths()[leaves] + table[t.n_node_samples][leaves] - 1.0
        denominator = len(estimators) * _average_path_length(np.array([size]))
        scores = 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))
        offset = np.percentile(-scores, 100.0 * contamination)
    return FittedForest(estimators, estimators_features, estimators_samples, float(offset), size)


def _public(X: np.ndarray, n_estimators: int, max_samples: Any, contamination: Any, random_state: Any) -> Any:
    from sklearn.ensemble import IsolationForest  # start-up cost: imported on the first fit only

    return IsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        contamination=contamination,
        random_state=random_state,
    ).fit(X)


def fit_isolation_forest(
    X: np.ndarray,
    *,
    n_estimators: int = 100,
    max_samples: Any = "auto",
    contamination: Any = "auto",
    random_state: Any = None,
) -> Any:
    """``IsolationForest(n_estimators, max_samples, contamination, random_state).fit(X)``'s trees.

    Returns an object with ``estimators_`` (each with ``.tree_``), ``estimators_features_``,
    ``estimators_samples_``, ``offset_`` and ``max_samples_``, identical to the estimator's.
    """
    global _fell_back
    if fast_path_verified():
        try:
            return _fast(X, n_estimators, max_samples, contamination, random_state)
        except (ImportError, AttributeError, TypeError) as exc:
            # The private tree API is not what it was verified as: the public estimator, same forest.
            reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = f"scikit-learn {_installed_sklearn()} is not a verified release"
    if not _fell_back:
        _fell_back = True
        log.warning("fast IsolationForest fit unavailable (%s), using sklearn's", reason)
    return _public(X, n_estimators, max_samples, contamination, random_state)
