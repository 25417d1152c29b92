"""Settings from the environment, with an embedded default that needs nothing installed beside it."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    database_url: str
    content_dir: Path
    models_dir: Path
    var_dir: Path
    pseudonym_secret: bytes
    mastery_threshold: float = 0.95
    max_batch: int = 1000
    refresh_seconds: float = 2.0
    retention_days: int | None = None
    encoder: str = "e5-small"

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret(var_dir: Path) -> bytes:
    """TUTOR_PSEUDONYM_SECRET, or a random one kept in var/ for the embedded default."""
    value = os.environ.get("TUTOR_PSEUDONYM_SECRET")
    if value:
        return value.encode()
    path = var_dir / "pseudonym-secret"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def content_dir() -> Path:
    return Path(os.environ.get("TUTOR_CONTENT_DIR", PROJECT_ROOT / "content"))


def load_settings() -> Settings:
    var_dir = Path(os.environ.get("TUTOR_VAR_DIR", PROJECT_ROOT / "var"))
    return Settings(
        database_url=os.environ.get("TUTOR_DATABASE_URL", f"sqlite:///{var_dir / 'tutor.db'}"),
        content_dir=content_dir(),
        models_dir=Path(os.environ.get("TUTOR_MODELS_DIR", PROJECT_ROOT / "models")),
        var_dir=var_dir,
        pseudonym_secret=_secret(var_dir),
        mastery_threshold=float(os.environ.get("TUTOR_MASTERY_THRESHOLD", "0.95")),
        refresh_seconds=float(os.environ.get("TUTOR_REFRESH_SECONDS", "2.0")),
        retention_days=int(os.environ["TUTOR_RETENTION_DAYS"]) if os.environ.get("TUTOR_RETENTION_DAYS") else None,
        encoder=os.environ.get("TUTOR_ENCODER", "e5-small"),
    )
