"""The service layer: the use cases every face calls, one part per concern, each built from the
store record kinds, settings and sibling parts it uses; ``AnalyticsService`` is the facade.

    ingest ─► detection          sources ─► ingest          plugins ─► sources, detection
    history ◄─ forecasts, advice, summary                    summary ─► forecasts, detection, advice
    health, status: read across the store                    batch: forecasts, detection, advice in workers
"""

from ..store.database import is_unavailable
from .facade import AnalyticsService

# ``is_unavailable`` tells the faces a database that cannot serve now (503) from a fault (500).
__all__ = ["AnalyticsService", "is_unavailable"]
