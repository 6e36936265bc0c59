"""The plugin registry's rows (plugins and their sources) and the log of rejected batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Engine, delete, func, insert, select, update

from ..errors import NotFound
from ..security.masking import mask
from ..times import now_ms
from . import tables as t
from .database import upsert

__all__ = ["PluginRecords", "RejectionRecords", "FieldCipher", "SECRET_KEYS"]

# Keys of a source configuration whose values are credentials, encrypted at rest at any depth.
SECRET_KEYS = frozenset({"bearer_token", "password", "secret", "token"})


class FieldCipher(Protocol):
    """What the store needs to keep a field encrypted at rest (``security.crypto.SecretBox``)."""

    def encrypt(self, text: str) -> str: ...
    def decrypt(self, value: str) -> str: ...


def _map_secrets(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (fn(v) if k in SECRET_KEYS and isinstance(v, str) else _map_secrets(v, fn)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_map_secrets(v, fn) for v in value]
    return value


# Every table holding rows of one plugin: deleting a plugin clears them all in one transaction.
_PLUGIN_TABLES = (
    t.metrics,
    t.predictions,
    t.models,
    t.anomalies,
    t.suggestions,
    t.rejections,
    t.detector_states,
    t.advice_runs,
    t.interval_adaptation,
)


def push_only_row(plugin_id: str, now: int) -> dict[str, Any]:
    """The registration a plugin gets when its first samples arrive without one."""
    return {
        "plugin_id": plugin_id,
        "name": plugin_id,
        "description": "",
        "source": None,
        "interval_seconds": 60.0,
        "enabled": True,
        "memory_limit_mb": None,
        "cpu_limit_percent": None,
        "keep_history": False,
        "created_at": now,
        "updated_at": now,
    }


class PluginRecords:
    """Registered plugins: who they are, where their metrics come from, their limits."""

    def __init__(self, engine: Engine, cipher: FieldCipher | None = None) -> None:
        self._engine = engine
        self._cipher = cipher

    def _sealed(self, description: str, source: Any) -> tuple[str, Any]:
        """The free-text description and the source's credentials as stored: encrypted."""
        if self._cipher is None:
            return description, source
        return (self._cipher.encrypt(description) if description else ""), _map_secrets(source, self._cipher.encrypt)

    def _opened(self, row: Any) -> dict[str, Any]:
        out = dict(row)
        if self._cipher is not None:
            if out.get("description"):
                out["description"] = self._cipher.decrypt(out["description"])
            out["source"] = _map_secrets(out.get("source"), self._cipher.decrypt)
        return out

    def upsert(self, plugin: dict[str, Any]) -> None:
        now = now_ms()
        description, source = self._sealed(plugin.get("description") or "", plugin.get("source"))
        row = {
            "plugin_id": plugin["plugin_id"],
            "name": plugin.get("name") or plugin["plugin_id"],
            "description": description,
            "source": source,
            "interval_seconds": float(plugin.get("interval_seconds") or 60.0),
            "enabled": bool(plugin.get("enabled", True)),
            "memory_limit_mb": plugin.get("memory_limit_mb"),
            "cpu_limit_percent": plugin.get("cpu_limit_percent"),
            "keep_history": bool(plugin.get("keep_history", False)),
            "labels": plugin.get("labels") or None,
            "created_at": now,
            "updated_at": now,
        }
        cols = [c for c in row if c not in ("plugin_id", "created_at")]
        with self._engine.begin() as conn:
            conn.execute(upsert(conn, t.plugins, ["plugin_id"], cols, merge=False), [row])

    def get(self, plugin_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.plugins).where(t.plugins.c.plugin_id == plugin_id)).mappings().first()
        return self._opened(row) if row else None

    def require(self, plugin_id: str) -> dict[str, Any]:
        """The plugin's row; ``NotFound`` when it is neither registered nor has sent metrics."""
        row = self.get(plugin_id)
        if row is None:
            raise NotFound(f"plugin {plugin_id!r} is not registered and has sent no metrics", plugin_id=plugin_id)
        return row

    def all(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.plugins).order_by(t.plugins.c.plugin_id)).mappings().all()
        return [self._opened(r) for r in rows]

    def sealed(self) -> list[dict[str, Any]]:
        """Every registration as stored (secrets still encrypted), for configuration backups."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.plugins).order_by(t.plugins.c.plugin_id)).mappings().all()
        return [dict(r) for r in rows]

    def reseal(self, transform: Callable[[str], str]) -> int:
        """Apply ``transform`` (re-encryption with a new key) to every stored secret, each plugin
        in its own transaction; returns how many plugins were rewritten."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.plugins.c.plugin_id, t.plugins.c.description, t.plugins.c.source)).all()
        for plugin_id, description, source in rows:
            values = {
                "description": transform(description) if description else description,
                "source": _map_secrets(source, transform),
            }
            with self._engine.begin() as conn:
                conn.execute(update(t.plugins).where(t.plugins.c.plugin_id == plugin_id).values(**values))
        return len(rows)

    def delete(self, plugin_id: str) -> None:
        """Remove a plugin and everything recorded about it, in one transaction."""
        with self._engine.begin() as conn:
            found = conn.execute(delete(t.plugins).where(t.plugins.c.plugin_id == plugin_id)).rowcount
            if not found:
                raise NotFound(f"plugin {plugin_id!r} is not registered", plugin_id=plugin_id)
            for table in _PLUGIN_TABLES:
                conn.execute(delete(table).where(table.c.plugin_id == plugin_id))


class RejectionRecords:
    """Every rejected batch leaves a row, so data quality can say what was refused and why."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, plugin_id: str, field: str | None, message: str, samples: int) -> None:
        # a refused batch's message may quote what was sent: personal data is masked before it is kept
        row = {
            "plugin_id": plugin_id,
            "at": now_ms(),
            "field": mask(field) if field else field,
            "message": mask(message)[:2000],
            "samples": samples,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(t.rejections), [row])

    def counts(self, plugin_id: str | None = None, since_ms: int | None = None) -> dict[str, int]:
        """Rejected batches per plugin."""
        r = t.rejections.c
        q = select(r.plugin_id, func.count()).group_by(r.plugin_id)
        if plugin_id is not None:
            q = q.where(r.plugin_id == plugin_id)
        if since_ms is not None:
            q = q.where(r.at >= since_ms)
        with self._engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(q)}
