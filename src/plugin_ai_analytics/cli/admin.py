"""The command-line tool's administration commands, working on the data directory (like
``import``): ``tokens create|list|revoke``, ``audit verify``, ``keys rotate``, ``backup``,
``backup verify`` and ``restore``. Thin: each calls the service layer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import _fail, _service, app

__all__ = ["register"]

tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="The encryption key of secrets at rest.", no_args_is_help=True)
backup_app = typer.Typer(
    help="Snapshot the database (with a manifest of checksums), or `backup verify PATH`.", invoke_without_command=True
)


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option(help="viewer, operator, admin, or ingest (write samples only)")],
    name: Annotated[str, typer.Option(help="what the token is for, e.g. grafana or ci")] = "",
    plugin: Annotated[
        list[str] | None, typer.Option("--plugin", "-p", help="limit to plugin ids (globs like web-*; repeatable)")
    ] = None,
    expires_in_days: Annotated[float | None, typer.Option(help="expire after this many days")] = None,
) -> None:
    """Make a token. It is shown once, alone on the last line of stdout; only its hash is kept."""
    service = _service()
    try:
        token, info = service.tokens.create(
            name or f"{role}-token", role, plugins=plugin, expires_in_days=expires_in_days, created_by="cli"
        )
        service.audit.record("local", "token_create", details={"token_id": info["token_id"], "role": role})
    except Exception as exc:
        _fail(exc)
        return
    finally:
        service.close()
    scope = ", ".join(info["plugins"]) if info["plugins"] else "every plugin"
    typer.echo(f"token {info['token_id']} ({info['name']}): role {role}, {scope}; shown only now, keep it safe:")
    typer.echo(token)


@tokens_app.command("list")
def tokens_list() -> None:
    """Every token: id, name, role, scope, created, expires, last used, revoked (never the secret)."""
    # loaded on use, so --help and the quick commands start fast
    from ..times import ms_to_iso

    service = _service()
    try:
        rows = service.tokens.list()
    finally:
        service.close()
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        typer.echo(
            f"{r['token_id']}  {r['name']}  {r['role']}  plugins={','.join(r['plugins'] or ['*'])}  {state}  "
            f"created={ms_to_iso(r['created_at'])}  expires={ms_to_iso(r['expires_at']) or '-'}  "
            f"last_used={ms_to_iso(r['last_used_at']) or '-'}"
        )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="the token's id (tokens list)")]) -> None:
    """Revoke a token: refused by every replica within seconds."""
    service = _service()
    try:
        service.tokens.revoke(token_id)
        service.audit.record("local", "token_revoke", details={"token_id": token_id})
    except Exception as exc:
        _fail(exc)
        return
    finally:
        service.close()
    typer.echo(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain; exit 1 naming the first entry that does not verify."""
    service = _service()
    try:
        check = service.audit.verify()
    finally:
        service.close()
    if check.ok:
        typer.echo(f"audit log intact: {check.entries} entries, every link verified")
        return
    typer.echo(f"audit log broken at entry {check.broken_at}: {check.reason}", err=True)
    raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new key and re-encrypt every stored secret with it (key file); with the keys in
    AI_ANALYTICS_SECRET_KEY, put the new key first (NEW,OLD), run this, then drop OLD."""
    # loaded on use, so --help and the quick commands start fast
    from ..config import get_settings
    from ..security.crypto import load_keys, new_key, write_key_file

    settings = get_settings()
    key_file = settings.effective_key_file
    if settings.secret_key is None:
        old = load_keys(None, key_file)
        write_key_file(key_file, [new_key(), *old])  # every old key still decrypts meanwhile
    service = _service()
    try:
        count = service.reencrypt_secrets()
    except Exception as exc:
        service.close()
        _fail(exc)
        return
    service.close()
    if settings.secret_key is None:
        write_key_file(key_file, load_keys(None, key_file)[:1])
        typer.echo(f"new key in {key_file}; secrets of {count} plugins re-encrypted with it, old keys removed")
    else:
        typer.echo(f"secrets of {count} plugins re-encrypted with the first key of AI_ANALYTICS_SECRET_KEY")


@backup_app.callback()
def backup(ctx: typer.Context) -> None:
    """Snapshot the database now (consistent while the service runs and ingests)."""
    if ctx.invoked_subcommand is not None:
        return
    service = _service()
    try:
        folder = service.backup()
    except Exception as exc:
        service.close()
        _fail(exc)
        return
    service.close()
    typer.echo(str(folder))


@backup_app.command("verify")
def backup_verify(folder: Annotated[Path, typer.Argument(help="a backup folder")]) -> None:
    """Check a backup's files against its manifest and read them back; exit 2 saying what is wrong."""
    # loaded on use, so --help and the quick commands start fast
    from ..ops.backup import verify_backup

    try:
        manifest = verify_backup(folder)
    except Exception as exc:
        _fail(exc)
        return
    typer.echo(f"backup {folder.name} is whole: {manifest['dialect']} database of {manifest['created_at']}")


def restore(
    folder: Annotated[Path, typer.Argument(help="a backup folder")],
    yes: Annotated[bool, typer.Option("--yes", help="replace the database without asking")] = False,
) -> None:
    """Replace the database with a backup (stop the service first). A damaged or mismatched
    backup is refused before anything is touched."""
    if not yes:
        typer.confirm(f"replace the whole database with {folder}?", abort=True)
    service = _service()
    try:
        manifest = service.restore(folder)
    except Exception as exc:
        service.close()
        _fail(exc)
        return
    service.close()
    typer.echo(f"restored the database of {manifest['created_at']} from {folder}")


def register() -> None:
    """Add the administration commands (after the day-to-day ones in --help)."""
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(audit_app, name="audit")
    app.add_typer(keys_app, name="keys")
    app.add_typer(backup_app, name="backup")
    app.command("restore")(restore)
