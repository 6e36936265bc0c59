"""The one logger setup: stderr plus a rotated ``logs/plugin_ai_analytics.log``.

One line per event, ``<time> <LEVEL> op=<operation> plugin=<id> <message>``, so ``grep ERROR``
and ``grep train_models`` work on the file as the seed shows. Personal data and tokens are
masked in every line (``security.masking``) before any handler writes it.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

from .security.masking import MaskingFilter

__all__ = ["configure_logging", "log_event", "logger"]

logger = logging.getLogger("plugin_ai_analytics")
_configured: Path | None = None


class _EventFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        op = getattr(record, "op", None)
        plugin = getattr(record, "plugin", None)
        prefix = ""
        if op:
            prefix += f"op={op} "
        if plugin:
            prefix += f"plugin={plugin} "
        record.event_prefix = prefix
        return super().format(record)


def configure_logging(log_dir: Path, level: str = "INFO") -> Path:
    """Attach the handlers once per process; returns the log file's path."""
    global _configured
    path = (log_dir / "plugin_ai_analytics.log").resolve()
    if _configured == path:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    formatter = _EventFormatter("%(asctime)s %(levelname)s %(event_prefix)s%(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=20 * 1024 * 1024, backupCount=5)
    stderr_handler = logging.StreamHandler(sys.stderr)
    for handler in (file_handler, stderr_handler):
        handler.setFormatter(formatter)
        handler.addFilter(MaskingFilter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    _configured = path
    return path


def log_event(level: int, op: str, message: str, *, plugin: str | None = None, **fields: Any) -> None:
    """Log one event line; ``fields`` are appended as ``key=value``."""
    if fields:
        message = message + " " + " ".join(f"{k}={v}" for k, v in fields.items())
    logger.log(level, message, extra={"op": op, "plugin": plugin})
