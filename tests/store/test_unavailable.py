"""Which database errors mean "cannot serve now, retry" (503) and which are faults (500), told
from real errors of real drivers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from plugin_ai_analytics.store.database import DatabaseLimits, is_unavailable, make_engine


def test_a_busy_sqlite_is_unavailable_but_a_missing_table_is_a_fault(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}", DatabaseLimits(sqlite_busy=0.2))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(tmp_path / "a.db")
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(SQLAlchemyError) as busy, engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert is_unavailable(busy.value)
    finally:
        other.rollback()
        other.close()
    with pytest.raises(SQLAlchemyError) as missing, engine.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM nowhere")
    assert not is_unavailable(missing.value)
    assert not is_unavailable(ValueError("not a database error"))
    engine.dispose()


def test_a_refused_postgresql_connection_is_unavailable() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none", DatabaseLimits(connect=2))
    with pytest.raises(SQLAlchemyError) as refused:
        engine.connect()
    assert is_unavailable(refused.value)
    engine.dispose()
