"""Trained forecasting models: their state as canonical JSON with a SHA-256 checksum, verified
on every load (a tampered or unreadable model is refused, never run), one active per metric."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from ..errors import ModelIntegrityError
from ..times import now_ms
from . import tables as t
from ._shared import canonical_json, sha256_hex

__all__ = ["ModelRecords"]


class ModelRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(
        self,
        plugin_id: str,
        metric: str,
        model_name: str,
        state: dict[str, Any],
        quality: dict[str, Any] | None,
        data_from: int | None,
        data_to: int | None,
    ) -> int:
        """Store a trained model; it becomes the active one. Returns its version."""
        text = canonical_json(state)
        m = t.models.c
        with self._engine.begin() as conn:
            version = conn.execute(
                select(func.coalesce(func.max(m.version), 0)).where(m.plugin_id == plugin_id, m.metric == metric)
            ).scalar_one()
            conn.execute(update(t.models).where(m.plugin_id == plugin_id, m.metric == metric).values(active=False))
            row = {
                "plugin_id": plugin_id,
                "metric": metric,
                "version": version + 1,
                "model_name": model_name,
                "trained_at": now_ms(),
                "data_from": data_from,
                "data_to": data_to,
                "state": text,
                "checksum": sha256_hex(text),
                "quality": quality,
                "active": True,
            }
            conn.execute(insert(t.models), [row])
        return int(version + 1)

    def active(self, plugin_id: str | None = None) -> list[dict[str, Any]]:
        """Active model rows *without* their state (cheap listing for status and summaries)."""
        m = t.models.c
        cols = [m.plugin_id, m.metric, m.version, m.model_name, m.trained_at, m.data_from, m.data_to, m.quality]
        q = select(*cols).where(m.active.is_(True)).order_by(m.plugin_id, m.metric)
        if plugin_id is not None:
            q = q.where(m.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def load_states(
        self, plugin_id: str, known_checksums: dict[str, str]
    ) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any]] | ModelIntegrityError]:
        """Every active model of the plugin in one query: per metric its state and info
        (``checksum`` included) after verifying the stored text against its checksum (the state
        is None, not parsed, when the checksum is ``known_checksums``' one: a model the caller holds
        already), or the ``ModelIntegrityError`` that refuses it (one bad model hides no other)."""
        m = t.models.c
        q = select(t.models).where(m.plugin_id == plugin_id, m.active.is_(True))
        with self._engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out: dict[str, tuple[dict[str, Any] | None, dict[str, Any]] | ModelIntegrityError] = {}
        for row in rows:
            try:
                out[row["metric"]] = _checked(plugin_id, row["metric"], row, known_checksums.get(row["metric"]))
            except ModelIntegrityError as exc:
                out[row["metric"]] = exc
        return out


def _checked(
    plugin_id: str, metric: str, row: Any, known_checksum: str | None
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A stored model row verified against its checksum; parsed unless ``known_checksum`` is its own."""
    if sha256_hex(row["state"]) != row["checksum"]:
        raise ModelIntegrityError(
            f"stored model {plugin_id}/{metric} v{row['version']} fails its checksum: refused (retrain it)",
            plugin_id=plugin_id,
            metric=metric,
        )
    info = {k: row[k] for k in ("version", "model_name", "trained_at", "data_from", "data_to", "quality")}
    info["checksum"] = row["checksum"]
    if known_checksum is not None and known_checksum == row["checksum"]:
        return None, info
    try:
        state = json.loads(row["state"])
    except ValueError:
        raise ModelIntegrityError(f"stored model {plugin_id}/{metric} is not valid JSON: refused") from None
    return state, info
