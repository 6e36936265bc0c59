"""The forest's trees are scikit-learn's IsolationForest trees, whichever way they are grown."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_ai_analytics.anomaly.isolation import IsolationForestDetector, _grow_trees, _grows_like_sklearn


def flat(forest: object) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in IsolationForestDetector._flatten(forest).items()}


@pytest.mark.skipif(not _grows_like_sklearn(), reason="this scikit-learn version is fitted by IsolationForest itself")
@pytest.mark.parametrize("seed", [0, 7, 123])
def test_grown_trees_are_sklearns_tree_for_tree(seed: int) -> None:
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(seed)
    for rows, columns in ((256, 15), (64, 3), (130, 9)):
        X = rng.normal(size=(rows, columns)) * rng.uniform(0.1, 100, columns)
        X[:, 0] = np.round(X[:, 0])  # ties, and a constant column
        X[:, 1] = 4.0
        theirs = IsolationForest(n_estimators=50, max_samples=min(256, rows), contamination=0.1, random_state=seed)
        a = flat(theirs.fit(X))
        b = flat(_grow_trees(X, 50, min(256, rows), seed))
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def test_a_detector_fit_is_sklearns_and_so_is_its_offset() -> None:
    rng = np.random.default_rng(1)
    det = IsolationForestDetector(n_features=4, contamination=0.1, seed=3)
    assert det.offset == 0.0  # no fit yet
    for row in rng.normal(size=(600, 4)):
        det.learn_one(list(row))
    assert det._fits == 2
    forest = det._sklearn_forest(det._fit_matrix(), det.seed + det._fits - 1)
    expected = flat(forest)
    assert all(np.array_equal(np.asarray(det._trees[k]), expected[k]) for k in expected)  # type: ignore[index]
    assert det.offset == float(forest.offset_)
    assert det.is_outlier(1.0) and not det.is_outlier(0.0)
