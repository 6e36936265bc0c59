"""Engine creation, migrations, and the one place that knows each SQL dialect difference.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed write is in the WAL file before
the request is acknowledged, so it survives ``kill -9`` of the server (only an OS crash or power
loss could drop the last transactions; set ``synchronous=FULL`` for that at a throughput cost).

Every wait on the database is bounded (``DatabaseLimits``): connecting, a statement, waiting
for a lock, waiting for a pooled connection, SQLite's busy wait. A database that is down, refuses
connections or is stalled behind someone's lock therefore fails a call within seconds with an
error ``is_unavailable`` recognises, which the API answers 503 with Retry-After.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from ..domain import METRIC_NAMES

__all__ = [
    "DatabaseLimits",
    "head_revision",
    "is_unavailable",
    "statement_timeout",
    "make_engine",
    "migrate",
    "upsert",
    "insert_ignore",
    "is_sqlite",
    "placeholder",
    "metrics_upsert_sql",
    "copy_upsert_metrics",
    "serialise_appends",
    "plugin_lock",
]

_MIGRATIONS = Path(__file__).with_name("migrations")


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def placeholder(engine_or_conn: Engine | Connection) -> str:
    """The driver's parameter mark for raw SQL: ``?`` for sqlite3, ``%s`` for psycopg."""
    return "?" if is_sqlite(engine_or_conn) else "%s"


def _dialect_insert(conn: Connection, table: Table) -> Insert:
    return (sqlite.insert if is_sqlite(conn) else postgresql.insert)(table)


@dataclass(frozen=True, slots=True)
class DatabaseLimits:
    """Seconds: ``connect`` (PostgreSQL connect_timeout), ``statement`` (default statement_timeout,
    analyses and reads), ``lock`` (lock_timeout: how long any statement waits for a lock held by
    someone else), ``pool`` (waiting for a pooled connection), ``sqlite_busy`` (SQLite's wait for
    its write lock); ``pool_size``: PostgreSQL connections kept open (10 more may be opened for a
    burst). Keeping one per request in flight matters: opening a connection (TLS included) holds
    the interpreter lock in bursts, and a burst of them slows every answer, liveness too."""

    connect: float = 5.0
    statement: float = 30.0
    lock: float = 3.0
    pool: float = 5.0
    sqlite_busy: float = 5.0
    pool_size: int = 20


# The statement timeout a block of work asked for (``statement_timeout``); None: the engine's.
_STATEMENT_BUDGET: ContextVar[float | None] = ContextVar("statement_budget", default=None)


@contextmanager
def statement_timeout(seconds: float) -> Iterator[None]:
    """Run the enclosed database work (in this thread or context) with a statement timeout of
    ``seconds`` on PostgreSQL instead of the engine's default: the ingest path and the readiness
    probe want an answer in seconds, analyses may take longer. (SQLite has no statement timeout;
    its busy timeout bounds the wait for the lock.)"""
    token = _STATEMENT_BUDGET.set(seconds)
    try:
        yield
    finally:
        _STATEMENT_BUDGET.reset(token)


def make_engine(
    url: str,
    limits: DatabaseLimits | None = None,
    *,
    pool_size: int | None = None,
    max_overflow: int = 10,
    checkpoint_pages: int = 1000,
) -> Engine:
    """An engine for ``url`` with every wait bounded; creates the SQLite file's directory and sets
    its pragmas. ``pool_size``/``max_overflow`` size a PostgreSQL pool other than the main one
    (the plugin locks' own small pool). ``checkpoint_pages``: SQLite's WAL auto-checkpoint (pages
    of 4 KiB); the commit that crosses it copies the WAL into the database file and syncs it."""
    limits = limits or DatabaseLimits()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        busy_ms = int(limits.sqlite_busy * 1000)
        in_memory = not path or path == ":memory:"  # one connection per thread: no pool to wait for
        # Readers never wait behind writers (WAL), so they must not wait for a pooled connection
        # either: the API's 40 request threads each get one (a SQLite connection is cheap).
        pool = {} if in_memory else {"pool_size": 16, "max_overflow": 48, "pool_timeout": limits.pool}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": limits.sqlite_busy}, **pool
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
            cur.close()

        return engine
    default_ms = _ms(limits.statement)
    engine = create_engine(
        url,
        pool_size=limits.pool_size if pool_size is None else pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_timeout=limits.pool,
        connect_args={
            # libpq takes whole seconds, at least 2
            "connect_timeout": max(2, math.ceil(limits.connect)),
            "options": f"-c statement_timeout={default_ms} -c lock_timeout={_ms(limits.lock)}",
            # a peer that vanished without closing (a network partition) is noticed in ~20 s
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 2,
        },
    )

    @event.listens_for(engine, "connect")
    def _session(_dbapi_conn: Any, record: Any) -> None:
        record.info["statement_timeout_ms"] = default_ms

    @event.listens_for(engine, "checkout")
    def _budget(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # A session setting, changed only when this block of work wants another one than the
        # connection has (one round trip then), and committed so a later rollback keeps it.
        budget = _STATEMENT_BUDGET.get()
        wanted = default_ms if budget is None else _ms(budget)
        if record.info.get("statement_timeout_ms") != wanted:
            cur = dbapi_conn.cursor()
            cur.execute(f"SET statement_timeout = {wanted}")
            cur.close()
            dbapi_conn.commit()
            record.info["statement_timeout_ms"] = wanted

    # ``copy_upsert_metrics`` notes in the connection's info that its staging table exists. DDL is
    # transactional: the note holds once the transaction that created the table commits, and a
    # rollback of that transaction takes the table back (the next batch creates it again).
    @event.listens_for(engine, "commit")
    def _staging_kept(conn: Any) -> None:
        info = conn.connection.info
        if info.get("metrics_staging") == "uncommitted":
            info["metrics_staging"] = "committed"

    @event.listens_for(engine, "rollback")
    def _staging_gone(conn: Any) -> None:
        try:
            info = conn.connection.info
        except Exception:  # an invalidated connection: its info goes with it
            return
        if info.get("metrics_staging") == "uncommitted":
            del info["metrics_staging"]

    return engine


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


# What SQLite says when it cannot serve now, as opposed to a fault in the SQL or the schema.
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly database")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot serve now (down, refusing connections, a broken
    connection, a lock or statement timeout, the pool exhausted, SQLite busy): a condition a
    client should retry later (503), not a fault in the request or the code (500)."""
    from sqlalchemy import exc as sa  # the error classes only matter once something failed

    if isinstance(exc, sa.TimeoutError):  # no pooled connection within the pool timeout
        return True
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "OperationalError" not in names and "InterfaceError" not in names:
        return False
    if type(exc).__module__ == "sqlite3":
        return any(word in str(exc).lower() for word in _SQLITE_UNAVAILABLE)
    return True


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; safe on every start)."""
    # start-up cost: alembic loads only when a database is opened for migration
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        if not is_sqlite(conn):
            # A schema change may wait for readers to finish and rewrite a table: not bounded by
            # the few seconds a request gets.
            conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration this code knows (readiness compares the database's with it)."""
    # start-up cost: alembic loads only when readiness is first asked
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    assert head is not None, "no migrations found"
    return head


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
    # A temporary table lives per connection; pooled connections keep it, so it is made once each
    # (noted in the pooled connection's info: asking PostgreSQL again costs a round trip a batch;
    # make_engine's commit and rollback listeners settle the note with the transaction).
    info = conn.connection.info
    if not info.get("metrics_staging"):
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS metrics_staging (LIKE metrics INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
        info["metrics_staging"] = "uncommitted"
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY metrics_staging (plugin_id, {columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((plugin_id, *row))
        updates = ", ".join(f"{c} = COALESCE(excluded.{c}, metrics.{c})" for c in METRIC_NAMES)
        # RETURNING gives each row's new version: one the upsert inserted has xmax 0, one it
        # updated carries the row lock ON CONFLICT took on it (a non-zero xmax), also when this
        # very transaction had inserted it (tests/store/test_metrics_insert.py). Counting them
        # in the same statement saves a join of the staging rows with metrics.
        cursor.execute(
            f"WITH upserted AS (INSERT INTO metrics (plugin_id, {columns}) SELECT plugin_id, {columns} "
            f"FROM metrics_staging ON CONFLICT (plugin_id, ts) DO UPDATE SET {updates} RETURNING xmax) "
            "SELECT count(*) FILTER (WHERE xmax::text <> '0') FROM upserted"
        )
        merged = int(cursor.fetchone()[0])
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


# How long a process waits for another one to finish with a plugin's lock before giving up (ms).
PLUGIN_LOCK_TIMEOUT_MS = 30_000


@contextmanager
def plugin_lock(engine: Engine, scope: str, plugin_id: str) -> Iterator[None]:
    """Hold ``scope``'s lock on one plugin across processes for the ``with`` block: a
    transaction-scoped PostgreSQL advisory lock (``pg_advisory_xact_lock`` on a hash of scope and
    plugin id) in a transaction of its own that stays open until the block ends; waiting longer
    than ``PLUGIN_LOCK_TIMEOUT_MS`` raises. Released by the commit, or by PostgreSQL when the
    process dies. SQLite has one writer per file and needs no lock: a no-op there."""
    if engine.dialect.name == "sqlite":
        yield
        return
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(PLUGIN_LOCK_TIMEOUT_MS)}")
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{scope}:{plugin_id}",))
        yield
