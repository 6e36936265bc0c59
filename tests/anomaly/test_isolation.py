"""A detector's forest is scikit-learn's IsolationForest, trees and offset (see also test_forest_fit.py)."""

from __future__ import annotations

import numpy as np

from plugin_ai_analytics.anomaly.isolation import IsolationForestDetector


def flat(forest: object) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in IsolationForestDetector._flatten(forest).items()}


def test_a_detector_fit_is_sklearns_and_so_is_its_offset() -> None:
    rng = np.random.default_rng(1)
    det = IsolationForestDetector(n_features=4, contamination=0.1, seed=3)
    assert det.offset == 0.0  # no fit yet
    for row in rng.normal(size=(600, 4)):
        det.learn_one(list(row))
    assert det._fits == 2
    from sklearn.ensemble import IsolationForest

    X = det._fit_matrix()
    forest = IsolationForest(
        n_estimators=det.n_estimators, max_samples=min(256, len(X)), contamination=0.1, random_state=det.seed + 1
    ).fit(X)
    expected = flat(forest)
    assert all(np.array_equal(np.asarray(det._trees[k]), expected[k]) for k in expected)  # type: ignore[index]
    assert det.offset == float(forest.offset_)
    assert det.is_outlier(1.0) and not det.is_outlier(0.0)
