"""`tutor content ...`: check the library, count it, import lessons into a running deployment."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tutor.content.library import ContentError, Lesson, Problem, load_library, stats
from tutor.content.yaml_lines import line_of, read_yaml
from tutor.runtime import Runtime
from tutor.settings import load_settings

content_app = typer.Typer(help="Check, count and import lessons.", no_args_is_help=True)

ContentDir = typer.Option(None, "--dir", help="Content folder (default: TUTOR_CONTENT_DIR or the bundled content/).")


def _content_dir(directory: Path | None) -> Path:
    return directory or load_settings().content.content_dir


def _fail(problems: list[Problem]) -> None:
    for p in problems:
        typer.echo(str(p), err=True)
    typer.echo(f"{len(problems)} problem(s) found.", err=True)
    raise typer.Exit(1)


@content_app.command("check")
def check(directory: Path | None = ContentDir) -> None:
    """Validate the framework, lessons and evaluation questions; print each problem with file and line."""
    try:
        library = load_library(_content_dir(directory))
    except ContentError as exc:
        _fail(exc.problems)
    typer.echo(f"OK: {len(library.skills)} skills, {len(library.lessons)} lessons, {len(library.eval_questions)} evaluation questions.")


@content_app.command("stats")
def show_stats(directory: Path | None = ContentDir, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Counts: domains, competences, skills, lessons per language, items, words, evaluation questions."""
    try:
        counts = stats(load_library(_content_dir(directory)))
    except ContentError as exc:
        _fail(exc.problems)
    typer.echo(json.dumps(counts, ensure_ascii=False, indent=None if as_json else 2))


@content_app.command("import")
def import_lessons(source: Path = typer.Argument(..., exists=True, file_okay=False, help="A folder of lesson YAML files.")) -> None:
    """Add or replace lessons in the configured database; running services pick them up without a restart."""
    runtime = Runtime(load_settings())
    problems: list[Problem] = []
    lessons = []
    for path in sorted(source.glob("*.yaml")):
        try:
            data, lines = read_yaml(path)
            lessons.append(Lesson.model_validate(data))
        except ContentError as exc:
            problems += exc.problems
        except Exception as exc:  # YAML or validation error, reported with its line
            errors = getattr(exc, "errors", None)
            if callable(errors):
                problems += [Problem(str(path), line_of(lines, e["loc"]), f"{'.'.join(map(str, e['loc']))}: {e['msg']}") for e in errors()]
            else:
                mark = getattr(exc, "problem_mark", None)
                problems.append(Problem(str(path), mark.line + 1 if mark else 1, str(exc)))
    for lesson in lessons:
        problems += runtime.library.check_lesson(lesson, f"{source / lesson.id}.yaml")
    if problems:
        _fail(problems)
    for lesson in lessons:
        runtime.add_lesson(lesson)
    typer.echo(f"Imported {len(lessons)} lesson(s).")


def register(app: typer.Typer) -> None:
    app.add_typer(content_app, name="content")
