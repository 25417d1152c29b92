"""Model artefacts on disk: JSON parameters plus a metadata JSON, never pickle (it runs code when loaded).

Layout of an artefact directory::

    model.json     {"kind": "bkt", "default": {prior, learn, guess, slip, forget},
                    "skills": {skill_id: {prior, learn, guess, slip, forget}}}
    metadata.json  {"kind", "version", "created", "data_sha256", "n_rows", "seed", ...}
    next-answer/   optional: a next-answer artefact (tutor.tracing.next_answer) behind the recommender's
                   predicted success; BKT stays the mastery learners see

`models/active` names the directory the service loads at start.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tutor.errors import Invalid
from tutor.tracing.equations import PARAM_NAMES, SkillParams

if TYPE_CHECKING:
    from tutor.tracing.next_answer import NextAnswerModel


class ArtefactError(Invalid):
    """An artefact that cannot be used; the message says which file and what is wrong."""


@dataclass(frozen=True)
class MasteryModel:
    """Per-skill BKT parameters with a fallback for skills the artefact does not name."""

    version: str
    default: SkillParams
    skills: dict[str, SkillParams] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    next_answer: NextAnswerModel | None = field(default=None, compare=False, repr=False)  # see tutor.tracing.next_answer.load_artefact

    def params(self, skill_id: str) -> SkillParams:
        return self.skills.get(skill_id, self.default)


def read_json_object(path: Path) -> dict:
    """A JSON object from an artefact file; ArtefactError names the file when it is missing or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtefactError(f"{path}: file missing") from None
    except json.JSONDecodeError as exc:
        raise ArtefactError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArtefactError(f"{path}: expected a JSON object")
    return data


def _params(raw: object, where: str) -> SkillParams:
    if not isinstance(raw, dict):
        raise ArtefactError(f"{where}: expected an object with {', '.join(PARAM_NAMES)}")
    missing = [n for n in PARAM_NAMES if n not in raw]
    if missing:
        raise ArtefactError(f"{where}: missing {', '.join(missing)}")
    values = {}
    for name in PARAM_NAMES:
        v = raw[name]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise ArtefactError(f"{where}.{name}: {v!r} is not a probability in [0, 1]")
        values[name] = float(v)
    params = SkillParams(**values)
    if params.guess + params.slip >= 1.0:
        raise ArtefactError(f"{where}: guess + slip >= 1, so a correct answer would not mean mastery")
    return params


def load_mastery_model(directory: Path) -> MasteryModel:
    """Read and check an artefact; raises ArtefactError naming the problem."""
    directory = Path(directory)
    model = read_json_object(directory / "model.json")
    meta = read_json_object(directory / "metadata.json")
    if model.get("kind") != "bkt":
        raise ArtefactError(f"{directory / 'model.json'}: kind must be 'bkt', got {model.get('kind')!r}")
    default = _params(model.get("default"), f"{directory / 'model.json'}: default")
    skills_raw = model.get("skills", {})
    if not isinstance(skills_raw, dict):
        raise ArtefactError(f"{directory / 'model.json'}: skills must be an object keyed by skill id")
    skills = {sid: _params(p, f"{directory / 'model.json'}: skills[{sid!r}]") for sid, p in skills_raw.items()}
    version = meta.get("version")
    if not isinstance(version, str) or not version:
        raise ArtefactError(f"{directory / 'metadata.json'}: version must be a non-empty string")
    return MasteryModel(version=version, default=default, skills=skills, metadata=meta)


def save_mastery_model(directory: Path, default: SkillParams, skills: dict[str, SkillParams], metadata: dict) -> None:
    """Write an artefact; metadata must carry at least a version."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = {"kind": "bkt", "default": default.as_dict(), "skills": {k: v.as_dict() for k, v in sorted(skills.items())}}
    (directory / "model.json").write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (directory / "metadata.json").write_text(
        json.dumps({"kind": "bkt", **metadata}, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def active_model_dir(models_root: Path) -> Path:
    """The directory named by `models/active` (one line, relative to models/)."""
    pointer = Path(models_root) / "active"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ArtefactError(f"{pointer}: missing; it must name the active artefact directory") from None
    return Path(models_root) / name
