"""Sets up a fresh install with real things to look at: the service's own process, the sample
plugins file's sources, and real recorded server metrics replayed as history ending now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .collect.importer import read_history
from .errors import NotFound

__all__ = ["prepare_demo", "default_backfill_dir"]

# NAB file name fragment → the metric it measures (the others, bytes and packets, are not ours).
_NAB_METRICS = {"cpu_utilization": "cpu_percent", "request_count": "request_count"}


def default_backfill_dir() -> Path | None:
    """``../shared/data/nab/data/realAWSCloudwatch`` next to the checkout, when present."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"
        if candidate.is_dir():
            return candidate
    candidate = Path.cwd().parent / "shared" / "data" / "nab" / "data" / "realAWSCloudwatch"
    return candidate if candidate.is_dir() else None


def prepare_demo(
    service: Any,
    pid: int,
    *,
    plugins_file: Path | None,
    backfill: Path | None,
    port: int = 8000,
    token: str | None = None,
) -> list[str]:
    """Register and fill the demo plugins; ``token`` (a viewer's) lets the self-scrape read /metrics."""
    lines = []
    service.register_plugin(
        {
            "plugin_id": "plugin-ai-analytics",
            "name": "this service's own process",
            "source": {"type": "process", "pid": pid},
            "interval_seconds": 5,
        }
    )
    lines.append(f"sampling this service's own process (pid {pid}) every 5 s as plugin 'plugin-ai-analytics'")
    service.register_plugin(
        {
            "plugin_id": "plugin-ai-analytics-api",
            "name": "this service's API, scraped from its own /metrics",
            "source": {"type": "prometheus", "url": f"http://127.0.0.1:{port}/metrics", "bearer_token": token},
            "interval_seconds": 15,
        }
    )
    lines.append("scraping this service's own Prometheus endpoint every 15 s as plugin 'plugin-ai-analytics-api'")
    if plugins_file is not None and plugins_file.exists():
        ids = service.load_plugins_file(plugins_file)
        lines.append(f"registered {len(ids)} plugins from {plugins_file}: {', '.join(ids)}")
    folder = backfill or default_backfill_dir()
    if folder is None or not folder.is_dir():
        lines.append("no recorded history found to replay (pass --backfill FOLDER of timestamp,value CSVs)")
        return lines
    for path in sorted(folder.glob("*.csv")):
        metric = next((m for frag, m in _NAB_METRICS.items() if frag in path.name), None)
        if metric is None:
            continue
        plugin_id = "nab-" + path.stem.replace("_", "-")
        if _samples(service, plugin_id):
            # Replaying again would interleave a second, shifted copy with the first.
            lines.append(f"plugin '{plugin_id}' already holds its replayed history")
            continue
        frame = read_history(path, "timestamp", {"value": metric}, shift_to_now=True)
        if metric == "request_count":
            frame[metric] = frame[metric].round()
        service.import_frame(plugin_id, frame)
        step = frame["timestamp"].diff().median().total_seconds()
        service.register_plugin(
            {
                "plugin_id": plugin_id,
                "name": f"replay of {path.name}",
                "description": f"recorded {metric} from NAB, played on in real time after its history",
                "interval_seconds": step,
                # CloudWatch CPU utilisation is a share of the instance: the plugin owns 100 % of one
                "cpu_limit_percent": 100.0 if metric == "cpu_percent" else None,
                "source": {
                    "type": "replay",
                    "path": str(path.resolve()),
                    "metric": metric,
                    "ends_at": frame["timestamp"].iloc[-1].timestamp(),
                },
            }
        )
        lines.append(
            f"replayed {len(frame)} samples of {path.name} as plugin '{plugin_id}' ({metric}), "
            f"played on live every {step:g} s"
        )
    # Forecasts, anomalies and advice for the replayed history, so every view has something real.
    for plugin in service.list_plugins():
        plugin_id = plugin.plugin_id
        if not plugin_id.startswith("nab-") or service.trained_models(plugin_id):
            continue
        service.train_models_now(plugin_id)
        service.detect_anomalies(plugin_id)
        service.optimization_suggestions(plugin_id)
        lines.append(f"trained, scanned for anomalies and analysed '{plugin_id}'")
    return lines


def _samples(service: Any, plugin_id: str) -> int:
    try:
        return service.get_plugin(plugin_id).samples
    except NotFound:
        return 0
