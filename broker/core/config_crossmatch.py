"""Cross-match settings: where operator catalogs live and the context thresholds.

The main configuration (``broker.core.config.Settings``) mounts this model as
``settings.crossmatch``, so every field can be set with
``FAUCON_CROSSMATCH__<FIELD>`` (for example
``FAUCON_CROSSMATCH__SOLAR_SYSTEM_MAX_ARCSEC=3``).  When ``catalogs_dir`` is
not set, the operator catalog directory is ``$FAUCON_CATALOGS_DIR``, else
``<state_dir>/catalogs``.

Examples
--------
>>> from broker.core.config_crossmatch import CrossmatchSettings
>>> CrossmatchSettings().stellar_max_arcsec
1.0
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

#: Context labels, highest priority first (see docs/crossmatch.md).
LABELS: tuple[str, ...] = (
    "solar_system",
    "agn_blazar",
    "young_stellar_object",
    "variable_star",
    "stellar",
    "galaxy_hosted",
    "hostless",
    "unknown",
)

#: Labels a catalog may assign through its ``context`` registry field.
CATALOG_LABELS: tuple[str, ...] = ("agn_blazar", "young_stellar_object", "variable_star")


class CrossmatchSettings(BaseModel):
    """Catalog location and the thresholds of the context rules, with units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    catalogs_dir: Path | None = Field(
        default=None,
        description=(
            "operator catalog directory (catalogs.toml + Parquet files); "
            "default $FAUCON_CATALOGS_DIR, else <state_dir>/catalogs"
        ),
    )
    disabled: tuple[str, ...] = Field(
        default=(), description="catalog names not used for matching (shipped or operator)"
    )
    solar_system_max_arcsec: float = Field(
        default=5.0, gt=0, description="solar_system: known object (ss_name) within this, arcsec"
    )
    stellar_max_arcsec: float = Field(
        default=1.0, gt=0, description="stellar: PS1 or Gaia source within this, arcsec"
    )
    star_min_sgscore: float = Field(
        default=0.5, ge=0, le=1, description="PS1 sgscore at or above this is a star, unitless 0..1"
    )
    galaxy_max_arcsec: float = Field(
        default=5.0,
        gt=0,
        description="galaxy_hosted: PS1 galaxy (sgscore below star) within this, arcsec",
    )
    extended_min: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="galaxy_hosted (Rubin): extendedness at or above this, 0..1",
    )
    hostless_min_arcsec: float = Field(
        default=5.0,
        gt=0,
        description="hostless: no PS1 and no reference source within this, arcsec",
    )
