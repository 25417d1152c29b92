"""Commands for the lesson index and question answering: `tutor index build`, `tutor ask`,
`tutor retrieval-eval`, `tutor retrieval-calibrate`, `tutor answer-calibrate`. Registered in tutor/cli.py by ``register(app)``.

Options left out come from the settings (``TUTOR_CONTENT_DIR``, ``TUTOR_ENCODER``,
``TUTOR_ENCODER_THREADS``, ``TUTOR_INDEX_CACHE``), so a command sees what the service sees.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from tutor.answering.answer import HelpDesk
from tutor.answering.encoders import encoder_or_none
from tutor.answering.evaluation import calibrate_on_content, evaluate_content, evaluate_squad
from tutor.answering.quality import answer_quality, calibrate_answers
from tutor.content.library import load_library
from tutor.settings import load_settings

index_app = typer.Typer(help="The lesson search index (passages, BM25, embeddings).", no_args_is_help=True)

ENCODER_HELP = "e5-small, minilm, st:<local model folder>, or bm25 (no embeddings); default: $TUTOR_ENCODER or e5-small."


@index_app.command("build")
def index_build(
    content: Path | None = typer.Option(None, help="Content folder (default: $TUTOR_CONTENT_DIR or content/)."),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
    cache_dir: Path | None = typer.Option(None, help="Index cache folder (default: $TUTOR_INDEX_CACHE or <var>/index-cache/)."),
):
    """Build the index of the content's lessons and the vectors of their answer spans (or load them from
    the cache) with progress bars."""
    settings = load_settings()
    name = encoder or settings.answering.encoder
    library = load_library(content or settings.content.content_dir)
    desk = HelpDesk.build(library.lessons.values(), name, encoder_threads=settings.answering.encoder_threads,
                          cache_dir=cache_dir or settings.index_cache_dir, progress=True)
    index = desk.index
    stats = dict(index.build_stats, lessons=len(index.lessons), encoder=name, content_hash=index.content_hash, span_vectors=len(desk.composer.span_vectors))
    typer.echo(json.dumps(stats, ensure_ascii=False))


def ask_command(
    question: str = typer.Argument(..., help="The learner's question."),
    lang: str | None = typer.Option(None, help="Learner's language (vi/en); default: detected."),
    current_lesson: str | None = typer.Option(None, help="Lesson the learner is on (breaks ties; its quiz questions get a hint)."),
    placement: bool = typer.Option(False, help="The learner is taking the placement quiz (its questions get a hint)."),
    weak_skill: list[str] = typer.Option([], help="A skill the learner has not mastered (repeatable; breaks ties)."),
    content: Path | None = typer.Option(None, help="Content folder (default: $TUTOR_CONTENT_DIR or content/)."),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
):
    """Answer one question from the lessons and print the Answer as JSON."""
    settings = load_settings()
    library = load_library(content or settings.content.content_dir)
    desk = HelpDesk.build(
        library.lessons.values(),
        encoder or settings.answering.encoder,
        encoder_threads=settings.answering.encoder_threads,
        cache_dir=settings.index_cache_dir,
    )
    answer = desk.ask(question, lang=lang, current_lesson=current_lesson, weak_skills=weak_skill, placement=placement)
    typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))


def retrieval_eval(
    squad: Path | None = typer.Option(None, help="A SQuAD-format JSON: index its paragraphs, ask its questions."),
    content: bool = typer.Option(False, "--content", help="Evaluate the content's own questions per slice instead."),
    content_dir: Path | None = typer.Option(None, help="Content folder for --content (default: $TUTOR_CONTENT_DIR or content/)."),
    k: int = typer.Option(10, help="Depth for MRR (MRR@k)."),
    method: str = typer.Option("fused", help="bm25 | dense:<encoder> | fused | fused:<encoder>."),
    encoder: str | None = typer.Option(None, help="Encoder for `fused` / `dense` without a name (default: $TUTOR_ENCODER or e5-small)."),
    w_dense: float | None = typer.Option(None, help="Fusion weight of the encoder (default: calibrated per language)."),
    lang: str | None = typer.Option(None, help="SQuAD language (default: from the file name, else en)."),
    limit: int = typer.Option(0, help="Only the first N questions (0 = all)."),
    answers: bool = typer.Option(True, help="With --content: also measure the answers (key-point coverage, cut answers, length, abstention)."),
):
    """Measure retrieval (and, with --content, the answers); prints one JSON object."""
    if (squad is None) == (not content):
        raise typer.BadParameter("give exactly one of --squad FILE or --content")
    kind, _, enc_name = method.partition(":")
    if kind not in ("bm25", "dense", "fused"):
        raise typer.BadParameter(f"unknown method {method!r}")
    settings = load_settings()
    enc = None if kind == "bm25" else encoder_or_none(enc_name or encoder or settings.answering.encoder, settings.answering.encoder_threads)
    cache = settings.index_cache_dir
    if squad is not None:
        result = evaluate_squad(squad, enc, kind, k=k, w_dense=w_dense, lang=lang, limit=limit or None, cache_dir=cache)
    else:
        folder = content_dir or settings.content.content_dir
        result = evaluate_content(folder, enc, kind, k=k, w_dense=w_dense, limit=limit or None, cache_dir=cache)
        if answers and kind == "fused":
            library = load_library(folder)
            desk = HelpDesk.build(library.lessons.values(), enc_name or encoder or settings.answering.encoder,
                                  encoder_threads=settings.answering.encoder_threads, cache_dir=cache)
            questions = library.eval_questions[:limit] if limit else library.eval_questions
            result["answers"] = answer_quality(desk, questions, desk.index.calibration)
    typer.echo(json.dumps(result, ensure_ascii=False))


def retrieval_calibrate(
    content: Path | None = typer.Option(None, help="Content folder (its eval/ questions are used)."),
    encoder: str | None = typer.Option(None, help="Encoder to calibrate (bm25 for none; default: $TUTOR_ENCODER or e5-small)."),
    write: bool = typer.Option(True, help="Write tutor/answering/calibration.json."),
):
    """Measure the fusion weight and abstention threshold per question form; write calibration.json."""
    settings = load_settings()
    enc = encoder_or_none(encoder or settings.answering.encoder, settings.answering.encoder_threads)
    _, report = calibrate_on_content(content or settings.content.content_dir, enc, cache_dir=settings.index_cache_dir, write=write)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


def answer_calibrate(
    content: Path | None = typer.Option(None, help="Content folder (its eval/ questions are used)."),
    write: bool = typer.Option(True, help="Write the span weights and near-miss model into tutor/answering/calibration.json."),
):
    """Fit the span weights and the near-miss test on the evaluation questions' key points; prints the
    cross-validated answer quality and writes calibration.json."""
    settings = load_settings()
    library = load_library(content or settings.content.content_dir)
    desk = HelpDesk.build(library.lessons.values(), settings.answering.encoder, encoder_threads=settings.answering.encoder_threads,
                          cache_dir=settings.index_cache_dir)
    typer.echo(json.dumps(calibrate_answers(desk, library.eval_questions, write=write), ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    """Add the question-answering commands to the `tutor` app."""
    app.add_typer(index_app, name="index")
    app.command("ask")(ask_command)
    app.command("retrieval-eval")(retrieval_eval)
    app.command("retrieval-calibrate")(retrieval_calibrate)
    app.command("answer-calibrate")(answer_calibrate)


if __name__ == "__main__":  # pragma: no cover
    _app = typer.Typer()
    register(_app)
    _app(sys.argv[1:])
