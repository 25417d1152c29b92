"""The `tutor` command line: one typer app, each area of work adds its commands here."""

from __future__ import annotations

import typer

from tutor.research import training as research
from tutor.content.cli import content_app
from tutor.privacy.keys_cli import keys_app
from tutor.privacy.retention_cli import retention
from tutor.answering.cli import register as register_retrieval
from tutor.recommend.cli import register as register_recommend

app = typer.Typer(help="Adaptive tutoring service: content, keys, models and evaluation.", no_args_is_help=True)
app.add_typer(content_app, name="content")
app.add_typer(keys_app, name="keys")
app.command("retention")(retention)
register_retrieval(app)  # index build, ask, retrieval-eval, retrieval-calibrate
register_recommend(app)  # simulate
app.command("train")(research.train)  # fit bkt / next-answer artefacts
app.command("evaluate")(research.evaluate)  # AUC, RMSE, accuracy + report

if __name__ == "__main__":
    app()
