"""Constructed plugin histories whose truth is known: a healthy plugin, and one fault at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
NAB_AWS = REPO.parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"
START = pd.Timestamp("2026-03-02", tz="UTC")
STEP_MIN = 5
PER_DAY = 24 * 60 // STEP_MIN


def timeline(days: float) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=int(days * PER_DAY), freq=f"{STEP_MIN}min")


def daily(index: pd.DatetimeIndex, peak_hour: float = 14.0) -> np.ndarray:
    """A daily cycle in [-1, 1] peaking at ``peak_hour`` UTC."""
    hour = index.hour + index.minute / 60
    return np.cos(2 * np.pi * (np.asarray(hour, dtype=float) - peak_hour) / 24)


def healthy(days: float = 14, seed: int = 0) -> pd.DataFrame:
    """Stationary noise around a mild daily cycle, far below capacity, no leak, few constant errors."""
    rng = np.random.default_rng(seed)
    index = timeline(days)
    n = len(index)
    requests = np.round(200 + 30 * daily(index) + rng.normal(0, 8, n)).clip(1)
    sawtooth = 25 * ((np.arange(n) % 24) / 24)  # GC: memory climbs for 2 h, then is collected
    return pd.DataFrame(
        {
            "cpu_percent": 20 + 0.08 * requests + rng.normal(0, 1.5, n),
            "memory_mb": 512 + sawtooth + 10 * daily(index) + rng.normal(0, 3, n),
            "response_time_ms": 80 + 0.05 * requests + rng.normal(0, 3, n),
            "response_time_p95_ms": 180 + 0.1 * requests + rng.normal(0, 8, n),
            "error_rate": rng.binomial(requests.astype(int), 0.002) / requests,
            "request_count": requests,
            "active_users": np.round(0.3 * requests),
        },
        index=index,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def with_leak(frame: pd.DataFrame, rate_mib_per_h: float, seed: int = 1) -> tuple[pd.DataFrame, float]:
    """Memory growing ``rate_mib_per_h`` under a 2-hour GC sawtooth, a daily cycle and noise.

    Returns the frame and the noise-free peak of the last day (the level the limit is measured from).
    """
    rng = np.random.default_rng(seed)
    n = len(frame)
    hours = np.asarray((frame.index - frame.index[0]) / pd.Timedelta(hours=1))
    sawtooth = 60 * ((np.arange(n) % 24) / 23)
    out = frame.copy()
    out["memory_mb"] = 1000 + rate_mib_per_h * hours + 40 * daily(frame.index) + sawtooth + rng.normal(0, 5, n)
    return out, 1000 + rate_mib_per_h * hours[-1] + 40 + 60


def hinge(load: np.ndarray, knee: float, base: float, below: float, above: float) -> np.ndarray:
    return base + below * load + (above - below) * np.maximum(0.0, load - knee)


def with_knee(frame: pd.DataFrame, knee: float = 300.0, seed: int = 2) -> pd.DataFrame:
    """Load swinging 100..400+ a day; latency flat-ish below ``knee``, steep above it."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    out = frame.copy()
    load = np.round(250 + 150 * daily(frame.index) + rng.normal(0, 20, n)).clip(1)
    out["request_count"] = load
    out["response_time_ms"] = hinge(load, knee, 50, 0.05, 0.85) + rng.normal(0, 5, n)
    out["response_time_p95_ms"] = hinge(load, knee, 120, 0.1, 2.0) + rng.normal(0, 12, n)
    return out


def traced(value: float, numbers: list[float]) -> bool:
    return any(abs(abs(value) - abs(n)) <= 1e-9 + 1e-6 * abs(n) for n in numbers)


def evidence_numbers(evidence: object) -> list[float]:
    """Every number anywhere in an evidence dict (values, list items, nested entries)."""
    if isinstance(evidence, bool):
        return []
    if isinstance(evidence, int | float):
        return [float(evidence)]
    if isinstance(evidence, dict):
        return [x for v in evidence.values() for x in evidence_numbers(v)]
    if isinstance(evidence, list):
        return [x for v in evidence for x in evidence_numbers(v)]
    return []


def untraced(suggestion: dict) -> list[str]:
    """Numbers in the title and expected effects that appear nowhere in the evidence.

    Dates and "YYYY-MM-DD HH:MM" times must appear in an evidence timestamp; a lone "HH:00" hour
    among the evidence numbers (an hour list or a peak hour).
    """
    import json
    import re

    numbers = evidence_numbers(suggestion["evidence"])
    as_text = json.dumps(suggestion["evidence"])
    texts = [suggestion["title"]] + [f"{e['at']} | {e['explanation']}" for e in suggestion["expected_effect"]]
    missing = [
        f"effect change {e['change']}" for e in suggestion["expected_effect"] if not traced(float(e["change"]), numbers)
    ]
    for text in texts:
        for date, time in re.findall(r"(\d{4}-\d{2}-\d{2})(?: (\d{2}:\d{2}))?", text):
            stamp = f"{date}T{time}" if time else date
            if stamp not in as_text:
                missing.append(stamp)
        text = re.sub(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?", " ", text)
        for hour in re.findall(r"(\d{2}):00", text):
            if not traced(float(hour), numbers):
                missing.append(f"{hour}:00")
        text = re.sub(r"\d{2}:00", " ", text)
        for token in re.findall(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?:e-?\d+)?", text):
            if not traced(float(token), numbers):
                missing.append(f"{token} in {text!r}")
    return missing
