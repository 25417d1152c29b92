"""`tutor catalog import PATH [--platform NAME]`: import a platform's course package into the catalog.

Prints one JSON object (the import report: lessons, items, activities, ungraded, and the alignment
counts: aligned automatically, waiting for review). A broken package prints the reason, naming
the file inside it, and exits 2 with nothing stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tutor.catalog.jobs import import_package
from tutor.errors import DomainError
from tutor.privacy import audit
from tutor.runtime import Runtime
from tutor.settings import load_settings

catalog_app = typer.Typer(help="The platform's own courses: import packages.", no_args_is_help=True)


@catalog_app.command("import")
def import_course(
    path: Annotated[Path, typer.Argument(help="An Open edX export (.tar.gz or folder), a SCORM or Common Cartridge zip, or a folder of Markdown/HTML files.")],
    platform: Annotated[str | None, typer.Option("--platform", help="The platform's name (default: the format's own, e.g. openedx).")] = None,
    no_align: Annotated[bool, typer.Option("--no-align", help="Store without suggesting skills: every lesson and item waits for review.")] = False,
) -> None:
    """Import (or re-import, updating in place) one course package and print the report as JSON."""
    runtime = Runtime(load_settings())
    try:
        aligner, accept = ((lambda: None), (lambda: 1.0)) if no_align else (runtime.aligner, runtime.accept_confidence)  # no suggestions, nothing to accept
        report = import_package(runtime.session, path, platform, aligner, accept)
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    with runtime.session() as s, s.begin():
        audit.record(s, "cli", "catalog.import", path.name)
    typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
