"""The `tutor` command line: one typer app, each area of work adds its commands here."""

from __future__ import annotations

import typer

app = typer.Typer(help="Adaptive tutoring service: content, keys, models and evaluation.", no_args_is_help=True)
