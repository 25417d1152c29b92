"""`tutor train` and `tutor evaluate`: fit a mastery / next-answer model on a log and measure it.

Registered in tutor/cli.py by ``register(app)``:

    tutor train --model bkt --data answers.jsonl --format events --out models/bkt-2026-11 --seed 0
    tutor evaluate --model models/bkt-2026-11 --data test.csv --format lines
    tutor evaluate --model models/bkt-2026-11 --data answers.jsonl --folds 5 --report reports/bkt-cv
    tutor research export --out lake/answers            # Parquet, one folder per day
    tutor train --model bkt --data lake/answers --engine spark --master local[2] --out models/bkt-spark

`evaluate` prints ONE JSON object on stdout (auc, rmse, accuracy, n, ...) and writes report.md,
roc.png and reliability.png to the report directory; progress bars go to stderr. The work itself
is done by `tutor.research.training`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from tutor.errors import Invalid
from tutor.research.export import export_parquet
from tutor.research.logs import FORMATS
from tutor.research.training import ENGINES, MODELS, evaluate_artefact, train_artefact
from tutor.settings import load_settings
from tutor.store.database import make_engine, make_sessions, upgrade

research_app = typer.Typer(help="Research data: the pseudonymised answer log as a Parquet data lake.", no_args_is_help=True)
ENGINE_HELP = "local (this process) or spark (Apache Spark; needs the `spark` extra)."
MASTER_HELP = "Spark master with --engine spark: local[*], local[2], spark://host:7077, or a Spark Connect sc://host:15002."


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _parse_sets(sets: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in sets or []:
        if "=" not in item:
            _fail(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def train(
    data: Annotated[Path, typer.Option("--data", help="Answer log to fit on.")],
    out: Annotated[Path, typer.Option("--out", help="Artefact directory to write.")],
    model: Annotated[str, typer.Option("--model", help="bkt (per-skill BKT, the service's mastery model) or next-answer.")] = "bkt",
    fmt: Annotated[
        str, typer.Option("--format", help="events (CSV/JSON lines/Parquet), pybkt (CSV) or lines (3-line KT format).")
    ] = "events",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (EM restarts, MLP initialisation).")] = 0,
    version: Annotated[
        str | None, typer.Option("--version", help="Version string for metadata.json (default: kind-datahash-seed).")
    ] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="Hyper-parameter KEY=VALUE (JSON value), repeatable, e.g. --set n_restarts=10.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    engine: Annotated[str, typer.Option("--engine", help=ENGINE_HELP)] = "local",
    master: Annotated[str, typer.Option("--master", help=MASTER_HELP)] = "local[*]",
) -> None:
    """Fit a model on an answer log and write its artefact (JSON/NPZ + metadata.json, never pickle)."""
    if engine not in ENGINES:
        _fail(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if model not in MODELS:
        _fail(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        meta = train_artefact(model, data, fmt, out, seed, version, _parse_sets(sets), progress=not quiet, engine=engine, master=master)
    except ValueError as exc:  # a bad log, artefact or hyper-parameter: tutor.errors.Invalid and scikit-learn's are ValueErrors
        _fail(str(exc))
    typer.echo(json.dumps({"out": str(out), "kind": model, "version": meta["version"], "n_rows": meta["n_rows"],
                           "training_seconds": meta["training_seconds"]}))


def evaluate(
    model: Annotated[Path, typer.Option("--model", help="Artefact directory written by `tutor train`.")],
    data: Annotated[Path, typer.Option("--data", help="Answer log to evaluate on (a test split, or any log with --folds).")],
    fmt: Annotated[str, typer.Option("--format", help="events, pybkt or lines.")] = "events",
    folds: Annotated[int | None, typer.Option("--folds", help="Learner-level K-fold cross-validation instead of a test split.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Report directory (default: MODEL/evaluation/DATA-STEM).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    engine: Annotated[str, typer.Option("--engine", help=ENGINE_HELP)] = "local",
    master: Annotated[str, typer.Option("--master", help=MASTER_HELP)] = "local[*]",
) -> None:
    """Score a model on a log: one JSON object on stdout, report.md + roc.png + reliability.png."""
    if fmt not in FORMATS:
        _fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if engine not in ENGINES:
        _fail(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if folds is not None and folds < 2:
        _fail("--folds must be at least 2")
    try:
        result = evaluate_artefact(model, data, fmt, folds, report, seed, progress=not quiet, engine=engine, master=master)
    except ValueError as exc:  # see train
        _fail(str(exc))
    typer.echo(json.dumps(result))


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{name} {value!r} is not an ISO 8601 date or moment (2026-11-20 or 2026-11-20T08:00:00Z)")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@research_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="New folder for the Parquet files (out/day=YYYY-MM-DD/part-NNNNN.parquet).")],
    since: Annotated[str | None, typer.Option("--since", help="Only answers at or after this moment (ISO 8601; UTC when no zone is given).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only answers before this moment.")] = None,
) -> None:
    """Write the pseudonymised answer log as Parquet partitioned by day, streaming from the store with flat memory."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    settings = load_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        summary = export_parquet(make_sessions(engine), settings.pseudonym_key, out, start, end)
    except Invalid as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(json.dumps(summary))


def register(app: typer.Typer) -> None:
    """Add `train`, `evaluate` and `research export` to the top-level `tutor` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.add_typer(research_app, name="research")
