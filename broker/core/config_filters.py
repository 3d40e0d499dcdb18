"""Settings of the filters: built-in thresholds (with units) and runtime limits.

Mounted in :class:`broker.core.config.Settings` as ``filters`` (environment
``FAUCON_FILTERS__<FIELD>``).  Until then, :func:`broker.core.config.filter_settings` builds this
model from whatever ``settings.filters`` holds, defaults for the rest.

Examples
--------
>>> s = FilterSettings()
>>> s.bright_mag, s.python_budget_s_per_batch
(18.5, 5.0)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FilterSettings(BaseModel):
    """Thresholds of the built-in filters (units in each description) and filter runtime."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- built-in thresholds ---
    bright_mag: float = Field(
        default=18.5, description="bright transient: AB magnitude brighter than this"
    )
    bright_min_reliability: float = Field(
        default=0.5, ge=0.0, le=1.0, description="bright transient: minimum reliability, unitless"
    )
    new_object_max_age_hours: float = Field(
        default=1.0, gt=0, description="new object: first survey detection at most this old, hours"
    )
    solar_system_max_arcsec: float = Field(
        default=5.0, gt=0, description="known solar-system object: max distance, arcsec"
    )
    fast_riser_min_rate_mag_per_day: float = Field(
        default=0.5, gt=0, description="fast riser: minimum brightening rate, magnitudes per day"
    )
    fast_riser_min_interval_hours: float = Field(
        default=0.5,
        ge=0,
        description="fast riser: earlier detection at least this long before, hours",
    )
    early_snia_min_probability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "early SN Ia: minimum Ia probability, unitless; None (default) = each promoted "
            "model's early operating threshold from its manifest (early_threshold, else "
            "threshold; snia, snia_ztf)"
        ),
    )
    early_snia_max_age_days: float = Field(
        default=10.0, gt=0, description="early SN Ia: first detection at most this old, days"
    )
    hostless_max_age_days: float = Field(
        default=30.0,
        gt=0,
        description="new hostless transient: first detection at most this old, days",
    )
    nuclear_max_distance_arcsec: float = Field(
        default=0.6,
        gt=0,
        description="nuclear transient: max distance to the reference source, arcsec",
    )
    nuclear_max_ps1_distance_arcsec: float = Field(
        default=1.0,
        gt=0,
        description="nuclear transient: max distance to the PS1 counterpart, arcsec",
    )
    nuclear_max_sgscore: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="nuclear transient: PS1 star/galaxy score below, unitless",
    )
    outburst_min_rise_mag: float = Field(
        default=0.5,
        gt=0,
        description="variable-star outburst: brightening since the previous detection, magnitudes",
    )
    flare_min_snr: float = Field(
        default=5.0,
        gt=0,
        description="YSO and blazar flares: minimum signal-to-noise ratio, unitless",
    )
    rubin_min_snr: float = Field(
        default=10.0,
        gt=0,
        description="Rubin high-S/N new source: minimum signal-to-noise, unitless",
    )
    rubin_new_max_age_days: float = Field(
        default=3.0,
        gt=0,
        description="Rubin high-S/N new source: first detection at most this old, days",
    )
    red_min_g_minus_r: float = Field(
        default=0.7,
        description="red transient: minimum g-r colour of the difference fluxes, magnitudes",
    )
    colour_max_interval_days: float = Field(
        default=1.0,
        gt=0,
        description="red transient: g and r detections at most this far apart, days",
    )
    rising_min_rise_mag: float = Field(
        default=0.2, gt=0, description="rising in two bands: brightening per band, magnitudes"
    )
    rising_max_age_days: float = Field(
        default=5.0,
        gt=0,
        description="rising in two bands: latest detection per band at most this old, days",
    )

    anomaly_min_score: float | None = Field(
        default=None,
        description=(
            "anomaly: minimum anomaly score, score units; None (default) = the threshold of "
            "the anomaly model that scored the alert (its manifest: the top "
            "anomaly.top_fraction of its training nights)"
        ),
    )

    # --- runtime ---
    registry_refresh_s: float = Field(
        default=0.5,
        ge=0,
        description="the stream re-reads the filter registry at most this often, s",
    )
    register_builtins: bool = Field(
        default=True, description="register the built-in filters at first start (then manage them)"
    )
    python_budget_s_per_batch: float = Field(
        default=5.0,
        gt=0,
        description="time one Python filter may take per Arrow batch before quarantine, seconds",
    )
    backtest_examples: int = Field(
        default=5, ge=0, description="passing alerts shown by `faucon filter test`"
    )
