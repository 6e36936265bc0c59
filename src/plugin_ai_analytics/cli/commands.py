"""The day-to-day commands: serve, demo, import, collect, plugins, status, openapi, and the
engines on the operator's own files (forecast, backtest, detect)."""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ValidationError
from ._app import _fail, _service, _service_with, app, plugins_app


def _ensure_port_free(host: str, port: int) -> None:
    """Exit with one line before any set-up when ``host:port`` cannot be listened on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        typer.echo(f"error: cannot listen on {host}: {exc.strerror}; choose another with --host", err=True)
        raise typer.Exit(2) from None
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by a server that just stopped is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            other = port + 1 if port < 65535 else 8001
            how = f"start on another one with --port {other} (scripts/start: PORT={other} scripts/start)"
            if exc.errno == errno.EADDRINUSE:
                typer.echo(f"error: port {port} on {host} is already in use; {how}", err=True)
            else:
                typer.echo(f"error: cannot listen on {host}:{port} ({exc.strerror}); {how}", err=True)
            raise typer.Exit(2) from None


def _loopback(host: str) -> bool:
    # loaded on use, so --help and the quick commands start fast
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    plugins_file: Annotated[
        Path | None, typer.Option(help="YAML plugin registry to load at start (AI_ANALYTICS_PLUGINS_FILE)")
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="authentication OFF: every caller is an admin (loopback only; a warning)"),
    ] = False,
    tls_cert: Annotated[
        Path | None, typer.Option(help="serve HTTPS with this certificate (AI_ANALYTICS_TLS_CERT)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="its private key (AI_ANALYTICS_TLS_KEY)")] = None,
) -> None:
    """Start the service (REST API, scheduler, workers) in this process. Every route but /healthz,
    the dashboard's page and files and the API description needs a token; on a first start one
    admin token is made and printed once."""
    # loaded on use, so --help and the quick commands start fast
    from ..config import get_settings

    settings = get_settings()
    updates: dict[str, Any] = {"plugins_file": plugins_file} if plugins_file is not None else {}
    if insecure:
        updates["insecure"] = True
    if tls_cert is not None or tls_key is not None:
        updates.update(tls_cert=tls_cert, tls_key=tls_key)
    _run_server(settings.model_copy(update=updates), host, port)


def _run_server(settings: Any, host: str, port: int) -> None:
    # loaded on use, so --help and the quick commands start fast
    import uvicorn

    from ..api.app import create_app  # loaded on use, so --help and the quick commands start fast

    if settings.insecure and not _loopback(host):
        typer.echo(f"error: --insecure (authentication off) refuses to listen on {host}: use 127.0.0.1", err=True)
        raise typer.Exit(2)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        typer.echo("error: TLS needs both --tls-cert and --tls-key", err=True)
        raise typer.Exit(2)
    _ensure_port_free(host, port)
    if settings.insecure:
        typer.echo("WARNING: authentication is OFF (--insecure): anyone reaching this port is an admin", err=True)
    else:
        _first_admin_token(settings)
    tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)} if settings.tls_cert else {}
    uvicorn.run(create_app(settings=settings), host=host, port=port, log_level="warning", access_log=False, **tls)


def _first_admin_token(settings: Any) -> None:
    """On a first start (no token yet), make an admin token and print it once."""
    # loaded on use, so --help and the quick commands start fast
    from ..service import AnalyticsService

    service = AnalyticsService(settings)
    try:
        if service.tokens.has_active():
            return
        token, info = service.tokens.create("initial-admin", "admin", created_by="first-start")
        service.audit.record("system", "token_create", details={"token_id": info["token_id"], "role": "admin"})
    finally:
        service.close()
    typer.echo(
        "No API token existed, so an admin token was made. It is shown only now; send it as\n"
        "  Authorization: Bearer <token>\n"
        "and make more with: plugin-ai-analytics tokens create --role viewer|operator|admin|ingest\n" + token
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    backfill: Annotated[
        Path | None,
        typer.Option(
            help="folder of NAB-style CSVs (timestamp,value) to replay as history; default: ../shared/data/nab"
        ),
    ] = None,
    plugins_file: Annotated[Path, typer.Option(help="sample plugin registry")] = Path("examples/plugins.yaml"),
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="start the service afterwards")] = True,
) -> None:
    """Set up something real to look at, then serve: this service's own process sampled every
    5 s, the processes named in the sample plugins file, and real recorded server metrics
    (the NAB AWS CloudWatch series, when found) replayed as history ending now."""
    # loaded on use, so --help and the quick commands start fast
    from ..demo import prepare_demo

    if serve_after:
        _ensure_port_free(host, port)  # before the set-up, which registers this process as a plugin
    # loaded on use, so --help and the quick commands start fast
    from ..config import get_settings

    # The demo scrapes its own /metrics on loopback: allow that one outbound address.
    settings = get_settings()
    allow = ",".join(a for a in (settings.outbound_allow, "127.0.0.1/32") if a)
    settings = settings.model_copy(update={"outbound_allow": allow})
    service = _service_with(settings)
    try:
        for old in service.tokens.list():  # a demo started again replaces its tokens
            if old["created_by"] == "demo" and old["revoked_at"] is None:
                service.tokens.revoke(old["token_id"])
        token, _ = service.tokens.create("demo", "admin", created_by="demo")
        scrape_token, _ = service.tokens.create("demo-self-scrape", "viewer", created_by="demo")
        summary = prepare_demo(
            service, os.getpid(), plugins_file=plugins_file, backfill=backfill, port=port, token=scrape_token
        )
    except Exception as exc:
        service.close()
        _fail(exc)
        return
    service.close()
    for line in summary:
        typer.echo(line)
    if serve_after:
        typer.echo(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
        typer.echo('the demo\'s admin token (log the dashboard in with it; curl -H "Authorization: Bearer $TOKEN"):')
        typer.echo(token)
        if plugins_file.exists():
            settings = settings.model_copy(update={"plugins_file": plugins_file})
        _run_server(settings, host, port)
    else:
        typer.echo("the demo's admin token:")
        typer.echo(token)


@app.command("import")
def import_history(
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file", exists=True, dir_okay=False)],
    plugin: Annotated[str, typer.Option("--plugin", "-p", help="plugin id to store the history under")],
    timestamp_column: Annotated[str, typer.Option(help="name of the timestamp column")] = "timestamp",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            help="COLUMN=metric, e.g. value=cpu_percent (repeatable); "
            "columns already named like metrics map themselves",
        ),
    ] = None,
    shift_to_now: Annotated[
        bool,
        typer.Option(help="move the timestamps so the last row is now (a recorded history replayed as recent)"),
    ] = False,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="keep this plugin's records out of retention (keep_history), for history older than the "
            "retention period that must stay as it is",
        ),
    ] = False,
) -> None:
    """Import metric history from CSV or Parquet (backfill, evaluation).

    Rows older than the metrics retention (AI_ANALYTICS_RETENTION_METRICS_DAYS, 30 days) would be
    deleted by the next hourly retention run: such a file is refused unless --shift-to-now moves it
    to end now, or --keep exempts the plugin from retention."""
    # loaded on use, so --help and the quick commands start fast
    from rich.progress import Progress

    # loaded on use, so --help and the quick commands start fast
    from ..collect.importer import parse_mapping, read_history

    try:
        frame = read_history(path, timestamp_column, parse_mapping(map_ or []), shift_to_now=shift_to_now)
        service = _service()
        try:
            with Progress(transient=False) as bar:
                task = bar.add_task(f"importing {path.name} → {plugin}", total=len(frame))
                result = service.import_frame(
                    plugin, frame, keep_history=keep, progress=lambda n: bar.update(task, completed=n)
                )
        finally:
            service.close()
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(result))


def _horizon(text: str) -> Any:
    # loaded on use, so --help and the quick commands start fast
    import pandas as pd

    try:
        value = pd.Timedelta(text)
    except ValueError:
        raise ValidationError(f"--horizon {text!r} is not a duration like 24h, 90min, 2d", field="horizon") from None
    return value


@app.command()
def forecast(
    history: Annotated[
        Path, typer.Argument(help="CSV/Parquet with a timestamp column and a value column", exists=True)
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the forecast CSV")],
    horizon: Annotated[str, typer.Option(help="how far ahead, e.g. 24h")] = "24h",
    timestamp_column: Annotated[str, typer.Option(help="name of the timestamp column")] = "timestamp",
    value_column: Annotated[str | None, typer.Option(help="value column (default: the only other column)")] = None,
    metric: Annotated[
        str | None, typer.Option(help="metric name, to respect its physical range (e.g. error_rate in 0..1)")
    ] = None,
    models: Annotated[
        str, typer.Option(help="model pool: baselines (the service's default) or all (AI_ANALYTICS_FORECAST_MODELS)")
    ] = "baselines",
) -> None:
    """Forecast the period after the last row with exactly the production engine; writes
    timestamp,forecast,lower_80,upper_80,lower_95,upper_95."""
    # loaded on use, so --help and the quick commands start fast
    from ..collect.importer import read_series
    from ..forecast import MODEL_POOLS, train

    try:
        if models not in MODEL_POOLS:
            raise ValidationError(f"--models must be one of {sorted(MODEL_POOLS)}, not {models!r}", field="models")
        series = read_series(history, timestamp_column, value_column)
        model = train(series, horizon=_horizon(horizon), metric=metric, candidates=MODEL_POOLS[models])
        result = model.predict(series).to_frame()
    except Exception as exc:
        _fail(exc)
        return
    columns = ["timestamp", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    out = result[columns].copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(output, index=False)
    typer.echo(f"model {model.model}: {len(out)} steps of {model.step} written to {output}")


@app.command()
def backtest(
    history: Annotated[
        Path, typer.Argument(help="CSV/Parquet with a timestamp column and a value column", exists=True)
    ],
    horizon: Annotated[str, typer.Option(help="how far ahead each origin forecasts, e.g. 24h")] = "24h",
    origins: Annotated[int, typer.Option(help="how many consecutive horizons at the end to score")] = 3,
    timestamp_column: Annotated[str, typer.Option(help="name of the timestamp column")] = "timestamp",
    value_column: Annotated[str | None, typer.Option(help="value column (default: the only other column)")] = None,
    metric: Annotated[str | None, typer.Option(help="metric name, to respect its physical range")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Score the production engine on the last ORIGINS horizons of your own history: per-origin and
    average MASE, accuracy % (100 x (1 - WAPE)) and 80%/95% interval coverage."""
    # loaded on use, so --help and the quick commands start fast
    from ..collect.importer import read_series
    from ..forecast import backtest as run_backtest

    try:
        series = read_series(history, timestamp_column, value_column)
        report = run_backtest(series, horizon=_horizon(horizon), origins=origins, metric=metric)
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format())


@app.command()
def detect(
    input_csv: Annotated[
        Path, typer.Argument(help="CSV: a timestamp column and one or more metric columns", exists=True)
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the scored CSV")],
    sensitivity: Annotated[
        float | None, typer.Option(help="share of unusual behaviour accepted (default ANOMALY_DETECTION_SENSITIVITY)")
    ] = None,
    timestamp_column: Annotated[str, typer.Option(help="name of the timestamp column")] = "timestamp",
) -> None:
    """Stream a CSV through exactly the production detector, row by row in time order; writes
    timestamp,value,anomaly_score,alert,severity (alert = 1 where a new anomaly event opens)."""
    # loaded on use, so --help and the quick commands start fast
    from ..anomaly import detect_frame
    from ..collect.importer import read_metric_table
    from ..config import get_settings

    try:
        frame = read_metric_table(input_csv, timestamp_column)
        scored = detect_frame(frame, sensitivity=sensitivity or get_settings().anomaly_detection_sensitivity)
    except Exception as exc:
        _fail(exc)
        return
    scored.to_csv(output, index=False)
    typer.echo(f"{len(scored)} rows scored, {int(scored['alert'].sum())} alerts, written to {output}")


@app.command()
def collect(plugin: Annotated[str, typer.Argument(help="plugin id with a registered source")]) -> None:
    """Collect one sample from a plugin's source now and store it."""
    service = _service()
    try:
        typer.echo(service.collect_once(plugin).model_dump_json())
    except Exception as exc:
        _fail(exc)
    finally:
        service.close()


@plugins_app.command("list")
def plugins_list() -> None:
    """List registered plugins with their data extent."""
    # loaded on use, so --help and the quick commands start fast
    from rich.console import Console
    from rich.table import Table

    service = _service()
    try:
        plugins = service.list_plugins()
    finally:
        service.close()
    table = Table("plugin", "source", "interval s", "samples", "last sample")
    for column in table.columns:
        column.overflow = "fold"  # ids and times are shown whole, wrapped if the terminal is narrow
    for p in plugins:
        table.add_row(
            p.plugin_id,
            (p.source or {}).get("type", "push"),
            f"{p.interval_seconds:g}",
            str(p.samples),
            p.last_sample or "-",
        )
    Console().print(table)


@plugins_app.command("load")
def plugins_load(path: Annotated[Path, typer.Argument(help="YAML registry file", exists=True)]) -> None:
    """Register every plugin in a YAML registry file."""
    service = _service()
    try:
        ids = service.load_plugins_file(path)
    except Exception as exc:
        _fail(exc)
        return
    finally:
        service.close()
    typer.echo(f"registered {len(ids)} plugins: {', '.join(ids)}")


DEFAULT_URL = "http://127.0.0.1:8000"


@app.command()
def status(
    url: Annotated[
        str, typer.Option(envvar="AI_ANALYTICS_URL", help="the running service to ask (AI_ANALYTICS_URL)")
    ] = DEFAULT_URL,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="read the data directory directly instead (no server needed; this process's view)"
        ),
    ] = False,
    token: Annotated[
        str | None, typer.Option(envvar="AI_ANALYTICS_TOKEN", help="API token for the service (AI_ANALYTICS_TOKEN)")
    ] = None,
) -> None:
    """Print the running service's status (database, scheduler, executor, models, data quality) as JSON."""
    if local:
        service = _service()
        try:
            typer.echo(service.system_status().model_dump_json(indent=2))
        finally:
            service.close()
        return
    # loaded on use, so --help and the quick commands start fast
    import httpx

    endpoint = url.rstrip("/") + "/api/plugin-ai-analytics/system-status"
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(endpoint, timeout=10, headers=headers)
    except httpx.HTTPError as exc:
        typer.echo(
            f"error: no service answers at {url} ({type(exc).__name__}); start one (scripts/start or "
            "plugin-ai-analytics serve), pass --url, or use --local to read the data directory",
            err=True,
        )
        raise typer.Exit(2) from None
    if response.status_code != 200:
        typer.echo(f"error: {endpoint} answered {response.status_code}: {response.text[:200]}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(response.json(), indent=2))


@app.command()
def openapi() -> None:
    """Print the REST API's OpenAPI document (as committed in docs/openapi.json), to generate clients."""
    # loaded on use, so --help and the quick commands start fast
    from ..api.openapi import openapi_json

    typer.echo(openapi_json(), nl=False)
