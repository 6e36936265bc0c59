"""``alerting load|show``: the alerting configuration (contact points, policies, inhibition,
maintenance windows) from a YAML file, and as it stands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import _fail, _service, app

__all__ = ["register"]

alerting_app = typer.Typer(
    help="Alerting: contact points, policies, silences (docs/alerting.md).", no_args_is_help=True
)


@alerting_app.command("load")
def alerting_load(path: Annotated[Path, typer.Argument(help="YAML alerting file", exists=True)]) -> None:
    """Replace the alerting configuration with a YAML file's (contact points, policies, inhibition,
    maintenance windows); a running service follows within a second."""
    service = _service()
    try:
        config = service.load_alerting_file(path)
    except Exception as exc:
        _fail(exc)
        return
    finally:
        service.close()
    typer.echo(
        f"loaded {len(config.contact_points)} contact points ({', '.join(c.name for c in config.contact_points)}), "
        f"{len(config.policies)} policies, {len(config.maintenance_windows)} maintenance windows"
    )


@alerting_app.command("show")
def alerting_show() -> None:
    """Print the alerting configuration as JSON (secrets left out: only whether each is set)."""
    service = _service()
    try:
        typer.echo(service.alerting_config().model_dump_json(indent=2))
    finally:
        service.close()


def register() -> None:
    """Add ``alerting`` to the tool (after the day-to-day commands in --help)."""
    app.add_typer(alerting_app, name="alerting")
