"""``python -m plugin_ai_analytics`` is the CLI."""

from .cli import app

app(prog_name="plugin-ai-analytics")
