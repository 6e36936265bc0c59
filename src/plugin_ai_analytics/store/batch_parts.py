"""The parts of a batch job run by distributed workers: one row per (job, plugin), so a part
delivered twice (its worker died before acknowledging it) finds what the first delivery
committed instead of storing a second result."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select, update

from ..times import now_ms
from . import tables as t
from .database import insert_ignore

__all__ = ["BatchParts"]


class BatchParts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def begin(self, job_id: str, plugin_id: str, worker: str) -> dict[str, Any]:
        """The part's row, created on its first delivery; a later delivery counts an attempt and
        gets the steps (and result) already committed."""
        p = t.batch_parts.c
        steps = {"done": [], "partial": {}}
        row = {"job_id": job_id, "plugin_id": plugin_id, "steps": steps, "result": None, "worker": worker}
        with self._engine.begin() as conn:
            # RETURNING says whether this delivery made the row (a driver's rowcount may be -1)
            created = conn.execute(
                insert_ignore(conn, t.batch_parts, ["job_id", "plugin_id"]).returning(p.job_id),
                {**row, "attempts": 1, "updated_at": now_ms()},
            ).first()
            key = (p.job_id == job_id) & (p.plugin_id == plugin_id)
            if created is None:
                conn.execute(
                    update(t.batch_parts)
                    .where(key, p.result.is_(None))
                    .values(attempts=p.attempts + 1, worker=worker, updated_at=now_ms())
                )
            return dict(conn.execute(select(t.batch_parts).where(key)).mappings().one())

    def step_done(self, job_id: str, plugin_id: str, steps: list[str], partial: dict[str, Any]) -> None:
        """``steps`` are committed (their partial result kept with them)."""
        p = t.batch_parts.c
        with self._engine.begin() as conn:
            conn.execute(
                update(t.batch_parts)
                .where(p.job_id == job_id, p.plugin_id == plugin_id, p.result.is_(None))
                .values(steps={"done": steps, "partial": partial}, updated_at=now_ms())
            )

    def finish(self, job_id: str, plugin_id: str, result: dict[str, Any], worker: str) -> bool:
        """Store the part's result once; False if a result was there already."""
        p = t.batch_parts.c
        with self._engine.begin() as conn:
            return bool(
                conn.execute(
                    update(t.batch_parts)
                    .where(p.job_id == job_id, p.plugin_id == plugin_id, p.result.is_(None))
                    .values(result=result, worker=worker, updated_at=now_ms())
                ).rowcount
            )

    def finished(self, job_id: str) -> int:
        p = t.batch_parts.c
        q = select(func.count()).select_from(t.batch_parts).where(p.job_id == job_id, p.result.is_not(None))
        with self._engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def results(self, job_id: str) -> list[dict[str, Any]]:
        """Every finished part of the job: plugin, result, worker, attempts."""
        p = t.batch_parts.c
        q = (
            select(p.plugin_id, p.result, p.worker, p.attempts)
            .where(p.job_id == job_id, p.result.is_not(None))
            .order_by(p.plugin_id)
        )
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]
