"""Who is asking and what they may do: roles grant permissions; a token may be scoped to some
plugins (id patterns), and an ingest token may only write samples."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

__all__ = ["ROLES", "GRANTS", "Identity", "Permission", "LOCAL"]


class Permission(StrEnum):
    PUBLIC = "public"  # anyone, without a token
    ANY = "any"  # any valid identity (who am I, log out)
    INGEST = "ingest"  # write samples; read nothing
    READ = "read"
    OPERATE = "operate"  # change registrations, train, give feedback, run batches
    ADMIN = "admin"  # delete plugins, read the audit log, raw exports, revealed secrets


ROLES = ("viewer", "operator", "admin", "ingest")
GRANTS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.ANY, Permission.READ}),
    "operator": frozenset({Permission.ANY, Permission.READ, Permission.OPERATE, Permission.INGEST}),
    "admin": frozenset({Permission.ANY, Permission.READ, Permission.OPERATE, Permission.INGEST, Permission.ADMIN}),
    "ingest": frozenset({Permission.ANY, Permission.INGEST}),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller: ``actor`` is what the audit log writes (never a secret)."""

    actor: str
    role: str
    plugins: tuple[str, ...] | None = None  # None: every plugin
    via: str = "token"  # token, oidc, admin-token, local, insecure

    def can(self, permission: Permission) -> bool:
        return permission is Permission.PUBLIC or permission in GRANTS.get(self.role, frozenset())

    @property
    def scoped(self) -> bool:
        return self.plugins is not None

    def sees(self, plugin_id: str) -> bool:
        """Whether this identity may act on ``plugin_id`` (patterns are shell globs: ``web-*``)."""
        return self.plugins is None or any(fnmatchcase(plugin_id, p) for p in self.plugins)


# In-process callers (Python API, CLI on the data directory) hold the data already.
LOCAL = Identity(actor="local", role="admin", via="local")
