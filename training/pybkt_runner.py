"""Fit and run pyBKT on pyBKT-format CSVs; runs inside .venv-pybkt (see training/pybkt_env.sh).

    .venv-pybkt/bin/python training/pybkt_runner.py --train train.csv --test test.csv --out DIR

Writes DIR/pybkt.json (fit and predict seconds, versions, whether the C++ E-step was used) and
DIR/pybkt_pred.npy (P(correct) for each test CSV row, in file order). Only numpy, pandas and
pyBKT are imported here, so the main project is not needed in that environment.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--num-fits", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import pyBKT  # imported here: pyBKT exists only in .venv-pybkt, and --help should work without it
    from pyBKT.models import Model

    try:
        from pyBKT.fit import E_step  # noqa: F401  the compiled extension

        e_step = "cpp"
    except ImportError:
        e_step = "python"

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dtypes = {"user_id": str, "skill_name": str, "correct": int, "order_id": int}
    train = pd.read_csv(args.train, dtype=dtypes)
    test = pd.read_csv(args.test, dtype=dtypes)  # RangeIndex 0..n-1 = file order

    model = Model(seed=args.seed, num_fits=args.num_fits, parallel=True)
    t0 = time.perf_counter()
    model.fit(data=train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(data=test)
    pred_s = time.perf_counter() - t0
    # pyBKT sorts the frame it is given (in place, keeping the index): restore file order
    p = pred["correct_predictions"].sort_index().to_numpy(dtype=float)
    if len(p) != len(test):
        raise SystemExit(f"pyBKT returned {len(p)} predictions for {len(test)} test rows")
    np.save(out / "pybkt_pred.npy", p)
    (out / "pybkt.json").write_text(
        json.dumps(
            {
                "pybkt_version": getattr(pyBKT, "__version__", "1.4.3"),
                "e_step": e_step,
                "num_fits": args.num_fits,
                "seed": args.seed,
                "fit_seconds": fit_s,
                "predict_seconds": pred_s,
                "n_train": len(train),
                "n_test": len(test),
                "n_skills_fitted": len(model.fit_model),
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                "params": {
                    s: {k: float(np.ravel(m[k])[0]) for k in ("prior", "learns", "guesses", "slips", "forgets")}
                    for s, m in model.fit_model.items()
                },
            },
            indent=1,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
