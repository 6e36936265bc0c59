"""The store: tables, migrations and queries; SQLite and PostgreSQL behind one interface."""

from .repository import Store, now_ms

__all__ = ["Store", "now_ms"]
