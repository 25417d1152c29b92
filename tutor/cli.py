"""The `tutor` command line: one typer app; each capability mounts its own commands with `register(app)`,
and `tutor settings` shows the one settings object."""

from __future__ import annotations

import typer
from pydantic import SecretStr

from tutor import settings
from tutor.answering import cli as answering
from tutor.catalog import cli as catalog
from tutor.content import cli as content
from tutor.lti import cli as lti
from tutor.privacy import cli as privacy
from tutor.recommend import cli as recommend
from tutor.research import cli as research

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


for capability in (content, catalog, privacy, answering, recommend, research, lti):
    capability.register(app)
app.command("settings")(show)

if __name__ == "__main__":
    app()
