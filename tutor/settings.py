"""The one settings object: every environment variable the service reads, parsed once at start-up.

Each capability has its own section; the recommendation and placement sections are the domain's own
policy models, so a value is checked by the same rules wherever it comes from. A bad value stops the
process at start with the variable's name (`SettingsError`). No other module reads the environment.

>>> s = Settings(tracing={"mastery_threshold": 0.9})
>>> s.tracing.mastery_threshold, s.recommend.zpd_low
(0.9, 0.6)
>>> ENVIRONMENT["TUTOR_REC_ZPD_LOW"]
(('recommend', 'zpd_low'),)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tutor.recommend.placement import PlacementConfig
from tutor.recommend.policy import Policy

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceSettings(Section):
    """How `python service.py` serves, and where a worker keeps its local files."""

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    workers: int = Field(1, ge=1, le=256, description="Worker processes.")
    var_dir: Path = Field(PROJECT_ROOT / "var", description="Embedded database, development key, pseudonym secret, caches.")
    refresh_seconds: float = Field(2.0, ge=0, description="How often a worker looks for lessons added or a model activated by another worker.")


class StoreSettings(Section):
    database_url: str | None = Field(None, description="SQLAlchemy URL of the store; default: `sqlite:///<var>/tutor.db`; production: `postgresql+psycopg://postgres@127.0.0.1:5432/tutor`.")
    redis_url: str | None = Field(
        None, pattern=r"^(redis|rediss|redis\+unix)://[^\s]*$",
        description="Redis that holds the keys' rate-limit counts, shared by every worker and replica (`redis://127.0.0.1:6379/0`); "
                    "unset: each worker counts alone. If Redis stops answering, each worker counts alone until it is back.",
    )


class ContentSettings(Section):
    content_dir: Path = Field(PROJECT_ROOT / "content", description="Framework, lessons and evaluation questions.")


class TracingSettings(Section):
    models_dir: Path = Field(PROJECT_ROOT / "models", description="Model artefacts; `active` names the one loaded.")
    mastery_threshold: float = Field(0.95, gt=0, lt=1, description="P(mastered) at which a skill counts as mastered.")


class AnsweringSettings(Section):
    encoder: str = Field("e5-small", description="Question encoder: `e5-small`, `minilm`, `bm25` or `st:<folder>`.")
    encoder_threads: int | None = Field(None, ge=1, le=64, description="Threads of the encoder; default: the library's choice.")
    index_cache: Path | None = Field(None, description="Where question-index vectors are cached; default: `<var>/index-cache`.")


class CatalogSettings(Section):
    """How the platform's own courses are imported and aligned to the framework."""

    accept_confidence: float | None = Field(
        None, ge=0, le=1,
        description="An imported lesson's or item's top skill suggestion is accepted from this calibrated confidence; below it, it waits for review. "
                    "Default: the aligner's measured threshold (see bench/results/alignment.md).",
    )
    aligner_encoder: str = Field(
        "e5-small",
        description="Encoder of the aligner, fused with word matching: `e5-small`, `minilm`, `st:<folder>`, or `bm25` (words only: builds in a second, aligns less well).",
    )
    max_package_bytes: int = Field(512 * 1024**2, ge=1024, description="Largest course package the admin upload route takes.")
    lms_url: str | None = Field(
        None, pattern=r"^https?://[^\s]+$",
        description="The platform LMS's address; answers citing an imported Open edX activity link to `{lms_url}/courses/{course}/jump_to/{usage key}`.",
    )


class PrivacySettings(Section):
    pseudonym_secret: SecretStr | None = Field(
        None, description="Key of the HMAC that replaces learner ids; default: random, kept in `<var>/pseudonym-secret`. Set it (and keep it) in production."
    )
    retention_days: int | None = Field(
        None, ge=1, description="Raw events older than this are folded into mastery and deleted by `tutor retention`, and older answers are refused; unset: keep all."
    )


class PagesSettings(Section):
    """The learner's and the researchers' pages: their signed session cookie."""

    session_secret: SecretStr | None = Field(
        None, description="Key that signs the pages' session cookies; default: random, kept in `<var>/session-secret`. Set it (the same in every worker) in production."
    )
    session_hours: float = Field(8.0, gt=0, le=24 * 30, description="How long a page session lasts after sign-in.")


class Settings(BaseSettings):
    """Every section; build it with `load_settings()` (which also fills the defaults kept on disk)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    service: ServiceSettings = ServiceSettings()
    store: StoreSettings = StoreSettings()
    content: ContentSettings = ContentSettings()
    tracing: TracingSettings = TracingSettings()
    recommend: Policy = Policy()
    placement: PlacementConfig = PlacementConfig()
    answering: AnsweringSettings = AnsweringSettings()
    catalog: CatalogSettings = CatalogSettings()
    privacy: PrivacySettings = PrivacySettings()
    pages: PagesSettings = PagesSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the flat environment names; no .env file or secrets directory."""
        return init_settings, FlatEnvironment(settings_cls)

    @property
    def database_url(self) -> str:
        return self.store.database_url or f"sqlite:///{self.service.var_dir / 'tutor.db'}"

    @property
    def index_cache_dir(self) -> Path:
        return self.answering.index_cache or self.service.var_dir / "index-cache"

    @property
    def embedded(self) -> bool:
        """The store is the SQLite default: a development set-up (prints a development key)."""
        return self.database_url.startswith("sqlite")

    @property
    def pseudonym_key(self) -> bytes:
        if self.privacy.pseudonym_secret is None:
            raise SettingsError("privacy.pseudonym_secret is not set; build the settings with load_settings()")
        return self.privacy.pseudonym_secret.get_secret_value().encode()

    @property
    def session_key(self) -> bytes:
        """The set secret, else one derived from the pseudonym key (settings built without load_settings, as in tests)."""
        if self.pages.session_secret is None:
            return hmac.new(self.pseudonym_key, b"tutor page sessions", hashlib.sha256).digest()
        return self.pages.session_secret.get_secret_value().encode()


PREFIXES = {
    "service": "TUTOR_", "store": "TUTOR_", "content": "TUTOR_", "tracing": "TUTOR_", "recommend": "TUTOR_REC_",
    "placement": "TUTOR_PLACEMENT_", "answering": "TUTOR_", "catalog": "TUTOR_CATALOG_", "privacy": "TUTOR_",
    "pages": "TUTOR_PAGES_",
}
SHARED = {  # a setting two sections need, under the one name people already use
    ("recommend", "mastery_threshold"): "TUTOR_MASTERY_THRESHOLD",
    ("placement", "difficulty_slope"): "TUTOR_REC_DIFFICULTY_SLOPE",
}


def _environment_table() -> dict[str, tuple[tuple[str, str], ...]]:
    table: dict[str, list[tuple[str, str]]] = {}
    for section, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name in model.model_fields:
            variable = SHARED.get((section, name), f"{PREFIXES[section]}{name.upper()}")
            table.setdefault(variable, []).append((section, name))
    return {variable: tuple(places) for variable, places in table.items()}


ENVIRONMENT = _environment_table()
VARIABLE_OF = {place: variable for variable, places in ENVIRONMENT.items() for place in places}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the environment variable."""


class FlatEnvironment(PydanticBaseSettingsSource):
    """Reads the documented flat names (TUTOR_DATABASE_URL, TUTOR_REC_ZPD_LOW …) into the sections."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, str]] = {}
        for variable, places in ENVIRONMENT.items():
            raw = os.environ.get(variable)
            if raw is None or raw == "":
                continue
            for section, name in places:
                values.setdefault(section, {})[name] = raw
        return values


def _explain(exc: ValidationError) -> SettingsError:
    lines = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        if len(loc) >= 2 and (loc[0], loc[1]) in VARIABLE_OF:
            where = VARIABLE_OF[(loc[0], loc[1])]
        elif loc and loc[0] in PREFIXES:
            where = f"{PREFIXES[loc[0]]}* ({loc[0]})"
        else:
            where = ".".join(loc) or "settings"
        shown = f" (got {error['input']!r})" if isinstance(error.get("input"), str | int | float) else ""
        lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}{shown}")
    return SettingsError("cannot start with these settings:\n  " + "\n  ".join(lines))


def _kept_secret(var_dir: Path, name: str = "pseudonym-secret") -> str:
    """A random key (pseudonyms, session cookies) for the embedded default, made once and kept beside the database."""
    path = var_dir / name
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(**sections: Mapping[str, Any]) -> Settings:
    """Parse the environment (and any section overrides) once; raise SettingsError naming the variable."""
    try:
        overrides: dict[str, Any] = dict(sections)  # Any: Settings() also takes pydantic-settings' own _options as keywords
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise _explain(exc) from None
    if settings.privacy.pseudonym_secret is None:
        privacy = settings.privacy.model_copy(update={"pseudonym_secret": SecretStr(_kept_secret(settings.service.var_dir))})
        settings = settings.model_copy(update={"privacy": privacy})
    if settings.pages.session_secret is None:
        pages = settings.pages.model_copy(update={"session_secret": SecretStr(_kept_secret(settings.service.var_dir, "session-secret"))})
        settings = settings.model_copy(update={"pages": pages})
    return settings


def _shown_default(value: object) -> str:
    if value is None or value == {}:
        return "unset"
    if isinstance(value, Path):
        return f"`{value.relative_to(PROJECT_ROOT)}/`" if value.is_relative_to(PROJECT_ROOT) else f"`{value}`"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def configuration_table() -> str:
    """The README's configuration table, made from the sections themselves (a test keeps the README equal to it)."""
    rows = ["| variable | section.field | default | meaning |", "|---|---|---|---|"]
    for variable, places in ENVIRONMENT.items():
        section, name = places[0]
        model = Settings.model_fields[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        info = model.model_fields[name]
        default = info.get_default(call_default_factory=True)
        shared = " Also " + ", ".join(f"`{s}.{f}`" for s, f in places[1:]) + "." if len(places) > 1 else ""
        rows.append(f"| `{variable}` | `{section}.{name}` | {_shown_default(default)} | {info.description or ''}{shared} |")
    return "\n".join(rows)
