"""The command-line tool (``plugin-ai-analytics``): one Typer application, its commands in a module
per concern. Thin: every command calls the service layer; errors print one line naming what is
wrong. ``plugin-ai-analytics --help`` lists them all.
"""

from __future__ import annotations

import sys

from . import admin, alerting, commands, scale  # noqa: F401 - commands registers its own on import
from ._app import app

admin.register()
alerting.register()
scale.register()

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
