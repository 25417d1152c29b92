"""The real service (`python service.py`) in a child process on a throw-away store, for the HTTP benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = "host=127.0.0.1 user=postgres dbname=postgres"


@dataclass(frozen=True)
class RunningService:
    base_url: str
    key: str  # a platform-scope API key
    database_url: str
    postgres_dsn: str | None  # for counting rows after a run; None on SQLite


@contextmanager
def running_service(store: str, port: int, workers: int, name: str, database: str | None = None, db_port: int = 5432,
                    extra_env: dict[str, str] | None = None) -> Iterator[RunningService]:
    """Start the service on a new SQLite file or PostgreSQL database, wait for /ready, stop and drop it after.

    `database`: an existing PostgreSQL database to serve instead (kept after); `db_port`: where the service
    reaches PostgreSQL (a relay's port, for an outage); `extra_env`: more TUTOR_* settings."""
    work = Path(tempfile.mkdtemp(prefix=f"tutor-{name}-"))
    dbname = database or (f"tutor_{name}_{uuid.uuid4().hex[:8]}" if store == "postgresql" else None)
    if dbname and database is None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:{db_port}/{dbname}" if dbname else f"sqlite:///{work / 'tutor.db'}"
    env = {**os.environ, "TUTOR_VAR_DIR": str(work), "TUTOR_PSEUDONYM_SECRET": f"{name}-secret", "TUTOR_DATABASE_URL": url,
           "TUTOR_PORT": str(port), "TUTOR_WORKERS": str(workers), **(extra_env or {})}
    server = None
    try:
        key = subprocess.run([sys.executable, "-m", "tutor.cli", "keys", "create", "--scope", "platform", "--name", name],
                             env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
        server = subprocess.Popen([sys.executable, "service.py"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("the service did not become ready within 180 s")
        yield RunningService(base, key, url, f"host=127.0.0.1 user=postgres dbname={dbname}" if dbname else None)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if dbname and database is None:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
