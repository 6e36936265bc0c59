"""The probes an orchestrator calls, open without a token (``security/policy.py``):

- ``/healthz`` (liveness): a constant, answered on the event loop. No thread, no database, no
  middleware doing either on its path, so it answers while the database is stalled and every
  worker thread is busy: a liveness probe must not kill a service that is only waiting.
- ``/readyz`` (readiness): 200 when the database answers within ``AI_ANALYTICS_READINESS_TIMEOUT``,
  its schema is at the revision this version expects, the job queue is below its bound and the
  start-up is over (the detection worker's import of its engine, seconds of CPU that slow every
  answer while it runs); else 503 naming the checks that failed. The database check runs on one thread of its own (not
  the request threads), one at a time: probes arriving while it runs share its answer.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ..config import Settings
from .responses import JSON

__all__ = ["install_probes", "PROBE_PATHS"]

PROBE_PATHS = frozenset({"/healthz", "/readyz"})
_HEALTHY = b'{"status":"ok"}'


class _DatabaseCheck:
    """The database half of readiness on a thread of its own, never two at once."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._running: Future | None = None

    async def run(self, service: Any) -> dict[str, Any]:
        if self._running is None or self._running.done():
            self._running = self._thread.submit(service.readiness, self.timeout)
        try:
            # shielded: a probe that gives up must not cancel the check others are waiting for
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._running)), self.timeout)
        except TimeoutError:
            message = f"the database did not answer within {self.timeout:g} s"
            return {
                "database": {"ok": False, "error": message},
                "migrations": {"ok": False, "error": "unknown while the database does not answer"},
            }

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def install_probes(app: FastAPI, settings: Settings) -> None:
    check = _DatabaseCheck(settings.readiness_timeout)
    app.state.readiness = check

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(_HEALTHY, media_type="application/json")

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSON:
        service = request.app.state.service
        checks = await check.run(service)
        queue = service.jobs.state()
        checks["job_queue"] = {"ok": not queue.full, "queued": queue.queued, "limit": queue.limit}
        if queue.full:
            checks["job_queue"]["error"] = "the job queue is at its bound"
        checks["start_up"] = {"ok": service.detection.warmed_up.is_set()}
        if not checks["start_up"]["ok"]:
            checks["start_up"]["error"] = "still starting: the detection worker is loading its engine"
        failed = sorted(name for name, result in checks.items() if not result["ok"])
        body = {"status": "ready" if not failed else "not_ready", "failed": failed, "checks": checks}
        if not failed:
            return JSON(body)
        return JSON(body, status_code=503, headers={"Retry-After": str(settings.retry_after_seconds)})
