"""The alerting configuration as stored: contact points (their secrets each in a column of its own,
``secret_*``, so they can be encrypted at rest and are never read by accident), the policies,
inhibition rules and maintenance windows (one JSON document each), and the operators' silences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from ..errors import NotFound
from . import tables as t
from .database import upsert
from .registry import FieldCipher

__all__ = ["AlertConfigRecords", "SilenceRecords"]

# contact point field -> the column that holds it
SECRET_COLUMNS = {"url": "secret_url", "secret": "secret_signing_key", "password": "secret_smtp_password"}
CONFIG_PARTS = ("policies", "inhibit_rules", "maintenance_windows")


class AlertConfigRecords:
    def __init__(self, engine: Engine, cipher: FieldCipher | None = None) -> None:
        self._engine = engine
        self._cipher = cipher  # the secrets columns are encrypted at rest with it (security/crypto.py)

    def contact_points(self, *, with_secrets: bool = False) -> list[dict[str, Any]]:
        """Every contact point as its spec (``name``, ``kind``, settings); secrets only when asked
        (the delivery worker), as ``url`` / ``secret`` / ``password``."""
        with self._engine.connect() as conn:
            rows = list(conn.execute(select(t.alert_contact_points).order_by(t.alert_contact_points.c.name)).mappings())
        return [self._spec(r, with_secrets) for r in rows]

    def contact_point(self, name: str, *, with_secrets: bool = False) -> dict[str, Any]:
        q = select(t.alert_contact_points).where(t.alert_contact_points.c.name == name)
        with self._engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            raise NotFound(f"contact point {name!r} does not exist", contact_point=name)
        return self._spec(row, with_secrets)

    def put_contact_point(self, spec: dict[str, Any], now: int, *, keep: Sequence[str] = ()) -> None:
        """Create or replace a contact point; the secrets named in ``keep`` (left out of a
        replacement) stay as stored."""
        with self._engine.begin() as conn:
            self._put(conn, spec, now, keep)

    def _put(self, conn: Any, spec: dict[str, Any], now: int, keep: Sequence[str]) -> None:
        row = {
            "name": spec["name"],
            "kind": spec["kind"],
            "settings": {k: v for k, v in spec.items() if k not in SECRET_COLUMNS and k not in ("name", "kind")},
            "created_at": now,
            "updated_at": now,
            **{column: self._seal(spec.get(field)) for field, column in SECRET_COLUMNS.items()},
        }
        columns = ["kind", "settings", "updated_at", *(c for f, c in SECRET_COLUMNS.items() if f not in keep)]
        conn.execute(upsert(conn, t.alert_contact_points, ["name"], columns, merge=False), [row])

    def delete_contact_point(self, name: str) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(delete(t.alert_contact_points).where(t.alert_contact_points.c.name == name))
        if done.rowcount == 0:
            raise NotFound(f"contact point {name!r} does not exist", contact_point=name)

    def part(self, name: str) -> Any:
        """One part of the configuration (None when never set)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(t.alerting_config.c.value).where(t.alerting_config.c.name == name)).first()
        return None if row is None else row[0]

    def put_part(self, name: str, value: Any, now: int) -> None:
        with self._engine.begin() as conn:
            self._put_part(conn, name, value, now)

    def _put_part(self, conn: Any, name: str, value: Any, now: int) -> None:
        row = {"name": name, "value": value, "updated_at": now}
        conn.execute(upsert(conn, t.alerting_config, ["name"], ["value", "updated_at"], merge=False), [row])

    def replace_all(self, contact_points: Sequence[dict[str, Any]], parts: dict[str, Any], now: int) -> None:
        """The whole configuration at once (a YAML file, ``PUT /alerting/config``): contact points
        not named are deleted; one named without a secret keeps the one it has."""
        names = [c["name"] for c in contact_points]
        with self._engine.begin() as conn:
            conn.execute(delete(t.alert_contact_points).where(t.alert_contact_points.c.name.not_in(names)))
            for spec in contact_points:
                self._put(conn, spec, now, [f for f in SECRET_COLUMNS if spec.get(f) is None])
            for name, value in parts.items():
                self._put_part(conn, name, value, now)

    def version(self) -> tuple[int, int, int]:
        """Changes whenever the configuration does (a cheap cache key for every replica)."""
        c, p = t.alert_contact_points.c, t.alerting_config.c
        with self._engine.connect() as conn:
            points = conn.execute(select(func.count(), func.max(c.updated_at))).one()
            parts = conn.execute(select(func.max(p.updated_at))).scalar_one()
        return int(points[0]), int(points[1] or 0), int(parts or 0)

    def _seal(self, value: str | None) -> str | None:
        return value if value is None or self._cipher is None else self._cipher.encrypt(value)

    def _spec(self, row: Any, with_secrets: bool) -> dict[str, Any]:
        spec = {"name": row["name"], "kind": row["kind"], **(row["settings"] or {})}
        for field, column in SECRET_COLUMNS.items():
            value = row[column]
            if with_secrets and value is not None and self._cipher is not None:
                value = self._cipher.decrypt(value)
            spec[field] = value if with_secrets else None
            spec[f"_has_{field}"] = row[column] is not None
        return spec

    def reseal(self, transform: Callable[[str], str]) -> int:
        """Apply ``transform`` (re-encryption with a new key) to every stored secret of every contact
        point, each in its own transaction; returns how many contact points were rewritten."""
        columns = list(SECRET_COLUMNS.values())
        cp = t.alert_contact_points
        with self._engine.connect() as conn:
            rows = conn.execute(select(cp.c.name, *(cp.c[c] for c in columns))).all()
        for name, *secrets in rows:
            values = {c: transform(v) if v is not None else None for c, v in zip(columns, secrets, strict=True)}
            with self._engine.begin() as conn:
                conn.execute(update(cp).where(cp.c.name == name).values(**values))
        return len(rows)


class SilenceRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, row: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.alert_silences), [row])

    def find(self, *, active_at: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Silences newest first; with ``active_at`` only those not ended by then."""
        s = t.alert_silences.c
        q = select(t.alert_silences)
        if active_at is not None:
            q = q.where(s.ends_at > active_at)
        q = q.order_by(s.created_at.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def get(self, silence_id: str) -> dict[str, Any]:
        q = select(t.alert_silences).where(t.alert_silences.c.silence_id == silence_id)
        with self._engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            raise NotFound(f"silence {silence_id!r} does not exist", silence_id=silence_id)
        return dict(row)

    def expire(self, silence_id: str, now: int) -> dict[str, Any]:
        """End a silence now (it stays listed, as expired)."""
        s = t.alert_silences.c
        with self._engine.begin() as conn:
            conn.execute(
                update(t.alert_silences)
                .where(s.silence_id == silence_id, s.ends_at > now)
                .values(ends_at=now, updated_at=now)
            )
        return self.get(silence_id)

    def version(self) -> tuple[int, int]:
        s = t.alert_silences.c
        with self._engine.connect() as conn:
            n, at = conn.execute(select(func.count(), func.max(s.updated_at))).one()
        return int(n), int(at or 0)

    def delete_ended(self, before: int) -> int:
        with self._engine.begin() as conn:
            return conn.execute(delete(t.alert_silences).where(t.alert_silences.c.ends_at < before)).rowcount
