"""Backups: a consistent snapshot of the database (models, data and configuration are all in it)
in a folder of its own with a manifest of checksums, rotated; verification that refuses a
damaged or mismatched backup with a clear message; and restoration after verification.

A backup holds the database as stored, so secrets stay encrypted in it: keep the key
(``AI_ANALYTICS_SECRET_KEY`` or the key file) apart from the backups, and with you.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import AnalyticsError
from ..logs import log_event
from ..store import Store
from ..store.snapshot import DUMP_NAMES, check_dump, dump_database, load_database, schema_revision
from ..times import now_ms

__all__ = ["BackupError", "create_backup", "verify_backup", "restore_backup", "write_configuration", "MANIFEST"]

MANIFEST = "manifest.json"


class BackupError(AnalyticsError):
    """Raised when a backup is damaged, incomplete, or does not fit the database it would restore."""

    status_code = 409
    code = "backup_error"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def create_backup(store: Store, root: Path, *, keep: int = 4, kind: str = "full") -> Path:
    """Snapshot the database into ``root/<UTC time>-<kind>/`` with its manifest; keep the newest
    ``keep`` backups of that kind. Returns the new backup's folder."""
    started = now_ms()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = root / f"{stamp}-{kind}"
    partial = root / f".{stamp}-{kind}.partial"
    partial.mkdir(parents=True)
    try:
        name = DUMP_NAMES[store.dialect]
        dump_database(store.engine, partial / name)
        dump = partial / name
        manifest = {
            "format": 1,
            "kind": kind,
            "created_at": datetime.fromtimestamp(started / 1000, UTC).isoformat(),
            "created_at_ms": started,
            "dialect": store.dialect,
            "schema_revision": schema_revision(store.engine),
            "service_version": __version__,
            "files": {name: {"bytes": dump.stat().st_size, "sha256": _sha256(dump)}},
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        partial.rename(folder)  # a backup folder without the dot is complete
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _rotate(root, kind, keep)
    log_event(logging.INFO, "backup", f"backup written to {folder}", took_ms=now_ms() - started)
    return folder


def write_configuration(registrations: list[dict[str, Any]], root: Path, *, keep: int = 50) -> Path:
    """The plugin registry as stored (secrets encrypted), written on every change to
    ``root/config/<UTC time>.json`` with its SHA-256 beside it; the newest ``keep`` are kept."""
    folder = root / "config"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    body = json.dumps({"format": 1, "kind": "configuration", "plugins": registrations}, indent=1, default=str)
    path = folder / f"{stamp}.json"
    path.write_text(body, encoding="utf-8")
    (folder / f"{stamp}.json.sha256").write_text(hashlib.sha256(body.encode()).hexdigest() + "\n", encoding="ascii")
    for old in sorted(folder.glob("*.json"))[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json.sha256").unlink(missing_ok=True)
    return path


def _rotate(root: Path, kind: str, keep: int) -> None:
    backups = sorted(p for p in root.glob(f"*-{kind}") if p.is_dir() and not p.name.startswith("."))
    for old in backups[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def verify_backup(folder: Path) -> dict[str, Any]:
    """The manifest of a whole, readable backup; ``BackupError`` naming what is wrong otherwise."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{folder} is not a backup: it has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        dialect = manifest["dialect"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{manifest_path} is damaged: not the manifest of a backup") from None
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise BackupError(f"backup {folder.name} is incomplete: {name} is missing")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise BackupError(
                f"backup {folder.name} is damaged: {name} has {size} bytes, the manifest says {expected['bytes']} "
                "(truncated or overwritten)"
            )
        if _sha256(path) != expected["sha256"]:
            raise BackupError(f"backup {folder.name} is damaged: {name} does not match its SHA-256 checksum")
        try:
            check_dump(dialect, path)
        except AnalyticsError as exc:
            raise BackupError(f"backup {folder.name} is damaged: {exc.message}") from None
    return manifest


def restore_backup(store: Store, folder: Path) -> dict[str, Any]:
    """Verify the backup, check it fits this database, and replace the database's content with it."""
    manifest = verify_backup(folder)
    if manifest["dialect"] != store.dialect:
        raise BackupError(
            f"backup {folder.name} is of a {manifest['dialect']} database; this service uses {store.dialect}"
        )
    load_database(store.engine, folder / DUMP_NAMES[store.dialect])
    log_event(logging.WARNING, "restore", f"database restored from {folder}", created_at=manifest["created_at"])
    return manifest
