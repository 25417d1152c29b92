"""Start-up time to /ready and a worker's memory: `python service.py` on a fresh var folder, several times.

    .venv/bin/python bench/startup.py [--runs 5] [--against /path/to/another/checkout]

With --against, the other checkout (say, a worktree of an older commit) is started in turn with
this one (interleaved, same interpreter), so both see the same machine. Writes
bench/results/startup.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def start_once(tree: Path, port: int) -> dict[str, float]:
    """Seconds from launch until /ready answers 200, and the worker's resident memory a second later."""
    var = tempfile.mkdtemp(prefix="tutor-startup-")
    env = {**os.environ, "TUTOR_VAR_DIR": var, "TUTOR_PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "service.py"], cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > 180:
                raise SystemExit(f"{tree}: no /ready within 180 s")
            time.sleep(0.05)
        ready = time.perf_counter() - started
        time.sleep(1.0)
        status = Path(f"/proc/{process.pid}/status").read_text()
        rss_kib = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"ready_s": round(ready, 2), "rss_mib": round(rss_kib / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout to start in turn with this one")
    parser.add_argument("--port", type=int, default=8610)
    args = parser.parse_args()
    trees = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    load_before = os.getloadavg()
    for _ in range(args.runs):
        for name, tree in trees.items():
            runs[name].append(start_once(tree, args.port))
    summary = {
        name: {"tree": str(trees[name]), "runs": r, "median_ready_s": statistics.median(x["ready_s"] for x in r),
               "median_rss_mib": statistics.median(x["rss_mib"] for x in r)}
        for name, r in runs.items()
    }
    result = {"summary": summary, "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": sys.version.split()[0]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Start-up", "", f"{args.runs} starts each, interleaved; {result['date']}; load average {load_before[0]:.2f} before.", "",
             "| checkout | median s to /ready | median worker RSS MiB | runs (s) |", "|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} (`{s['tree']}`) | {s['median_ready_s']} | {s['median_rss_mib']} | {', '.join(str(x['ready_s']) for x in s['runs'])} |")
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
