"""ADL's xAPI LRS conformance suite (1.0.3) against the service, on a throw-away store; writes the per-section table.

    python bench/xapi_conformance.py [--store sqlite|postgresql] [--grep PATTERN]

The suite (../shared/tools/lrs-conformance-test-suite, a Node.js/mocha program, MIT) is copied to a temporary
folder and its dependencies installed there with npm (never into the project); the service runs on loopback
(bench/service_under_test.py) with a fresh platform key, sent as HTTP Basic (the key as the password), the way
LRS clients send credentials. Results: bench/results/xapi_conformance.md (the table) and .json (every test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_under_test import ROOT, running_service  # noqa: E402

SUITE = ROOT.parent / "shared" / "tools" / "lrs-conformance-test-suite"
RESULTS = ROOT / "bench" / "results"
PORT = 8763
STATEMENT_SECTIONS = ("Data 2.", "Communication 2.1", "Communication 1.2", "Communication 3.2", "Communication 3.3")
"""Sections about statement POST/PUT and GET by id (and the headers and errors of those requests)."""


def prepare_suite(work: Path) -> Path:
    """A private copy of the suite with its npm dependencies installed."""
    if not SUITE.is_dir():
        sys.exit(f"The conformance suite is not at {SUITE} (see ../shared/data/README.md).")
    if shutil.which("npm") is None or shutil.which("node") is None:
        sys.exit("node and npm are needed to run the conformance suite (apt-get install nodejs npm).")
    copy = work / "suite"
    shutil.copytree(SUITE, copy, ignore=shutil.ignore_patterns("node_modules", "logs"))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=copy, check=True, stdout=subprocess.DEVNULL)
    return copy


def leaves(node: dict, section: str, out: list[dict]) -> None:
    """Every test of the run log with its status, under the top-level section it belongs to."""
    children = node.get("tests") or []
    if not children:
        if node.get("status") in ("passed", "failed"):
            out.append({"section": section, "title": node.get("title", ""), "status": node["status"], "error": node.get("error")})
        return
    for child in children:
        leaves(child, section, out)


def run_suite(suite: Path, endpoint: str, key: str, grep: str | None) -> list[dict]:
    command = ["node", "bin/console_runner.js", "-e", endpoint, "-a", "-u", "conformance", "-p", key, "-x", "1.0.3"]
    if grep:
        command += ["-g", grep]
    proc = subprocess.run(command, cwd=suite, capture_output=True, text=True, timeout=3600)
    logs = sorted((suite / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        sys.exit(f"the suite wrote no log; its output ended with:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    record = json.loads(logs[-1].read_text())
    found: list[dict] = []
    for section in record["log"].get("tests", []):
        leaves(section, section.get("title", "?"), found)
    return found


def table(found: list[dict], store: str, load: str) -> str:
    passed = Counter(t["section"] for t in found if t["status"] == "passed")
    failed = Counter(t["section"] for t in found if t["status"] == "failed")
    sections = list(dict.fromkeys(t["section"] for t in found))
    lines = [
        f"ADL LRS conformance suite (xAPI 1.0.3, commit 2ec25f2) against the service on {store}; load average before the run: {load}.",
        "",
        "| section | passed | failed |",
        "|---|---:|---:|",
    ]
    lines += [f"| {s} | {passed[s]} | {failed[s]} |" for s in sections]
    lines.append(f"| **total** | **{sum(passed.values())}** | **{sum(failed.values())}** |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--grep", help="only the suite's tests matching this pattern")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory(prefix="xapi-conformance-") as tmp:
        suite = prepare_suite(Path(tmp))
        with running_service(args.store, args.port, 1, "conformance") as service:
            found = run_suite(suite, f"{service.base_url}/v1/xapi", service.key, args.grep)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "xapi_conformance" + (f"_{args.store}" if args.store != "sqlite" else "") + ("_grep" if args.grep else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(found, indent=1, ensure_ascii=False))
    text = table(found, args.store, " ".join(load))
    (RESULTS / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
