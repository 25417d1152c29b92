"""The `tutor` command line: one typer app; each capability mounts its own commands with `register(app)`."""

from __future__ import annotations

import typer

from tutor.answering import cli as answering
from tutor.content import cli as content
from tutor.privacy import cli as privacy
from tutor.recommend import cli as recommend
from tutor.research import training as research

app = typer.Typer(help="Adaptive tutoring service: content, keys, models and evaluation.", no_args_is_help=True)
content.register(app)  # content check | stats | import
privacy.register(app)  # keys create | list | rotate | revoke; retention
answering.register(app)  # index build, ask, retrieval-eval, retrieval-calibrate
recommend.register(app)  # simulate
app.command("train")(research.train)  # fit bkt / next-answer artefacts
app.command("evaluate")(research.evaluate)  # AUC, RMSE, accuracy + report

if __name__ == "__main__":
    app()
