"""Anomaly detection engine: streaming detectors, calibration, events, severity, actions, feedback.

Pure: samples in, verdicts and events out; no database, HTTP, clock or global state.
"""

from .context import DEFAULT_FLOORS, PluginContext
from .events import (
    CRITICAL_METRICS,
    Diagnosis,
    Event,
    EventShape,
    MetricEvidence,
    Severity,
    Verdict,
    severity_of,
)
from .feedback import FeedbackMemory
from .frame import OUTPUT_COLUMNS, detect_frame
from .incidents import alert_threshold_for
from .plugin import PluginDetector

__all__ = [
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
