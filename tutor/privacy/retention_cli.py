"""`tutor retention`: fold and delete raw events older than the retention period."""

from __future__ import annotations

import typer

from tutor.config import load_settings
from tutor.privacy.learner_rights import apply_retention
from tutor.runtime import Runtime


def retention(days: int | None = typer.Option(None, help="Keep raw events this many days (default: TUTOR_RETENTION_DAYS).")) -> None:
    """Fold raw events older than the retention period into mastery, then delete them (run it daily)."""
    runtime = Runtime(load_settings())
    days = days or runtime.settings.retention_days
    if not days:
        typer.echo("Give --days or set TUTOR_RETENTION_DAYS.", err=True)
        raise typer.Exit(2)
    with runtime.session() as s, s.begin():
        deleted = apply_retention(s, runtime.model, days)
    typer.echo(f"Deleted {deleted} event(s) older than {days} days after folding them into mastery.")
