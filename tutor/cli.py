"""The `tutor` command line: one typer app; each capability mounts its own commands with `register(app)`."""

from __future__ import annotations

import typer

from tutor import settings
from tutor.answering import cli as answering
from tutor.content import cli as content
from tutor.privacy import cli as privacy
from tutor.recommend import cli as recommend
from tutor.research import cli as research

app = typer.Typer(help="Adaptive tutoring service: content, keys, models and evaluation.", no_args_is_help=True)
for capability in (content, privacy, answering, recommend, research, settings):
    capability.register(app)

if __name__ == "__main__":
    app()
