"""Commands for the lesson index and question answering: `tutor index build`, `tutor ask`,
`tutor retrieval-eval`, `tutor retrieval-calibrate`. Registered in tutor/cli.py by ``register(app)``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

index_app = typer.Typer(help="The lesson search index (passages, BM25, embeddings).", no_args_is_help=True)


def _encoder_or_none(name: str):
    from tutor.answering.encoders import get_encoder

    return None if name in ("", "none", "bm25") else get_encoder(name)


@index_app.command("build")
def index_build(
    content: Path = typer.Option(None, help="Content folder (default: $TUTOR_CONTENT_DIR or content/)."),
    encoder: str = typer.Option("e5-small", help="e5-small, minilm, st:<local model folder>, or bm25 (no embeddings)."),
    cache_dir: Path = typer.Option(None, help="Index cache folder (default: $TUTOR_INDEX_CACHE or var/index-cache/)."),
    lenient: bool = typer.Option(False, help="Index what parses even if the content has problems."),
):
    """Build the index of the content's lessons (or load it from the cache) with a progress bar."""
    from tutor.answering.answer import default_content_dir
    from tutor.answering.index import LessonIndex, default_cache_dir
    from tutor.answering.library import load_content

    lib = load_content(content or default_content_dir(), strict=not lenient)
    index = LessonIndex.build(lib.lessons.values(), _encoder_or_none(encoder), cache_dir=cache_dir or default_cache_dir(), progress=True)
    stats = dict(index.build_stats, lessons=len(index.lessons), encoder=encoder, content_hash=index.content_hash)
    typer.echo(json.dumps(stats, ensure_ascii=False))


def ask_command(
    question: str = typer.Argument(..., help="The learner's question."),
    lang: Optional[str] = typer.Option(None, help="Learner's language (vi/en); default: detected."),
    current_lesson: Optional[str] = typer.Option(None, help="Lesson the learner is on (breaks ties)."),
    weak_skill: List[str] = typer.Option([], help="A skill the learner has not mastered (repeatable; breaks ties)."),
    content: Path = typer.Option(None, help="Content folder."),
    encoder: str = typer.Option("e5-small", help="Encoder (as for `tutor index build`)."),
    lenient: bool = typer.Option(False, help="Index what parses even if the content has problems."),
):
    """Answer one question from the lessons and print the Answer as JSON."""
    from tutor.answering.answer import HelpDesk

    desk = HelpDesk.from_content(content, encoder=encoder, strict=not lenient)
    answer = desk.ask(question, lang=lang, current_lesson=current_lesson, weak_skills=weak_skill)
    typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))


def retrieval_eval(
    squad: Optional[Path] = typer.Option(None, help="A SQuAD-format JSON: index its paragraphs, ask its questions."),
    content: bool = typer.Option(False, "--content", help="Evaluate the content's own questions per slice instead."),
    content_dir: Optional[Path] = typer.Option(None, help="Content folder for --content (default: $TUTOR_CONTENT_DIR or content/)."),
    k: int = typer.Option(10, help="Depth for MRR (MRR@k)."),
    method: str = typer.Option("fused", help="bm25 | dense:<encoder> | fused | fused:<encoder>."),
    encoder: str = typer.Option("e5-small", help="Encoder for `fused` / `dense` without a name."),
    w_dense: Optional[float] = typer.Option(None, help="Fusion weight of the encoder (default: calibrated per language)."),
    lang: Optional[str] = typer.Option(None, help="SQuAD language (default: from the file name, else en)."),
    limit: int = typer.Option(0, help="Only the first N questions (0 = all)."),
    lenient: bool = typer.Option(True, help="Content mode: evaluate what parses even if the content has problems."),
):
    """Measure retrieval; prints one JSON object."""
    from tutor.answering.evaluation import evaluate_content, evaluate_squad

    if (squad is None) == (not content):
        raise typer.BadParameter("give exactly one of --squad FILE or --content")
    kind, _, enc_name = method.partition(":")
    if kind not in ("bm25", "dense", "fused"):
        raise typer.BadParameter(f"unknown method {method!r}")
    enc = None if kind == "bm25" else _encoder_or_none(enc_name or encoder)
    if squad is not None:
        result = evaluate_squad(squad, enc, kind, k=k, w_dense=w_dense, lang=lang, limit=limit or None)
    else:
        result = evaluate_content(content_dir, enc, kind, k=k, w_dense=w_dense, strict=not lenient, limit=limit or None)
    typer.echo(json.dumps(result, ensure_ascii=False))


def retrieval_calibrate(
    content: Path = typer.Option(None, help="Content folder (its eval/ questions are used)."),
    encoder: str = typer.Option("e5-small", help="Encoder to calibrate (bm25 for none)."),
    lenient: bool = typer.Option(True, help="Use what parses even if the content has problems."),
    write: bool = typer.Option(True, help="Write tutor/retrieval/calibration.json."),
):
    """Measure the fusion weight and abstention threshold per question form; write calibration.json."""
    from tutor.answering.answer import default_content_dir
    from tutor.answering.evaluation import calibrate_on_content

    cal, report = calibrate_on_content(content or default_content_dir(), _encoder_or_none(encoder), strict=not lenient, write=write)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    """Add the retrieval commands to the `tutor` app."""
    app.add_typer(index_app, name="index")
    app.command("ask")(ask_command)
    app.command("retrieval-eval")(retrieval_eval)
    app.command("retrieval-calibrate")(retrieval_calibrate)


if __name__ == "__main__":  # pragma: no cover
    _app = typer.Typer()
    register(_app)
    _app(sys.argv[1:])
