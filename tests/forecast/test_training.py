"""How training saves work without changing what it chooses: the exact re-implementations (STL,
the seed's forest), racing of the expensive models, and the fitted parameters predict applies
instead of refitting.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plugin_ai_analytics.errors import ModelIntegrityError
from plugin_ai_analytics.forecast import CANDIDATES, MODEL_POOLS, TrainedForecaster, _forest, _selection, train
from plugin_ai_analytics.forecast._forest import Forest, forest_pipeline
from plugin_ai_analytics.forecast._series import prepare
from plugin_ai_analytics.forecast._stl import stl

from .test_conformance import H24, START, seasonal


@pytest.mark.parametrize(("n", "period"), [(336, 24), (312, 24), (49, 24), (61, 24), (26, 12), (100, 7), (700, 24)])
def test_stl_equals_statsmodels(n: int, period: int) -> None:
    from statsmodels.tsa.seasonal import STL

    rng = np.random.default_rng(n)
    y = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / period) + np.linspace(0, 15, n) + rng.normal(0, 3, n)
    ref = STL(y, period=period, seasonal=11, seasonal_deg=0).fit()
    season, trend = stl(y, period)
    assert np.allclose(season, ref.seasonal, rtol=0, atol=1e-10)
    assert np.allclose(trend, ref.trend, rtol=0, atol=1e-10)


def forest_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forest's kind of design (hour, weekday, previous value), a target, and later rows."""
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.integers(0, 24, 300) + 0.5, rng.integers(0, 7, 300), rng.normal(50, 9, 300)])
    y = x[:, 2] * 0.4 + 5 * np.sin(x[:, 0] / 24 * 2 * np.pi) + rng.normal(0, 1, 300)
    return x, y, x[:30] + 0.25


def test_forest_is_the_seed_pipeline() -> None:
    x, y, later = forest_data()
    forest = Forest(x, y)
    assert (forest._trees is not None) == _forest.fast_path_verified()  # the path this release takes
    assert np.array_equal(forest.predict(later), forest_pipeline().fit(x, y).predict(later))


def test_an_unverified_scikit_learn_fits_the_public_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y, later = forest_data()
    series = seasonal(5, seed=4)
    grid = prepare(series, H24)
    ctx = grid.context(len(grid.values), 288)
    fast_forest = Forest(x, y).predict(later)
    fast_forecast = CANDIDATES["random_forest"].forecast(grid.values, ctx)
    monkeypatch.setattr(_forest, "VERIFIED_SKLEARN", ())
    public = Forest(x, y)
    assert public._trees is None and public._pipeline is not None
    assert np.array_equal(public.predict(later), fast_forest)
    assert np.array_equal(CANDIDATES["random_forest"].forecast(grid.values, ctx), fast_forecast)


def test_a_private_tree_api_that_changed_falls_back_to_the_public_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn.tree._splitter

    x, y, later = forest_data()
    expected = Forest(x, y).predict(later)
    monkeypatch.setattr(_forest, "VERIFIED_SKLEARN", (sklearn.__version__,))
    monkeypatch.delattr(sklearn.tree._splitter, "BestSplitter")
    public = Forest(x, y)
    assert public._trees is None
    assert np.array_equal(public.predict(later), expected)


# -- racing ---------------------------------------------------------------------------------------


def busy_week(seed: int = 11) -> pd.Series:
    """A strong, clean daily cycle with a weekday/weekend difference: the expensive models see
    the cycle, while the flat baselines are far worse."""
    series = seasonal(10, amplitude=30, noise=1.0, seed=seed)
    weekend = series.index.weekday >= 5
    return series + np.where(weekend, -8.0, 0.0)


def test_racing_picks_what_the_full_backtest_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    series = busy_week()
    raced = train(series, horizon=H24, candidates=MODEL_POOLS["all"])  # racing concerns the expensive models
    origins = [s.origins for s in raced.scores.values() if s.origins is not None]
    assert min(origins) < max(origins)  # some expensive model did leave the race
    monkeypatch.setattr(_selection, "RACE_MARGIN", float("inf"))
    full = train(series, horizon=H24, candidates=MODEL_POOLS["all"])
    assert raced.model == full.model
    assert raced.chosen == full.chosen
    assert np.array_equal(raced.calibration.upper_95, full.calibration.upper_95)


def test_a_clearly_worse_expensive_model_leaves_the_race() -> None:
    # The forest cannot extrapolate a steady climb; every level-following model can.
    series = seasonal(8, level=100, amplitude=0.5, noise=0.3, seed=12)
    series = series + np.linspace(0, 400, len(series))
    model = train(series, horizon=H24, candidates=["naive", "window_median_1h", "random_forest", "theta"])
    full = max(s.origins for s in model.scores.values() if s.origins is not None)
    assert model.scores["random_forest"].origins < full  # stopped before the oldest origins
    assert "random_forest" not in model.members


# -- fitted parameters ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def statistical() -> tuple[TrainedForecaster, TrainedForecaster, pd.Series]:
    series = busy_week(seed=13)
    return (
        train(series, horizon=H24, metric="cpu_percent", candidates=["theta"]),
        train(series, horizon=H24, metric="cpu_percent", candidates=["mstl"]),
        series,
    )


def without_params(model: TrainedForecaster) -> TrainedForecaster:
    state = model.to_state()
    state["version"] = 1  # as stored before fitted parameters were kept
    del state["model"]["params"]
    return TrainedForecaster.from_state(state)


@pytest.mark.parametrize("which", [0, 1])
def test_predict_without_refit_equals_refit_when_nothing_new_arrived(statistical, which: int) -> None:
    model, series = statistical[which], statistical[2]
    assert set(model.params) == set(model.members)
    kept = model.predict(series).to_frame()
    refit = without_params(model).predict(series).to_frame()
    pd.testing.assert_frame_equal(kept, refit, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("which", [0, 1])
def test_predict_on_new_samples_runs_no_optimiser(statistical, which: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from statsforecast._lib import ets, theta

    model, series = statistical[which], statistical[2]
    later = pd.concat([series, busy_week(seed=13).iloc[-36:].set_axis(series.index[-36:] + pd.Timedelta(hours=3))])

    def refuse(*args, **kwargs):
        raise AssertionError("predict optimised a model it had parameters for")

    monkeypatch.setattr(theta, "optimize", refuse)
    monkeypatch.setattr(ets, "optimize", refuse)
    with pytest.raises(AssertionError, match="optimised"):
        without_params(model).predict(later)  # the refit path does optimise: the guard works
    frame = model.predict(later).to_frame()
    assert len(frame) == 288 and np.all(np.isfinite(frame.drop(columns=["timestamp", "clipped"]).to_numpy()))
    assert frame["timestamp"].iloc[0] == later.index[-1] + pd.Timedelta(minutes=5)


@pytest.mark.parametrize("name", ["theta", "mstl"])
def test_kept_parameters_follow_a_level_shift_after_training(name: str) -> None:
    """A deploy after training doubles the load: predict (no refit) must follow it at once, as a
    refit would. An ETS with its smoothing near 0 and its initial level kept as fitted did not."""
    series = seasonal(10, level=20, amplitude=3, noise=0.5, seed=6)
    model = train(series.iloc[:-36], horizon=H24, candidates=[name])
    assert name in model.params
    for hours in (2, 10):
        shifted = series.copy()
        shifted.iloc[-hours * 12 :] += 40
        frame = model.predict(shifted).to_frame()
        assert abs(frame["forecast"].mean() - 60) < 3, hours


def test_parameters_that_no_longer_apply_are_refitted() -> None:
    # Trained on two days (too short for a daily season), predicted on a week (seasonal now).
    week = seasonal(7, amplitude=20, noise=1.0, seed=14)
    young = week[: 2 * 288]
    model = train(young, horizon=H24, candidates=["theta"])
    assert model.params["theta"]["season"] == 1
    frame = model.predict(week).to_frame()
    fresh = without_params(model).predict(week).to_frame()
    pd.testing.assert_frame_equal(frame, fresh)


def test_state_with_parameters_round_trips(statistical) -> None:
    model, series = statistical[1], statistical[2]
    text = json.dumps(model.to_state(), allow_nan=False)
    again = TrainedForecaster.from_state(json.loads(text))
    assert again.params == model.params
    pd.testing.assert_frame_equal(again.predict(series).to_frame(), model.predict(series).to_frame())


def test_version_1_state_still_loads_and_predicts(statistical) -> None:
    model, series = statistical[0], statistical[2]
    old = without_params(model)
    assert old.params == {} and old.model == model.model
    assert len(old.predict(series).to_frame()) == 288


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.update(random_forest={"season": 24}),  # a member that keeps no parameters
        lambda p: p.update(seasonal_median={"season": 24}),  # not a member
        lambda p: p["theta"].update(alpha="__import__('os').system('true')"),
        lambda p: p["theta"].update(alpha=float("nan")),
        lambda p: p["theta"].update(alpha=[1.0, {"x": 1}]),
        lambda p: p.update(theta=[0.5]),
    ],
)
def test_damaged_parameters_are_refused(statistical, damage) -> None:
    state = json.loads(json.dumps(statistical[0].to_state()))
    state["model"]["members"] = ["theta"]
    damage(state["model"]["params"])
    with pytest.raises(ModelIntegrityError):
        TrainedForecaster.from_state(state)


def test_only_statistical_members_keep_parameters() -> None:
    keep = {name for name, c in CANDIDATES.items() if c.keeps_params}
    assert keep == {"theta", "mstl"}
    assert all(CANDIDATES[name].expensive for name in keep | {"random_forest"})


def test_constant_history_predicts_the_constant_with_parameters() -> None:
    series = pd.Series(3.0, index=pd.date_range(START, periods=5 * 288, freq="5min"))
    model = train(series, horizon=H24, candidates=["theta", "mstl"])
    assert np.allclose(model.predict(series).to_frame()["forecast"], 3.0)
