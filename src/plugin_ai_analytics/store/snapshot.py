"""Consistent copies of the whole database and their restoration: SQLite's online backup API
(a copy of one moment while writers carry on) and PostgreSQL's ``pg_dump`` custom format
(one MVCC snapshot) restored with ``pg_restore``. The one place that knows how each does it."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, text

from ..errors import AnalyticsError

__all__ = ["dump_database", "load_database", "check_dump", "schema_revision", "SnapshotError", "DUMP_NAMES"]

DUMP_NAMES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


class SnapshotError(AnalyticsError):
    """Raised when a database cannot be copied or restored, or a copy does not read back."""

    code = "snapshot_error"


def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SnapshotError(f"{name} is not installed (PostgreSQL client tools, Debian package postgresql-client)")
    return found


def schema_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def dump_database(engine: Engine, target: Path) -> None:
    """Write a consistent copy of the database to ``target`` while writers may carry on."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        source = sqlite3.connect(_sqlite_path(url), timeout=30)
        copy = sqlite3.connect(target)
        try:
            # Pages are copied in steps with the lock released between them; a write in between
            # restarts the copy, so what lands is one committed moment of the database.
            source.backup(copy, pages=4096, sleep=0.005)
        finally:
            copy.close()
            source.close()
        return
    result = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), "--dbname", _libpq_url(url)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise SnapshotError(f"pg_dump failed: {result.stderr.strip()[:500]}")


def check_dump(dialect: str, path: Path) -> None:
    """Read a copy back far enough to know it is whole; ``SnapshotError`` if not."""
    if dialect == "sqlite":
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise SnapshotError(f"{path.name} is not a readable SQLite database ({exc})") from None
        if verdict != "ok":
            raise SnapshotError(f"{path.name} fails SQLite's integrity check: {verdict}")
        return
    result = subprocess.run([_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SnapshotError(f"{path.name} is not a readable pg_dump archive: {result.stderr.strip()[:300]}")


def load_database(engine: Engine, source: Path) -> None:
    """Replace the database's whole content with the copy at ``source`` (nothing else may be
    writing to it meanwhile: stop the service first)."""
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    if engine.dialect.name == "sqlite":
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = sqlite3.connect(source)
        live = sqlite3.connect(target, timeout=30)
        try:
            copy.backup(live)
        finally:
            live.close()
            copy.close()
        return
    result = subprocess.run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            _libpq_url(url),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise SnapshotError(f"pg_restore failed: {result.stderr.strip()[:500]}")
