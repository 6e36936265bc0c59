"""The typed records every answer of the service is made of: what the REST API documents and
returns, what the Python API and the CLI hand out. ISO-8601 times appear only here, at the edge;
inside, the service counts in epoch milliseconds.

One module per group of endpoints; every record is spelled once.
"""

from ._base import Record
from .alerts import (
    AlertingConfigView,
    AlertList,
    AlertRecord,
    ContactPointList,
    ContactPointView,
    Delivery,
    DeliveryAttempt,
    DeliveryList,
    PolicyList,
    Silence,
    SilenceList,
)
from .anomalies import AnomalyEvent, AnomalyHistory, DetectionResult, DetectionVerdict, Evidence
from .conditions import Condition
from .export import ExportDocument
from .forecasts import (
    ForecastAccuracy,
    ForecastFailure,
    ForecastPoint,
    MetricForecast,
    PluginForecast,
    TrackedAccuracy,
    TrainedModel,
    TrainingReadiness,
)
from .jobs import BatchAccepted, BatchQueued, Job, JobAccepted, JobList
from .metrics import IngestResult, MetricRow, MetricsPage
from .overview import HealthRow, PluginHealth, PluginsOverview
from .plugins import Plugin, PluginList, SourceStatus
from .suggestions import AdviceRun, SkippedAnalysis, Suggestion, SuggestionHistory, SuggestionReport
from .summary import AnalyticsSummary
from .system import SystemStatus

__all__ = [
    "AdviceRun",
    "AlertList",
    "AlertRecord",
    "AlertingConfigView",
    "AnalyticsSummary",
    "AnomalyEvent",
    "AnomalyHistory",
    "BatchAccepted",
    "BatchQueued",
    "Condition",
    "ContactPointList",
    "ContactPointView",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryList",
    "DetectionResult",
    "DetectionVerdict",
    "Evidence",
    "ExportDocument",
    "ForecastAccuracy",
    "ForecastFailure",
    "ForecastPoint",
    "HealthRow",
    "IngestResult",
    "Job",
    "JobAccepted",
    "JobList",
    "MetricForecast",
    "MetricRow",
    "MetricsPage",
    "Plugin",
    "PluginForecast",
    "PluginHealth",
    "PluginList",
    "PluginsOverview",
    "PolicyList",
    "Record",
    "Silence",
    "SilenceList",
    "SkippedAnalysis",
    "SourceStatus",
    "Suggestion",
    "SuggestionHistory",
    "SuggestionReport",
    "SystemStatus",
    "TrackedAccuracy",
    "TrainedModel",
    "TrainingReadiness",
]
