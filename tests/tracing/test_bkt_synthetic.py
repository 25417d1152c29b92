"""The synthetic generator behind models/bkt-synthetic-v1: prerequisites respected, parameters recoverable."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from tutor.tracing.artefacts import load_mastery_model
from tutor.tracing.bkt import BKT
from tutor.tracing.responses import ResponseLog

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("training_synthetic", ROOT / "training" / "synthetic.py")
synthetic = importlib.util.module_from_spec(spec)
sys.modules["training_synthetic"] = synthetic  # dataclasses look their module up while the file runs
spec.loader.exec_module(synthetic)
FRAMEWORK = ROOT / "content" / "framework.yaml"


def test_parameters_and_practice_order_respect_prerequisites():
    skills = synthetic.read_skills(FRAMEWORK)
    assert len(skills) == 72  # every skill a lesson teaches (the specialised band has none)
    params = synthetic.true_parameters(skills, np.random.default_rng(0))
    for s in skills:
        for p in s.prerequisites:
            assert params[s.id]["prior"] <= 0.9 * params[p]["prior"] + 1e-4  # both rounded to 4 decimals
        assert params[s.id]["guess"] <= 0.25 and params[s.id]["slip"] <= 0.15
    rows, truth = synthetic.generate(FRAMEWORK, n_learners=60, seed=1)
    pre = {s.id: s.prerequisites for s in skills}
    first_seen: dict[tuple[str, str], int] = {}
    for i, (lid, sk, _, _) in enumerate(rows):
        first_seen.setdefault((lid, sk), i)
    for (lid, sk), i in first_seen.items():
        for p in pre[sk]:
            assert first_seen.get((lid, p), -1) < i, (lid, sk, p)  # practised before, or never
    assert truth["generator"] == synthetic.GENERATOR_VERSION


def test_bkt_recovers_the_effective_parameters():
    rows, truth = synthetic.generate(FRAMEWORK, n_learners=1500, seed=3)
    seqs: dict[str, tuple[list, list]] = {}
    for lid, sk, ok, _ in rows:
        seqs.setdefault(lid, ([], []))
        seqs[lid][0].append(sk)
        seqs[lid][1].append(float(ok))
    log = ResponseLog.from_sequences(list(seqs.values()))
    model = BKT(n_restarts=2, random_state=0).fit(log)
    well_covered = [s for s, d in model.diagnostics_.items() if d["n_responses"] >= 1500]
    assert len(well_covered) >= 30
    err = {n: np.mean([abs(getattr(model.params_[s], n) - (truth["effective"][s][n] if n in ("prior", "learn")
                                                            else truth["parameters"][s][n])) for s in well_covered])
           for n in ("prior", "learn", "guess", "slip")}
    assert all(v < 0.03 for v in err.values()), err


def test_the_committed_artefact_is_the_active_one_and_loads():
    name = (ROOT / "models" / "active").read_text().strip()
    model = load_mastery_model(ROOT / "models" / name)
    assert len(model.skills) == 48
    meta = json.loads((ROOT / "models" / name / "metadata.json").read_text())
    if name == "bkt-synthetic-v1":
        assert meta["generator"]["generator"] == "synthetic-v1" and meta["fit_summary"]["fitted"] == 48
