"""Measured settings: fusion weight and abstention threshold per question form and encoder.

They live in ``calibration.json`` beside this file, written by ``tutor retrieval-calibrate`` (or
``bench/retrieval_bench.py``) from the content's evaluation questions, never typed by hand. Each
encoder has its own entry because cosines of different models are not comparable. A form missing
from the file uses the ``*`` entry; an encoder missing from the file uses the defaults below
(fusion weight 0.5, and abstention only when nothing matched at all).

``threshold[form]`` applies to the evidence of the best passage (answer.py); ``threshold["cross:"
+ form]`` is the cosine a passage in *another* language needs to answer a question that the first
test turned down (lessons missing the question's language).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
DEFAULT_W_DENSE = 0.5
DEFAULT_THRESHOLD = 0.0
NEVER = 1.01  # a cosine threshold no passage reaches


@dataclass
class Calibration:
    encoder: str
    w_dense: dict[str, float] = field(default_factory=lambda: {"*": DEFAULT_W_DENSE})
    threshold: dict[str, float] = field(default_factory=lambda: {"*": DEFAULT_THRESHOLD})
    notes: dict = field(default_factory=dict)  # what it was measured on, and the measurements
    span_weights: dict[str, float] = field(default_factory=dict)  # compose.FEATURES -> weight; empty: compose's defaults
    answerable: dict[str, float] = field(default_factory=dict)  # near-miss test: weights of ANSWERABLE_FEATURES and "intercept"

    def answers_near_miss(self, features: dict[str, float]) -> bool:
        """The fitted part of the near-miss test on a question that passed the evidence test: a logistic
        model over ``features`` (answer.ANSWERABLE_FEATURES of the chosen span: its share of the question's
        rare words, its encoder cosine, the rarest question word missing from it and from its lesson, the
        evidence margin) says whether the lessons answer it. No model: always answer."""
        if not self.answerable:
            return True
        z = self.answerable.get("intercept", 0.0) + sum(self.answerable.get(k, 0.0) * v for k, v in features.items())
        return z >= 0.0

    def weight(self, form_key: str) -> float:
        return float(self.w_dense.get(form_key, self.w_dense.get("*", DEFAULT_W_DENSE)))

    def abstain_below(self, form_key: str) -> float:
        return float(self.threshold.get(form_key, self.threshold.get("*", DEFAULT_THRESHOLD)))

    def other_language_above(self, form_key: str) -> float:
        """Cosine a passage in another language needs to answer when no passage in the
        question's language is strong enough (``cross:<form>`` in the file; > 1 = never)."""
        return float(self.threshold.get(f"cross:{form_key}", self.threshold.get("cross:*", NEVER)))


def evidence(w_dense: float, cosine: float, coverage: float) -> float:
    """How strongly a passage supports an answer, the number ``threshold[form]`` is compared with:
    the form's fusion weight between the encoder's raw cosine and the BM25 coverage."""
    return float(w_dense * cosine + (1.0 - w_dense) * coverage)


def load_calibration(encoder_name: str | None, path: Path = CALIBRATION_FILE) -> Calibration:
    key = encoder_name or "bm25"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        entry = data.get(key)
        if entry:
            return Calibration(
                encoder=key, w_dense=entry["w_dense"], threshold=entry["threshold"], notes=entry.get("notes", {}),
                span_weights=entry.get("span_weights", {}), answerable=entry.get("answerable", {}),
            )
    return Calibration(encoder=key)


def save_calibration(cal: Calibration, path: Path = CALIBRATION_FILE) -> None:
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    entry = asdict(cal)
    entry.pop("encoder")
    data[cal.encoder] = entry
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
