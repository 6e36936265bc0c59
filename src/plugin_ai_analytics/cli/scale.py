"""``worker``, ``beat``, ``workers``: the processes of a scaled-out deployment
(AI_ANALYTICS_EXECUTOR=celery; docs/deployment.md). API replicas are ``serve``."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import _fail, app

__all__ = ["register"]


def register() -> None:
    """Add the scale-out commands to the tool."""

    @app.command()
    def worker(
        concurrency: Annotated[int, typer.Option(min=1, max=256, help="tasks run at once (processes)")] = 1,
        hostname: Annotated[str | None, typer.Option(help="this worker's name, unique per deployment")] = None,
        pool: Annotated[str, typer.Option(help="prefork (a process per task) or solo (this process)")] = "prefork",
        loglevel: Annotated[str, typer.Option(help="Celery's own log level")] = "WARNING",
    ) -> None:
        """Run a Celery worker: takes jobs (training, batch parts, retention, backups, alert delivery)
        from the broker until SIGTERM, which lets the tasks in flight finish first."""
        # loaded on use: Celery and the engines only for the processes that run them
        from ..config import load_settings
        from ..worker import run_worker

        if pool not in ("prefork", "solo"):
            typer.echo("error: --pool must be prefork or solo", err=True)
            raise typer.Exit(2)
        try:
            run_worker(load_settings(), concurrency=concurrency, hostname=hostname, pool=pool, loglevel=loglevel)
        except Exception as exc:
            _fail(exc)

    @app.command()
    def beat(loglevel: Annotated[str, typer.Option(help="Celery's own log level")] = "WARNING") -> None:
        """Run the one beat process: sends the periodic work (retention, scoring, retraining, backups,
        alert rules and delivery) to the workers on time, and samples the pull sources. A second
        beat on the same database refuses to start."""
        # loaded on use: Celery and the engines only for the processes that run them
        from ..config import load_settings
        from ..worker import run_beat

        try:
            run_beat(load_settings(), loglevel=loglevel)
        except Exception as exc:
            _fail(exc)

    @app.command()
    def workers(timeout: Annotated[float, typer.Option(min=0.1, max=60, help="seconds to wait")] = 2.0) -> None:
        """List the workers that answer (exit 1 when none does): a readiness check for worker machines."""
        # loaded on use: Celery only for the processes that use it
        from ..config import load_settings
        from ..worker import ping_workers

        try:
            names = ping_workers(load_settings(), timeout=timeout)
        except Exception as exc:
            _fail(exc)
            return
        for name in names:
            typer.echo(name)
        if not names:
            typer.echo("error: no worker answered", err=True)
            raise typer.Exit(1)
