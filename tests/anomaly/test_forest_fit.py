"""fit_isolation_forest builds exactly sklearn's IsolationForest: every tree array and offset_."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from plugin_ai_analytics.anomaly import _forest_fit
from plugin_ai_analytics.anomaly._forest_fit import fit_isolation_forest
from plugin_ai_analytics.anomaly.isolation import IsolationForestDetector

AWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"
METRICS = [
    "ec2_cpu_utilization_24ae8d.csv",
    "ec2_disk_write_bytes_1ef3de.csv",
    "ec2_network_in_257a54.csv",
    "elb_request_count_8c0756.csv",
    "rds_cpu_utilization_cc0c53.csv",
    "ec2_cpu_utilization_825cc2.csv",
    "rds_cpu_utilization_e47b3b.csv",
]
# The cases of ``designs()``, named here so collecting the tests reads no data files.
DESIGNS = ["nab_256", "nab_constant_column", "nab_duplicate_rows", "nab_short_100", "nab_subsampled_300"]
TREE_ARRAYS = ["feature", "threshold", "children_left", "children_right", "n_node_samples", "value", "impurity"]


def nab_design(rows: int, start: int = 1000) -> np.ndarray:
    """The detector's features over NAB metrics side by side: values, one-step changes, hour of day."""
    values = np.column_stack(
        [pd.read_csv(AWS / name)["value"].to_numpy(float)[start - 1 : start + rows] for name in METRICS]
    )
    deltas = np.diff(values, axis=0)
    hours = (np.arange(rows) * 5 / 60.0) % 24
    return np.column_stack([values[1:], deltas, hours])


@functools.cache
def designs() -> dict[str, tuple[np.ndarray, int]]:
    full = nab_design(256)
    constant = full.copy()
    constant[:, 3] = 42.0  # a flat metric
    duplicates = nab_design(64, start=2000)
    duplicates = np.vstack([duplicates] * 4)  # every row four times
    return {
        "nab_256": (full, 256),
        "nab_constant_column": (constant, 256),
        "nab_duplicate_rows": (duplicates, 256),
        "nab_short_100": (nab_design(100, start=3000), 100),  # a detector's first fit: max_samples < 256
        "nab_subsampled_300": (nab_design(300, start=500), 200),  # rows left out of every bag
    }


def assert_same_forest(fast: object, ref: IsolationForest) -> None:
    assert len(fast.estimators_) == len(ref.estimators_)
    for mine, theirs in zip(fast.estimators_, ref.estimators_, strict=True):
        assert mine.tree_.node_count == theirs.tree_.node_count
        assert mine.tree_.max_depth == theirs.tree_.max_depth
        for name in TREE_ARRAYS:
            np.testing.assert_array_equal(getattr(mine.tree_, name), getattr(theirs.tree_, name), err_msg=name)
    for mine, theirs in zip(fast.estimators_features_, ref.estimators_features_, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(fast.estimators_samples_, ref.estimators_samples_, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert fast.offset_ == ref.offset_  # bit for bit
    assert fast.max_samples_ == ref.max_samples_


@pytest.mark.parametrize("name", DESIGNS)
@pytest.mark.parametrize("seed", [0, 3, 2024])
@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.37])
def test_fast_fit_is_sklearns_forest(name: str, seed: int, contamination: float) -> None:
    X, max_samples = designs()[name]
    kw = {"n_estimators": 50, "max_samples": max_samples, "contamination": contamination, "random_state": seed}
    fast = fit_isolation_forest(X, **kw)
    assert isinstance(fast, _forest_fit.FittedForest) == _forest_fit.fast_path_verified()
    assert_same_forest(fast, IsolationForest(**kw).fit(X))


def test_auto_contamination_and_a_random_state_instance() -> None:
    X, _ = designs()["nab_256"]
    fast = fit_isolation_forest(X, n_estimators=20, random_state=np.random.RandomState(5))
    ref = IsolationForest(n_estimators=20, random_state=np.random.RandomState(5)).fit(X)
    assert_same_forest(fast, ref)
    assert fast.offset_ == -0.5


def test_detector_flattens_the_same_trees() -> None:
    X, _ = designs()["nab_256"]
    kw = {"n_estimators": 50, "max_samples": 256, "contamination": 0.1, "random_state": 11}
    mine = IsolationForestDetector._flatten(fit_isolation_forest(X, **kw))
    theirs = IsolationForestDetector._flatten(IsolationForest(**kw).fit(X))
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)


def test_fallback_when_the_private_tree_api_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sklearn.tree._splitter

    monkeypatch.setattr(_forest_fit, "VERIFIED_SKLEARN", (sklearn.__version__,))  # the private path is tried
    monkeypatch.delattr(sklearn.tree._splitter, "RandomSplitter")
    monkeypatch.setattr(_forest_fit, "_fell_back", False)
    # A service started by an earlier test configures the package's loggers not to propagate to
    # the root logger, where caplog listens: listen on the module's logger itself.
    monkeypatch.setattr(_forest_fit.log, "handlers", [*_forest_fit.log.handlers, caplog.handler])
    X, _ = designs()["nab_constant_column"]
    kw = {"n_estimators": 50, "max_samples": 256, "contamination": 0.1, "random_state": 3}
    with caplog.at_level(logging.WARNING, logger="plugin_ai_analytics.anomaly"):
        first = fit_isolation_forest(X, **kw)
        second = fit_isolation_forest(X, **{**kw, "random_state": 4})
    assert isinstance(first, IsolationForest)
    assert_same_forest(first, IsolationForest(**kw).fit(X))
    assert_same_forest(second, IsolationForest(**{**kw, "random_state": 4}).fit(X))
    # distinct records: with propagation on, the root's handler sees the same record too
    assert len({id(r) for r in caplog.records if "fast IsolationForest fit unavailable" in r.message}) == 1


def test_an_unverified_scikit_learn_fits_the_public_estimator(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    X, _ = designs()["nab_256"]
    kw = {"n_estimators": 50, "max_samples": 256, "contamination": 0.1, "random_state": 7}
    fast = fit_isolation_forest(X, **kw)
    monkeypatch.setattr(_forest_fit, "VERIFIED_SKLEARN", ())
    monkeypatch.setattr(_forest_fit, "_fell_back", False)
    monkeypatch.setattr(_forest_fit.log, "handlers", [*_forest_fit.log.handlers, caplog.handler])  # as above
    with caplog.at_level(logging.WARNING, logger="plugin_ai_analytics.anomaly"):
        public = fit_isolation_forest(X, **kw)
    assert isinstance(public, IsolationForest)
    assert_same_forest(public, fast)
    assert any("is not a verified release" in r.message for r in caplog.records)


def test_the_detector_scores_the_same_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = nab_design(400, start=1500)[:, [0, 1, 2, -1]]  # three metrics and the hour, as a plugin's rows

    def scores() -> list[float]:
        det = IsolationForestDetector(n_features=4, window=256, refit_every=128)
        out = []
        for row in rows.tolist():
            out.append(det.score_one(row))
            det.learn_one(row)
        return out

    fast = scores()
    monkeypatch.setattr(_forest_fit, "VERIFIED_SKLEARN", ())
    monkeypatch.setattr(_forest_fit, "_fell_back", True)  # (the warning has its own test)
    assert scores() == fast
    assert max(fast) > 0.0
