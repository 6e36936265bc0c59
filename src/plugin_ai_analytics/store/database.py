"""Engine creation, migrations, and the one place that knows each SQL dialect difference.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed write is in the WAL file before
the request is acknowledged, so it survives ``kill -9`` of the server (only an OS crash or power
loss could drop the last transactions; set ``synchronous=FULL`` for that at a throughput cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from ..domain import METRIC_NAMES

__all__ = [
    "make_engine",
    "migrate",
    "upsert",
    "insert_ignore",
    "is_sqlite",
    "placeholder",
    "metrics_upsert_sql",
    "copy_upsert_metrics",
    "serialise_appends",
]

_MIGRATIONS = Path(__file__).with_name("migrations")


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def placeholder(engine_or_conn: Engine | Connection) -> str:
    """The driver's parameter mark for raw SQL: ``?`` for sqlite3, ``%s`` for psycopg."""
    return "?" if is_sqlite(engine_or_conn) else "%s"


def _dialect_insert(conn: Connection, table: Table) -> Insert:
    return (sqlite.insert if is_sqlite(conn) else postgresql.insert)(table)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the SQLite file's directory and sets its pragmas."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; safe on every start)."""
    # start-up cost: alembic loads only when a database is opened for migration
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def upsert(conn: Connection, table: Table, key: list[str], update: list[str], *, merge: bool) -> Insert:
    """An INSERT that, on a key clash, overwrites ``update`` columns.

    With ``merge`` a NULL in the new row keeps the stored value, so two partial samples for the
    same instant combine instead of erasing each other, and re-sending a sample is idempotent.
    """
    stmt = _dialect_insert(conn, table)
    excluded = stmt.excluded
    if merge:
        values = {col: func.coalesce(excluded[col], table.c[col]) for col in update}
    else:
        values = {col: excluded[col] for col in update}
    return stmt.on_conflict_do_update(index_elements=key, set_=values)


def insert_ignore(conn: Connection, table: Table, key: list[str]) -> Insert:
    """An INSERT that leaves an existing row with the same ``key`` as it is."""
    return _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=key)


def metrics_upsert_sql(conn: Connection) -> str:
    """The raw upsert of one metrics row, in the driver's parameter style.

    ``ON CONFLICT ... DO UPDATE`` with ``excluded`` reads the same on SQLite and PostgreSQL;
    only the placeholder differs (``?`` for sqlite3, ``%s`` for psycopg).
    """
    mark = placeholder(conn)
    columns = ["plugin_id", "ts", *METRIC_NAMES]
    updates = ", ".join(f"{c} = COALESCE(excluded.{c}, metrics.{c})" for c in METRIC_NAMES)
    return (
        f"INSERT INTO metrics ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT (plugin_id, ts) DO UPDATE SET {updates}"
    )


def copy_upsert_metrics(conn: Connection, plugin_id: str, rows: Sequence[Sequence[Any]]) -> int:
    """PostgreSQL: store ``(ts, *METRIC_NAMES)`` rows of one plugin through ``COPY`` into a
    session-local staging table and one ``INSERT … SELECT … ON CONFLICT`` from it, with exactly
    the merge of ``metrics_upsert_sql`` (a NULL keeps the stored value). Returns how many of the
    rows were already stored (merged). Inside ``conn``'s transaction; the staging rows go at commit.

    ``executemany`` of the upsert sends one statement per row; ``COPY`` streams them all in one
    command, ~3-5x less server and driver work per 1,000-sample batch."""
    columns = ", ".join(["ts", *METRIC_NAMES])
    # A temporary table lives per connection; pooled connections keep it, so it is made once each.
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE IF NOT EXISTS metrics_staging (LIKE metrics INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY metrics_staging (plugin_id, {columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((plugin_id, *row))
        cursor.execute(
            "SELECT count(*) FROM metrics m JOIN metrics_staging s ON m.plugin_id = s.plugin_id AND m.ts = s.ts"
        )
        merged = int(cursor.fetchone()[0])
        updates = ", ".join(f"{c} = COALESCE(excluded.{c}, metrics.{c})" for c in METRIC_NAMES)
        cursor.execute(
            f"INSERT INTO metrics (plugin_id, {columns}) SELECT plugin_id, {columns} FROM metrics_staging "
            f"ON CONFLICT (plugin_id, ts) DO UPDATE SET {updates}"
        )
        cursor.execute("DELETE FROM metrics_staging")  # another insert in this transaction starts empty
    finally:
        cursor.close()
    return merged


def serialise_appends(conn: Connection, name: str) -> None:
    """Make appends to ``name`` (a chained log) one at a time across processes, inside ``conn``'s
    transaction: PostgreSQL takes a transaction-scoped advisory lock; SQLite takes its one write
    lock at once (``BEGIN IMMEDIATE`` semantics) by writing first."""
    if is_sqlite(conn):
        # An empty write takes SQLite's RESERVED lock now, before the chain's tail is read.
        conn.exec_driver_sql("UPDATE audit_log SET id = id WHERE 0")
        return
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
