"""The engine's public surface does not change by accident, and its docstring examples run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import plugin_ai_analytics.anomaly as anomaly

MODULES = ["actions", "cadence", "calibration", "channel", "context", "detectors", "events", "feedback"]
MODULES += ["forest_channel"]
MODULES += ["frame", "incidents", "isolation", "plugin", "samples", "streaming"]


def test_exported_names() -> None:
    assert sorted(anomaly.__all__) == sorted(
        [
            "CRITICAL_METRICS",
            "DEFAULT_FLOORS",
            "Diagnosis",
            "Event",
            "EventShape",
            "FeedbackMemory",
            "MetricEvidence",
            "OUTPUT_COLUMNS",
            "PluginContext",
            "PluginDetector",
            "Severity",
            "Verdict",
            "alert_threshold_for",
            "detect_frame",
            "severity_of",
        ]
    )


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"plugin_ai_analytics.anomaly.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0


def test_importing_the_package_does_not_import_sklearn() -> None:
    import subprocess
    import sys

    code = "import plugin_ai_analytics.anomaly, sys; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
