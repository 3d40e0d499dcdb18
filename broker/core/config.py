"""Faucon configuration: one frozen, typed object.

Values come, highest priority first, from ``FAUCON_...`` environment
variables (nested with ``__``, e.g. ``FAUCON_KAFKA__BOOTSTRAP``), a ``.env``
file in the working directory, a TOML file named by ``FAUCON_CONFIG_FILE``,
then the defaults below.  Every field is documented in ``.env.example``.

Examples
--------
>>> from broker.core.config import load_settings
>>> s = load_settings()
>>> s.quality.min_reliability >= 0.0
True
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from broker.core.config_anomaly import AnomalySettings, InferenceSettings
from broker.core.config_crossmatch import CrossmatchSettings
from broker.core.config_filters import FilterSettings
from broker.core.config_portal import PortalSettings
from broker.core.config_services import KafkaSettings, SparkSettings
from broker.core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


def project_path(value: str | Path) -> Path:
    """Absolute path of a configured folder: ``~`` expanded, relative to the project folder.

    Spark executors and services run in other working directories, so every
    folder Faucon reads is made absolute once, when the settings are loaded.

    Examples
    --------
    >>> project_path("schemas") == REPO_ROOT / "schemas"
    True
    """
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


class QualitySettings(BaseModel):
    """Quality cuts applied before enrichment; failing alerts are counted and dead-lettered."""

    model_config = _FROZEN
    min_reliability: float = Field(
        0.0, ge=0.0, le=1.0, description="minimum real/bogus reliability score, unitless 0..1"
    )
    require_positive: bool = Field(
        False, description="reject negative difference detections (flux below template)"
    )
    max_flux_err_ratio: float = Field(
        0.0, ge=0.0, description="reject if flux_err/|flux| above this, unitless; 0 disables"
    )


class LimitsSettings(BaseModel):
    """Limits that keep bad or excessive input from exhausting memory or disk."""

    model_config = _FROZEN
    max_decoded_block_mib: int = Field(
        64, ge=1, description="largest decompressed Avro block of one message, MiB"
    )
    archive_min_free_gib: float = Field(
        1.0, ge=0.0, description="the archive refuses to write below this free disk space, GiB"
    )


class Settings(BaseSettings):
    """All of Faucon's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="FAUCON_",
        env_nested_delimiter="__",
        env_file=".env",
        # An empty value means the default (a copied .env.example is the defaults).
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    state_dir: Path = Field(
        REPO_ROOT / ".state", description="runtime state: Kafka data, checkpoints, stats, logs"
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "faucon", description="downloaded jars (outside git)"
    )
    schemas_dir: Path = Field(REPO_ROOT / "schemas", description="versioned Avro schemas")
    models_dir: Path = Field(
        REPO_ROOT / "classifiers" / "models",
        description="model registry (NAME/VERSION/model.onnx + manifest, PROMOTED per name)",
    )
    archive_dir: Path | None = Field(
        None, description="Parquet archive of enriched alerts; empty: <state_dir>/archive"
    )
    metrics_port: int = Field(
        9500, ge=0, le=65535, description="Prometheus /metrics port of the stream; 0 disables"
    )
    metrics_addr: str = Field("127.0.0.1", description="address the metrics server binds")
    log_format: str = Field("text", pattern="^(text|json)$", description="text or json logs")
    kafka: KafkaSettings = KafkaSettings()  # type: ignore[call-arg]
    spark: SparkSettings = SparkSettings()  # type: ignore[call-arg]
    quality: QualitySettings = QualitySettings()  # type: ignore[call-arg]
    filters: FilterSettings = FilterSettings()
    crossmatch: CrossmatchSettings = CrossmatchSettings()
    limits: LimitsSettings = LimitsSettings()  # type: ignore[call-arg]
    anomaly: AnomalySettings = AnomalySettings()
    inference: InferenceSettings = InferenceSettings()
    portal: PortalSettings = PortalSettings()  # type: ignore[call-arg]

    @field_validator("archive_dir", mode="before")
    @classmethod
    def _empty_archive(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @field_validator("state_dir", "cache_dir", "schemas_dir", "models_dir", "archive_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """``~`` is the home folder; a relative folder is relative to the project folder."""
        return None if value is None else project_path(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        toml_file = os.environ.get("FAUCON_CONFIG_FILE")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_file)))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Load and validate the configuration.

    Parameters
    ----------
    **overrides
        Values that win over every source (used by tests and the CLI).

    Returns
    -------
    Settings
        The frozen configuration.

    Raises
    ------
    ConfigError
        When a value is invalid; the message names the setting.

    Examples
    --------
    >>> load_settings(kafka={"bootstrap": "127.0.0.1:9999"}).kafka.bootstrap
    '127.0.0.1:9999'
    """
    toml_file = os.environ.get("FAUCON_CONFIG_FILE")
    if toml_file and not Path(toml_file).is_file():
        raise ConfigError(f"FAUCON_CONFIG_FILE={toml_file} does not exist; fix or unset it")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"invalid Faucon configuration ({problems}); see .env.example for each setting"
        ) from exc


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Return the process-wide settings, loaded once."""
    return load_settings()


def env_example() -> str:
    """Text of ``.env.example``: every setting with its description and default.

    Examples
    --------
    >>> "FAUCON_KAFKA__BOOTSTRAP=127.0.0.1:9092" in env_example()
    True
    """
    lines = [
        "# Faucon configuration. Copy to .env (or export the variables) and edit.",
        "# Nested settings use a double underscore: FAUCON_<SECTION>__<FIELD>.",
        '# An empty value means the default; lists are JSON (e.g. ["gaia"]); relative',
        "# folders are relative to the project folder and ~ is the home folder.",
        "# A TOML file with the same structure can be named by FAUCON_CONFIG_FILE.",
        "# Generated by `python -m broker.core.config`; tests check it is up to date.",
        "",
    ]

    def emit(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                lines.append(f"# --- {name} ---")
                emit(annotation, f"{prefix}{name.upper()}__")
                lines.append("")
                continue
            default = info.default
            if isinstance(default, Path):
                default = (
                    default.relative_to(REPO_ROOT)
                    if default.is_relative_to(REPO_ROOT)
                    else str(default).replace(str(Path.home()), "~")
                )
            if isinstance(default, (tuple, list)):
                default = json.dumps(list(default))
            if default is None:
                default = ""
            lines.append(f"# {info.description or name}")
            lines.append(f"{prefix}{name.upper()}={default}")

    emit(Settings, "FAUCON_")
    compose = REPO_ROOT / "deploy" / "compose" / "compose.env"
    if compose.is_file():
        lines += ["", compose.read_text().rstrip()]
    return "\n".join(lines).rstrip() + "\n"


def filter_settings(settings: Any = None) -> FilterSettings:
    """The filter settings of ``settings`` (the process settings when None).

    Works whether ``settings.filters`` is this model or an older one with a
    subset of its fields (defaults fill the rest).

    Examples
    --------
    >>> from broker.core.config import load_settings
    >>> filter_settings(load_settings()).fast_riser_min_rate_mag_per_day
    0.5
    """
    if settings is None:
        settings = _process_settings()
    found = getattr(settings, "filters", None)
    if isinstance(found, FilterSettings):
        return found
    if isinstance(found, BaseModel):
        known = FilterSettings.model_fields
        fields = {k: v for k, v in found.model_dump().items() if k in known}
        return FilterSettings(**fields)
    return FilterSettings()


_process_settings = settings


if __name__ == "__main__":
    print(env_example(), end="")
