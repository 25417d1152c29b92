"""The `tutor` command line: one typer app; each capability mounts its own commands with `register(app)`,
and `tutor settings` shows the one settings object."""

from __future__ import annotations

import typer
from pydantic import SecretStr
from sqlalchemy import text

from tutor import settings
from tutor.answering import cli as answering
from tutor.catalog import cli as catalog
from tutor.clock import utcnow
from tutor.content import cli as content
from tutor.lti import cli as lti
from tutor.privacy import cli as privacy
from tutor.recommend import cli as recommend
from tutor.research import cli as research
from tutor.store import partitions as partitions_store
from tutor.store.database import make_engine, upgrade

app = typer.Typer(help="Adaptive tutoring service: content, keys, models and evaluation.", no_args_is_help=True)


def show(markdown: bool = typer.Option(False, "--markdown", help="Print the table of every variable instead of the values in force.")) -> None:
    """The settings in force (secrets hidden), each with its environment variable; a bad value is reported as at start-up."""
    if markdown:
        typer.echo(settings.configuration_table())
        return
    try:
        in_force = settings.load_settings()
    except settings.SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for variable, places in settings.ENVIRONMENT.items():
        section, name = places[0]
        value = getattr(getattr(in_force, section), name)
        typer.echo(f"{variable}={'********' if isinstance(value, SecretStr) else value}")


def partitions(months_ahead: int = typer.Option(partitions_store.MONTHS_AHEAD, min=0, max=120, help="Months after the current one to create.")) -> None:
    """Create the events' month partitions ahead (the service also does at start and daily) and list them; PostgreSQL only."""
    try:
        in_force = settings.load_settings()
    except settings.SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    upgrade(in_force.database_url)
    engine = make_engine(in_force.database_url)
    if not partitions_store.is_partitioned(engine):
        typer.echo("This store (SQLite) keeps events in one table; partitions are a PostgreSQL feature.")
        return
    created = partitions_store.create_ahead(engine, utcnow(), months_ahead)
    with engine.connect() as conn:
        for p in partitions_store.existing(conn):
            rows = conn.execute(text(f"SELECT count(*) FROM {p.name}")).scalar_one()
            typer.echo(f"{p.name}  {p.start:%Y-%m-%d} .. {p.end:%Y-%m-%d}  {rows:>12,} events{'  (created now)' if p.name in created else ''}")
    engine.dispose()


store_app = typer.Typer(help="The store: events' partitions.", no_args_is_help=True)
store_app.command("partitions")(partitions)
for capability in (content, catalog, privacy, answering, recommend, research, lti):
    capability.register(app)
app.command("settings")(show)
app.add_typer(store_app, name="store")

if __name__ == "__main__":
    app()
