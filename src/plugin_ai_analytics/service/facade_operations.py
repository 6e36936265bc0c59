"""The facade's housekeeping calls: retention, backups and restore, re-encrypting secrets; each
audited. A mixin of ``AnalyticsService``, kept apart so the facade stays one screenful per concern."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..logs import log_event
from ..ops.backup import create_backup, restore_backup, write_configuration
from ..ops.retention import apply_retention
from ..times import now_ms

if TYPE_CHECKING:
    from ..config import Settings
    from ..security.audit import Audit
    from ..security.crypto import SecretBox
    from ..store import Store

__all__ = ["OperationsCalls"]


class OperationsCalls:
    settings: Settings
    store: Store
    audit: Audit
    secrets: SecretBox

    def apply_retention(self) -> dict[str, int]:
        """Delete what is past retention, in bounded batches; audited, and reported in system-status."""
        started = now_ms()
        deleted = apply_retention(self.store.expiry, self.settings, started)
        self.audit.record("system", "retention", details={**deleted, "took_ms": now_ms() - started})
        return deleted

    def close_interrupted_jobs(self) -> int:
        """Jobs a previous process left queued or running (it died before they finished) are
        recorded as failed, so /jobs does not show them running forever and a new request of the
        same kind is not merged into a job nobody runs."""
        count = self.store.jobs.interrupt_unfinished("interrupted: the service stopped before the job finished")
        if count:
            log_event(
                logging.WARNING, "start", "jobs left unfinished by a stopped service recorded as failed", jobs=count
            )
        return count

    def backup(self, actor: str = "local") -> Path:
        """A consistent snapshot of the database with its manifest, rotated; audited."""
        folder = create_backup(self.store, self.settings.effective_backup_dir, keep=self.settings.backup_keep)
        self.audit.record(actor, "backup", details={"folder": folder.name})
        return folder

    def _backup_configuration(self) -> None:
        try:
            write_configuration(self.store.plugins.sealed(), self.settings.effective_backup_dir)
        except OSError as exc:  # the change itself has happened; a missed copy is logged, not raised
            log_event(logging.ERROR, "backup", f"configuration backup not written: {exc}")

    def restore(self, folder: Path, actor: str = "local") -> dict[str, Any]:
        """Replace the database with a verified backup (the service must not be running)."""
        manifest = restore_backup(self.store, folder)
        self.audit.record(actor, "restore", details={"folder": folder.name, "created_at": manifest["created_at"]})
        return manifest

    def reencrypt_secrets(self) -> int:
        """Re-encrypt every stored secret with the newest key (``keys rotate``); audited."""
        plugins = self.store.plugins.reseal(self.secrets.rotate)
        contact_points = self.store.alert_config.reseal(self.secrets.rotate)
        self.audit.record("local", "keys_rotate", details={"plugins": plugins, "contact_points": contact_points})
        return plugins + contact_points
