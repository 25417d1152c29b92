"""`tutor keys ...` (create, list, rotate and revoke API keys) and `tutor retention` (fold and delete old raw events)."""

from __future__ import annotations

from datetime import timedelta
from enum import Enum

import typer
from sqlalchemy import select

from tutor.errors import Invalid, NotFound
from tutor.privacy import audit
from tutor.privacy.credentials import SCOPES, create_key, revoke, rotate
from tutor.privacy.learner_rights import apply_retention
from tutor.privacy.pseudonyms import pseudonym
from tutor.runtime import Runtime
from tutor.settings import load_settings
from tutor.store.database import make_engine, make_sessions, upgrade
from tutor.store.tables import ApiClient

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


class Scope(str, Enum):
    """The scopes of `SCOPES`, as typer choices."""

    platform = "platform"
    learner = "learner"
    researcher = "researcher"
    admin = "admin"
    operations = "operations"


if [s.value for s in Scope] != list(SCOPES):
    raise RuntimeError(f"tutor.privacy.cli.Scope is out of step with SCOPES: {', '.join(SCOPES)}")


def _sessions():
    settings = load_settings()
    upgrade(settings.database_url)
    return settings, make_sessions(make_engine(settings.database_url))


@keys_app.command("create")
def create(
    scope: list[Scope] = typer.Option(..., "--scope", help="Repeat for several scopes."),
    name: str = typer.Option("unnamed", help="Who the key is for."),
    learner: str | None = typer.Option(None, help="For learner-scope keys: the learner's platform id."),
    rate_per_minute: int | None = typer.Option(None, help="Requests a minute (429 beyond), across workers with TUTOR_REDIS_URL, else per worker; default no limit."),
) -> None:
    """Print a new key once; only its hash is stored."""
    settings, sessions = _sessions()
    with sessions() as s, s.begin():
        try:
            client, key = create_key(
                s, name, [sc.value for sc in scope], pseudonym(learner, settings.pseudonym_key) if learner else None, rate_per_minute
            )
        except Invalid as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        audit.record(s, "cli", "key.create", f"{client.key_prefix} scopes={client.scopes}")
    typer.echo(key)
    typer.echo(f"prefix {client.key_prefix}, scopes {client.scopes}: store it now, it cannot be shown again.", err=True)


@keys_app.command("list")
def list_keys() -> None:
    """Prefix, name, scopes and state of every key."""
    _, sessions = _sessions()
    with sessions() as s:
        for c in s.scalars(select(ApiClient).order_by(ApiClient.id)):
            state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else f"expires {c.expires_at:%Y-%m-%d %H:%M}" if c.expires_at else "active"
            typer.echo(f"{c.key_prefix}\t{c.name}\t{c.scopes}\t{state}")


@keys_app.command("revoke")
def revoke_key(prefix: str) -> None:
    """Revoke a key by its prefix; refused from the next request on."""
    _, sessions = _sessions()
    with sessions() as s, s.begin():
        if not revoke(s, prefix):
            typer.echo(f"No active key with prefix {prefix!r}.", err=True)
            raise typer.Exit(1)
        audit.record(s, "cli", "key.revoke", prefix)
    typer.echo(f"Revoked {prefix}.")


@keys_app.command("rotate")
def rotate_key(prefix: str, grace_hours: float = typer.Option(24.0, help="How long the old key keeps working.")) -> None:
    """Print a new key with the same scopes; the old one expires after the grace period."""
    _, sessions = _sessions()
    with sessions() as s, s.begin():
        try:
            client, key = rotate(s, prefix, timedelta(hours=grace_hours))
        except NotFound as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        audit.record(s, "cli", "key.rotate", f"{prefix} -> {client.key_prefix} grace={grace_hours}h")
    typer.echo(key)
    typer.echo(f"prefix {client.key_prefix}; the old key {prefix} works for {grace_hours} more hour(s).", err=True)


def retention(days: int | None = typer.Option(None, help="Keep raw events this many days (default: TUTOR_RETENTION_DAYS).")) -> None:
    """Fold raw events older than the retention period into mastery, then delete them (run it daily)."""
    runtime = Runtime(load_settings())
    days = days or runtime.settings.privacy.retention_days
    if not days:
        typer.echo("Give --days or set TUTOR_RETENTION_DAYS.", err=True)
        raise typer.Exit(2)
    with runtime.session() as s, s.begin():
        deleted = apply_retention(s, runtime.model, days)
    typer.echo(f"Deleted {deleted} event(s) older than {days} days after folding them into mastery.")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("retention")(retention)
