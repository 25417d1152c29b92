"""`tutor content ...`: check the library, count it, import lessons into a running deployment."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError

from tutor.content.library import ContentError, Lesson, Problem, load_library, new_lesson_problems, validation_problems
from tutor.content.quality import stats
from tutor.content.translations import option_order_problems
from tutor.content.yaml_lines import read_yaml, yaml_error_line
from tutor.runtime import Runtime
from tutor.settings import load_settings

content_app = typer.Typer(help="Check, count and import lessons.", no_args_is_help=True)

ContentDir = typer.Option(None, "--dir", help="Content folder (default: TUTOR_CONTENT_DIR or the bundled content/).")


def _content_dir(directory: Path | None) -> Path:
    return directory or load_settings().content.content_dir


Lang = typer.Option("vi", "--lang", help="Language of the messages: vi (default) or en.")


def _lang(lang: str) -> str:
    if lang not in ("vi", "en"):
        raise typer.BadParameter("use vi or en", param_hint="--lang")
    return lang


def _show(problems: list[Problem], lang: str) -> None:
    for p in problems:
        typer.echo(p.text(lang), err=True)


def _fail(problems: list[Problem], lang: str = "en") -> None:
    _show(problems, lang)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    typer.echo(f"Tìm thấy {errors} lỗi, {warnings} cảnh báo." if lang == "vi" else f"{errors} problem(s) found, {warnings} warning(s).", err=True)
    raise typer.Exit(1)


@content_app.command("check")
def check(
    directory: Path | None = ContentDir,
    lang: str = Lang,
    strict: bool = typer.Option(False, "--strict", help="Warnings fail the check too."),
    translations: bool = typer.Option(
        False, "--translations", help="Also match every item's Vietnamese and English options with the multilingual encoder (minutes on a busy machine)."
    ),
) -> None:
    """Validate the framework, lessons and evaluation questions in one pass; print each problem with file and line."""
    lang = _lang(lang)
    try:
        library = load_library(_content_dir(directory))
    except ContentError as exc:
        _fail(exc.problems, lang)
    problems = list(library.warnings)
    if translations:
        problems += option_order_problems(library, _content_dir(directory))
    if any(p.severity == "error" for p in problems) or (strict and problems):
        _fail(problems, lang)
    _show(problems, lang)
    n = (len(library.skills), len(library.lessons), len(library.eval_questions), len(problems))
    typer.echo(
        "Hợp lệ: {} kỹ năng, {} bài học, {} câu hỏi đánh giá; {} cảnh báo.".format(*n) if lang == "vi"
        else "OK: {} skills, {} lessons, {} evaluation questions; {} warning(s).".format(*n)
    )


@content_app.command("stats")
def show_stats(directory: Path | None = ContentDir, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Counts: skills per band and with lessons, lessons, items, the longest-key share, key positions, near copies, words, evaluation questions."""
    try:
        counts = stats(load_library(_content_dir(directory)))
    except ContentError as exc:
        _fail(exc.problems)
    typer.echo(json.dumps(counts, ensure_ascii=False, indent=None if as_json else 2))


@content_app.command("import")
def import_lessons(
    source: Path = typer.Argument(..., exists=True, file_okay=False, help="A folder of lesson YAML files."), lang: str = Lang
) -> None:
    """Add or replace lessons in the configured database; running services pick them up without a restart.

    New lessons need their metadata (licence, authors, last_reviewed, sources): see content/README.md."""
    lang = _lang(lang)
    runtime = Runtime(load_settings())
    problems: list[Problem] = []
    lessons = []
    for path in sorted(source.glob("*.yaml")):
        try:
            data, lines = read_yaml(path)
        except Exception as exc:  # a YAML error, reported at the line that opened it
            line, en, vi = yaml_error_line(exc)
            problems.append(Problem(str(path), line, en, (), vi, rule="yaml"))
            continue
        problems += new_lesson_problems(data if isinstance(data, dict) else {}, str(path), lines)
        try:
            lesson = Lesson.model_validate(data)
        except ValidationError as exc:
            problems += validation_problems(exc, lines, str(path))
            continue
        problems += [p for p in runtime.library.check_lesson(lesson, str(path), lines) if p.severity == "error"]
        lessons.append(lesson)
    if problems:
        _fail(problems, lang)
    for lesson in lessons:
        runtime.add_lesson(lesson)
    typer.echo(f"Đã nhập {len(lessons)} bài học." if lang == "vi" else f"Imported {len(lessons)} lesson(s).")


def register(app: typer.Typer) -> None:
    app.add_typer(content_app, name="content")
