"""The seed's multivariate IsolationForest, as a streaming detector refitted periodically.

scikit-learn fits the forest (contamination = ``ANOMALY_DETECTION_SENSITIVITY``); the trees are
then copied into flat numpy arrays so one sample scores in microseconds instead of sklearn's
per-call overhead. The state keeps only the training rows and the seed: trees are refitted,
deterministically, on restore, so nothing is ever pickled.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._forest_fit import fit_isolation_forest  # sklearn's trees without its per-tree overhead

__all__ = ["IsolationForestDetector"]


def _average_path_length(n: np.ndarray) -> np.ndarray:
    """Expected depth of an unsuccessful search in a binary tree of ``n`` points (the IF constant)."""
    n = np.asarray(n, dtype=float)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class IsolationForestDetector:
    """IsolationForest over the metrics of one plugin, their one-step changes and the hour of day.

    ``learn_one(row)`` stores a row (a sequence of floats, one per metric, plus the hour) and
    refits every ``refit_every`` rows on the last ``window`` rows; ``score_one(row)`` returns the
    forest's anomaly score 2**(-mean path / c), in (0, 1], higher = easier to isolate.
    """

    kind: ClassVar[str] = "isolation_forest"
    meaning: ClassVar[str] = "unusual combination"

    def __init__(
        self,
        n_features: int,
        contamination: float = 0.1,
        window: int = 256,
        refit_every: int = 256,
        n_estimators: int = 50,
        seed: int = 0,
    ) -> None:
        self.n_features = int(n_features)
        self.contamination = float(contamination)
        self.window = int(window)
        self.refit_every = int(refit_every)
        self.n_estimators = int(n_estimators)
        self.seed = int(seed)
        self._rows: list[list[float]] = []
        self._since_fit = 0
        self._fits = 0
        self._trees: dict[str, np.ndarray] | None = None
        self._fit_rows: list[list[float]] = []  # what the current trees were fitted on
        self._offset = 0.0  # see ``offset``
        self._restore_pending = False  # restored from a state: trees to refit before the next score

    @property
    def ready(self) -> bool:
        return self._trees is not None or self._restore_pending

    def _restore_trees(self) -> None:
        """Refit the trees of a restored state on the rows they were fitted on (same seed, same trees).

        Done on the first score rather than on restore: a batch pass that loads a plugin's state
        and finds nothing new to score never pays for a forest fit.
        """
        rows, fits, since_fit = self._rows, self._fits, self._since_fit
        self._rows, self._fits = self._fit_rows, fits - 1
        self._restore_pending = False
        self._fit()
        self._rows, self._fits, self._since_fit = rows, fits, since_fit

    def _features(self, rows: np.ndarray, previous: np.ndarray) -> np.ndarray:
        # Values, one-step changes (a jump is anomalous even inside the usual range), hour.
        k = self.n_features - 1
        values, hours = rows[:, :k], rows[:, k:]
        deltas = values - previous[:, :k]
        return np.hstack([values, deltas, hours])

    def _featurise_one(self, row: list[float]) -> np.ndarray:
        prev = np.asarray(self._rows[-1] if self._rows else row, dtype=float)[None, :]
        return self._features(np.asarray(row, dtype=float)[None, :], prev)[0]

    def _fit_matrix(self) -> np.ndarray:
        rows = np.asarray(self._fit_rows, dtype=float)
        return self._features(rows, np.vstack([rows[:1], rows[:-1]]))

    def _fit(self) -> None:
        self._restore_pending = False
        self._fit_rows = [list(r) for r in self._rows]
        X = self._fit_matrix()
        forest = fit_isolation_forest(
            X,
            n_estimators=self.n_estimators,
            max_samples=min(256, len(X)),
            contamination=self.contamination,
            random_state=self.seed + self._fits,
        )
        self._offset = float(forest.offset_)
        self._trees = self._flatten(forest)
        self._fits += 1
        self._since_fit = 0

    @property
    def offset(self) -> float:
        """sklearn's decision offset of the current trees: raw scores above -offset are "outliers"
        (0.0 before the first fit)."""
        return self._offset

    @staticmethod
    def _flatten(forest: Any) -> dict[str, np.ndarray]:
        trees = [est.tree_ for est in forest.estimators_]
        width = max(t.node_count for t in trees)
        n = len(trees)
        # Trees of at most 256 samples have < 512 nodes: int16 indices keep a plugin's forest small.
        feature = np.zeros((n, width), dtype=np.int16)
        threshold = np.zeros((n, width))
        left = np.full((n, width), -1, dtype=np.int16)
        right = np.full((n, width), -1, dtype=np.int16)
        samples = np.zeros((n, width))
        parent = np.full((n, width), -1)
        for i, (t, feats) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
            c = t.node_count
            # Map the tree's local feature index back to the full feature vector.
            f = np.where(t.feature[:c] >= 0, t.feature[:c], 0)
            feature[i, :c] = np.asarray(feats)[f]
            threshold[i, :c] = t.threshold[:c]
            left[i, :c] = t.children_left[:c]
            right[i, :c] = t.children_right[:c]
            samples[i, :c] = t.n_node_samples[:c]
            inner = np.flatnonzero(t.children_left[:c] >= 0)
            parent[i, t.children_left[inner]] = inner
            parent[i, t.children_right[inner]] = inner
        # Depth of every node of every tree: climb all parent links at once, one level per step.
        depth = np.zeros((n, width))
        up = parent.copy()
        rows = np.arange(n)[:, None]
        while (climbing := up >= 0).any():
            depth += climbing
            up = np.where(climbing, parent[rows, np.maximum(up, 0)], -1)
        used = np.arange(width)[None, :] < np.array([t.node_count for t in trees])[:, None]
        leaf_value = np.where(used, depth + _average_path_length(samples), 0.0)
        max_depth = int(depth.max())
        return {
            "feature": feature,
            "threshold": threshold,
            "left": left,
            "right": right,
            "leaf_value": leaf_value,
            "max_depth": np.array(max_depth),
            # The samples each tree was grown on (``len(estimators_samples_[0])``, which sklearn
            # recomputes by replaying every tree's draws: 5 ms a fit).
            "c": _average_path_length(np.array([float(forest.max_samples_)]))[0],
        }

    def score_one(self, row: list[float]) -> float:
        """Anomaly score in (0, 1] (0.0 until the first fit)."""
        if self._restore_pending:
            self._restore_trees()
        if self._trees is None:
            return 0.0
        x = self._featurise_one(row)
        t = self._trees
        idx = np.arange(t["feature"].shape[0])
        node = np.zeros_like(idx)
        for _ in range(int(t["max_depth"])):
            left = t["left"][idx, node]
            go_left = x[t["feature"][idx, node]] <= t["threshold"][idx, node]
            nxt = np.where(go_left, left, t["right"][idx, node])
            node = np.where(left < 0, node, nxt)
        mean_path = float(t["leaf_value"][idx, node].mean())
        return 2.0 ** (-mean_path / float(t["c"]))

    def _mean_paths(self, rows: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Mean path length over the trees of each row (given its previous row), as ``score_one``
        computes it: the same traversal, and a row's mean over the trees sums them in the same order."""
        x = self._features(np.asarray(rows, dtype=float), np.asarray(previous, dtype=float))
        t = self._trees
        assert t is not None
        trees = np.arange(t["feature"].shape[0])[None, :]
        samples = np.arange(len(x))[:, None]
        node = np.zeros((len(x), len(trees[0])), dtype=int)
        for _ in range(int(t["max_depth"])):
            left = t["left"][trees, node]
            go_left = x[samples, t["feature"][trees, node]] <= t["threshold"][trees, node]
            nxt = np.where(go_left, left, t["right"][trees, node])
            node = np.where(left < 0, node, nxt)
        return t["leaf_value"][trees, node].mean(axis=1)

    def score_rows(self, rows: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """``score_one`` of many rows at once, each with its previous row (for the one-step changes)."""
        if self._restore_pending:
            self._restore_trees()
        if self._trees is None:
            return np.zeros(len(rows))
        return 2.0 ** (-self._mean_paths(rows, previous) / float(self._trees["c"]))

    def score_each(self, rows: np.ndarray, previous: np.ndarray) -> list[float]:
        """``score_one`` of each row to the bit (``score_rows`` takes the final power in numpy,
        which may round differently from Python's): for replaying a stream in blocks."""
        if self._restore_pending:
            self._restore_trees()
        if self._trees is None:
            return [0.0] * len(rows)
        c = float(self._trees["c"])
        return [2.0 ** (-mean_path / c) for mean_path in self._mean_paths(rows, previous).tolist()]

    def score_run(self, rows: list[list[float]]) -> list[float]:
        """``score_one`` of each of ``rows`` in turn, each learnt before the next is scored, with
        no refit in between (see ``rows_until_refit``): for replaying a stream in blocks."""
        previous = [self._rows[-1] if self._rows else rows[0], *rows[:-1]]
        return self.score_each(np.array(rows), np.array(previous))

    def rows_until_refit(self, limit: int) -> int:
        """How many of the next ``limit`` rows ``learn_one`` takes up to and including the one
        that refits the trees (``limit`` when none does)."""
        since_fit, kept = self._since_fit, len(self._rows)
        taken = 0
        while taken < limit:
            since_fit += 1
            kept = min(kept + 1, self.window)
            taken += 1
            if since_fit >= self.refit_every and kept >= min(self.window, 64):
                break
        return taken

    def learn_rows(self, rows: np.ndarray, calibration_capacity: int) -> tuple[np.ndarray, int]:
        """Learn ``rows`` (a fresh detector's first rows, oldest first) as ``learn_one`` of each
        would have: the same rows kept and the same last fit (same rows, same seed).

        Returns what a calibrator fed by streaming needs: the current trees' scores of up to
        ``calibration_capacity`` of the newest rows they were not fitted on (none before a fit),
        and how many rows streaming would have scored since the first trees existed.
        """
        count = len(rows)
        fits = count // self.refit_every
        as_lists = rows.tolist()
        raws, since_first_fit = np.empty(0), 0
        if fits:
            fit_end = fits * self.refit_every
            self._rows = as_lists[max(0, fit_end - self.window) : fit_end]
            self._fits = fits - 1
            self._fit()
            since_first_fit = count - self.refit_every  # rows scored once the first trees existed
            # Out-of-sample rows for the calibrator: the newest ones scored by streaming, minus
            # the rows the current trees were fitted on.
            candidates = [r for r in range(self.refit_every, count) if not (fit_end - self.window <= r < fit_end)][
                -calibration_capacity:
            ]
            if candidates:
                chosen = np.array(candidates)
                raws = self.score_rows(rows[chosen], rows[np.maximum(chosen - 1, 0)])
        self._rows = as_lists[-self.window :]
        self._since_fit = count - fits * self.refit_every
        self._fits = fits
        return raws, since_first_fit

    def is_outlier(self, score: float) -> bool:
        """sklearn's verdict at the configured contamination (score above the fitted offset)."""
        if self._restore_pending:
            self._restore_trees()
        return self.ready and -score < self.offset

    def learn_one(self, row: list[float]) -> None:
        self._rows.append([float(v) for v in row])
        if len(self._rows) > self.window:
            del self._rows[0]
        self._since_fit += 1
        if self._since_fit >= self.refit_every and len(self._rows) >= min(self.window, 64):
            self._fit()

    def to_state(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "params": {
                "n_features": self.n_features,
                "contamination": self.contamination,
                "window": self.window,
                "refit_every": self.refit_every,
                "n_estimators": self.n_estimators,
                "seed": self.seed,
            },
            "rows": self._rows,
            "since_fit": self._since_fit,
            "fits": self._fits,
            # Trees are not stored: the rows they were fitted on are, and refitting them with the
            # same seed rebuilds identical trees.
            "fit_rows": self._fit_rows if self.ready else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> IsolationForestDetector:
        det = cls(**state["params"])
        det._rows = [list(map(float, r)) for r in state["rows"]]
        if state["fit_rows"] is not None:
            det._fit_rows = [list(map(float, r)) for r in state["fit_rows"]]
            det._restore_pending = True
        det._fits = int(state["fits"])
        det._since_fit = int(state["since_fit"])
        return det
