"""`tutor simulate`: simulated learners following a study policy."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path

import typer

from tutor.content.library import load_library
from tutor.recommend.simulation import SimConfig, simulate
from tutor.settings import load_settings
from tutor.tracing.artefacts import active_model_dir
from tutor.tracing.next_answer import load_artefact


class PolicyName(str, Enum):
    ours = "ours"
    fixed = "fixed"
    random = "random"


def simulate_command(
    policy: PolicyName = typer.Option(..., help="ours = the service's recommender; fixed = framework course order, skipping nothing; random."),
    learners: int = typer.Option(2000, min=1, help="Number of simulated learners."),
    seed: int = typer.Option(0, help="Seed of the learner population and of their answers (same seed = same learners for every policy)."),
    budget: int = typer.Option(200, min=1, help="Step budget per learner (one step = one lesson studied and its items answered)."),
    goal: str | None = typer.Option(None, help="Competence (4.2), domain (4), band (basic) or comma-separated skill ids; default: basic."),
    placement: bool = typer.Option(False, help="ours only: take the placement quiz first (its items are reported apart, not as steps)."),
    jobs: int = typer.Option(min(2, os.cpu_count() or 1), min=1, help="Worker processes."),
    content: Path | None = typer.Option(None, help="Content folder (default: $TUTOR_CONTENT_DIR or content/)."),
    models: Path | None = typer.Option(None, help="Models folder whose `active` names the artefact (default: $TUTOR_MODELS_DIR or models/)."),
    out: Path | None = typer.Option(None, help="Also write the JSON here."),
):
    """Simulate learners until they master the goal or run out of budget; print the summary as JSON."""
    settings = load_settings()
    library = load_library(content or settings.content.content_dir)
    models_dir = models or settings.tracing.models_dir
    model = load_artefact(active_model_dir(models_dir))
    try:
        result = simulate(library, model, policy.value, SimConfig(learners=learners, seed=seed, budget=budget, goal=goal, placement=placement), jobs=jobs)
    except ValueError as exc:  # a goal naming nothing (GoalError), or a bad simulation setting
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
