"""The command-line tool's application object and what every command shares: opening the service
on the data directory, and printing an error as one line per problem."""

from __future__ import annotations

from typing import Any

import typer

from ..errors import AnalyticsError, ValidationError

app = typer.Typer(
    name="plugin-ai-analytics",
    help="Watch platform plugins: collect metrics, forecast them, detect anomalies, advise.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plugins_app = typer.Typer(help="The plugin registry.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")


def _service() -> Any:
    return _service_with(None)


def _service_with(settings: Any) -> Any:
    # loaded on use, so --help and the quick commands start fast
    from ..service import AnalyticsService

    return AnalyticsService(settings)


def _fail(exc: Exception) -> None:
    if isinstance(exc, AnalyticsError):
        # One line per problem (a registry file may have several), each readable on its own.
        for line in exc.message.splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None
    raise exc


@app.callback()
def _main() -> None:
    """Settings come from the environment and .env (see README: Configuration)."""
    from ..config import get_settings  # start-up cost: settings (pydantic-settings) load when a command runs

    try:
        get_settings()
    except ValidationError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
