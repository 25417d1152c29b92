#!/usr/bin/env bash
# Build a separate virtual environment with pyBKT 1.4.3 compiled from source, so that its
# C++/OpenMP E-step is used (a wheel or a failed build falls back to the slow pure-Python path).
# Used only by training/benchmark_kt.py, through a subprocess; the service never imports pyBKT.
#
#   bash training/pybkt_env.sh            # creates .venv-pybkt/ in the project root
#   PYBKT_VENV=/tmp/venv bash training/pybkt_env.sh
#
# Needs a C++ compiler with OpenMP (g++) and python3-dev headers; reaches PyPI only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PYBKT_VENV:-$ROOT/.venv-pybkt}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet numpy 'scikit-learn<1.8' pandas wheel setuptools
"$VENV/bin/pip" install --no-binary pyBKT --no-build-isolation pyBKT==1.4.3

# Check that the compiled E-step is the one that is imported.
"$VENV/bin/python" - <<'PY'
import pyBKT
from pyBKT.models import Model
try:
    from pyBKT.fit import E_step  # compiled extension module
    kind = "C++ (compiled extension)"
except Exception as exc:  # pragma: no cover - reported to the user
    kind = f"pure Python fallback ({exc})"
print("pyBKT", getattr(pyBKT, "__version__", "1.4.3"), "E-step:", kind)
PY
