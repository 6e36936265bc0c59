"""Background jobs' life (queued → running → succeeded / failed / cancelled), so any API replica
can say how a job is doing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from ..errors import NotFound
from ..times import now_ms
from . import tables as t

__all__ = ["JobRecords"]


class JobRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, kind: str, plugin_id: str | None, params: dict[str, Any] | None = None) -> str:
        job_id = str(uuid.uuid4())
        row = {
            "job_id": job_id,
            "kind": kind,
            "plugin_id": plugin_id,
            "status": "queued",
            "progress": 0.0,
            "created_at": now_ms(),
            "result": {"params": params} if params else None,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(t.jobs), [row])
        return job_id

    def update(self, job_id: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.job_id == job_id).values(**values))

    def cancel(self, job_ids: list[str], reason: str) -> int:
        """Record jobs not yet finished as ``cancelled`` (at shutdown: one statement per 500, so a
        thousand queued jobs are recorded in milliseconds, not a round trip each)."""
        done = 0
        at = now_ms()
        for begin in range(0, len(job_ids), 500):
            part = job_ids[begin : begin + 500]
            q = (
                update(t.jobs)
                .where(t.jobs.c.job_id.in_(part), t.jobs.c.status.in_(("queued", "running")))
                .values(status="cancelled", finished_at=at, error=reason)
            )
            with self._engine.begin() as conn:
                done += conn.execute(q).rowcount
        return done

    def interrupt_unfinished(self, reason: str) -> int:
        """Record every job still ``queued`` or ``running`` as ``failed`` with ``reason``: at the
        start of a process that owns the only job queue (embedded mode), such a job belonged to a
        process that died (kill -9, power loss) and will never finish; left as it was, it would
        show "running" forever and merge every later request of its kind into itself."""
        q = (
            update(t.jobs)
            .where(t.jobs.c.status.in_(("queued", "running")))
            .values(status="failed", finished_at=now_ms(), error=reason)
        )
        with self._engine.begin() as conn:
            return int(conn.execute(q).rowcount)

    def get(self, job_id: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.job_id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist", job_id=job_id)
        return dict(row)

    def recent(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(t.jobs).order_by(t.jobs.c.created_at.desc()).limit(limit)
        if status:
            q = q.where(t.jobs.c.status == status)
        with self._engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def active(self, kind: str, plugin_id: str | None = None) -> list[str]:
        """Ids of the jobs of ``kind`` (for ``plugin_id``, if given) queued or running, oldest first:
        how a distributed executor, whose queue is not in this process, finds a job to merge with."""
        q = (
            select(t.jobs.c.job_id)
            .where(t.jobs.c.kind == kind, t.jobs.c.status.in_(("queued", "running")))
            .order_by(t.jobs.c.created_at)
        )
        if plugin_id is not None:
            q = q.where(t.jobs.c.plugin_id == plugin_id)
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    def counts(self) -> dict[str, int]:
        """Jobs per status."""
        q = select(t.jobs.c.status, func.count()).group_by(t.jobs.c.status)
        with self._engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(q)}
