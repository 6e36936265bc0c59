"""plugin-ai-analytics: metrics, forecasts, anomalies and optimisation advice for platform plugins."""

__version__ = "0.1.0"
