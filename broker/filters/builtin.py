"""Built-in science filters, registered at the stream's first start and managed like any other.

Thresholds come from :class:`broker.core.config_filters.FilterSettings` (with
units); none is a literal in the pipeline.  Filters whose inputs are not
columns of the current filter view (e.g. ``scores`` or ``context`` before
alert schema 1.1) are left out until the schema has them
(:func:`broker.registry.builtins.builtin_filters`).

Examples
--------
>>> from broker.core.config import load_settings
>>> [f.name for f in all_builtin_filters(load_settings())][:3]
['bright_transient', 'new_object', 'known_solar_system']
"""

from __future__ import annotations

from typing import Any

from broker.core.config import filter_settings
from broker.core.config_filters import FilterSettings
from broker.core.errors import ConfigError
from broker.filters.base import FilterSpec

SCIENCE_MODULE = "broker.filters.science"


def detections(where: str) -> str:
    """SQL array of the history's positive detections meeting ``where`` (lambda var ``h``).

    Examples
    --------
    >>> detections("h.band = band")[:40]
    "filter(history, h -> h.kind = 'detection"
    """
    return (
        "filter(history, h -> h.kind = 'detection' AND h.flux_njy > 0 AND h.mag IS NOT NULL "
        f"AND {where})"
    )


def _young(days: float) -> str:
    return f"(mjd_tai - first_detection_mjd_tai) <= {days}"


def _sql(name: str, expression: str, inputs: str, profile: str, description: str) -> FilterSpec:
    return FilterSpec(
        name=name,
        kind="sql",
        expression=expression,
        inputs=tuple(sorted(inputs.split())),
        profile=profile,  # type: ignore[arg-type]
        description=description,
        builtin=True,
    )


def _original(fs: FilterSettings) -> list[FilterSpec]:
    return [
        _sql(
            "bright_transient",
            f"is_positive AND mag < {fs.bright_mag} "
            f"AND coalesce(reliability, 0) >= {fs.bright_min_reliability}",
            "is_positive mag reliability",
            "lite",
            f"Positive difference detection brighter than {fs.bright_mag} mag (AB) with "
            f"reliability >= {fs.bright_min_reliability}",
        ),
        _sql(
            "new_object",
            "is_positive AND n_detections = 1 "
            f"AND (mjd_tai - coalesce(first_detection_mjd_tai, mjd_tai)) * 24 <= "
            f"{fs.new_object_max_age_hours} "
            f"AND (ss_name IS NULL OR ss_distance_arcsec > {fs.solar_system_max_arcsec})",
            "is_positive n_detections mjd_tai first_detection_mjd_tai ss_name ss_distance_arcsec",
            "full",
            "First detection of an object (no earlier detection in the packet nor in the "
            "survey's history), not a known solar-system object",
        ),
        _sql(
            "known_solar_system",
            f"ss_name IS NOT NULL AND ss_distance_arcsec <= {fs.solar_system_max_arcsec}",
            "ss_name ss_distance_arcsec",
            "thin",
            f"Detection within {fs.solar_system_max_arcsec} arcsec of a known solar-system object",
        ),
    ]


def _photometric(fs: FilterSettings) -> list[FilterSpec]:
    before = detections(
        f"h.band = band AND h.mjd_tai <= mjd_tai - {fs.fast_riser_min_interval_hours} / 24.0D"
    )
    same_band = detections("h.band = band")
    other = detections(
        "h.band = (CASE WHEN band = 'g' THEN 'r' ELSE 'g' END) "
        f"AND mjd_tai - h.mjd_tai <= {fs.colour_max_interval_days}"
    )
    return [
        _sql(
            "fast_riser",
            f"is_positive AND (element_at({before}, -1).mag - mag) / "
            f"(mjd_tai - element_at({before}, -1).mjd_tai) >= {fs.fast_riser_min_rate_mag_per_day}",
            "is_positive mag mjd_tai band history",
            "full",
            f"Positive detection brighter than the previous positive detection in the same band "
            f"(at least {fs.fast_riser_min_interval_hours} h earlier) by at least "
            f"{fs.fast_riser_min_rate_mag_per_day} mag/day",
        ),
        _sql(
            "red_transient",
            "is_positive AND band IN ('g', 'r') AND (CASE WHEN band = 'g' "
            f"THEN mag - element_at({other}, -1).mag ELSE element_at({other}, -1).mag - mag END)"
            f" >= {fs.red_min_g_minus_r}",
            "is_positive band mag mjd_tai history",
            "lite",
            f"Positive detection with g-r >= {fs.red_min_g_minus_r} mag, from this detection and "
            f"the latest positive detection in the other band (g or r) at most "
            f"{fs.colour_max_interval_days} days earlier",
        ),
        _sql(
            "nuclear_transient",
            f"is_positive AND ref_distance_arcsec >= 0 AND ref_distance_arcsec < "
            f"{fs.nuclear_max_distance_arcsec} AND ps1_distance_arcsec >= 0 AND "
            f"ps1_distance_arcsec < {fs.nuclear_max_ps1_distance_arcsec} AND ps1_sgscore >= 0 "
            f"AND ps1_sgscore < {fs.nuclear_max_sgscore}",
            "is_positive ref_distance_arcsec ps1_distance_arcsec ps1_sgscore",
            "lite",
            f"ZTF positive detection in a galaxy core: within {fs.nuclear_max_distance_arcsec} "
            f"arcsec of the reference-image source, whose PS1 counterpart (within "
            f"{fs.nuclear_max_ps1_distance_arcsec} arcsec) has star/galaxy score < "
            f"{fs.nuclear_max_sgscore}",
        ),
        _sql(
            "rubin_high_snr_new",
            f"survey = 'LSST' AND is_positive AND snr >= {fs.rubin_min_snr} "
            f"AND {_young(fs.rubin_new_max_age_days)} "
            f"AND (ss_name IS NULL OR ss_distance_arcsec > {fs.solar_system_max_arcsec})",
            "survey is_positive snr mjd_tai first_detection_mjd_tai ss_name ss_distance_arcsec",
            "lite",
            f"Rubin positive detection with S/N >= {fs.rubin_min_snr} of an object first "
            f"detected at most {fs.rubin_new_max_age_days} days earlier, not a known "
            "solar-system object",
        ),
        _sql(
            "variable_star_outburst",
            f"context = 'variable_star' AND is_positive AND element_at({same_band}, -1).mag - mag"
            f" >= {fs.outburst_min_rise_mag}",
            "context is_positive band mag history",
            "thin",
            f"Known variable star (context variable_star) whose positive detection is at least "
            f"{fs.outburst_min_rise_mag} mag brighter than its previous positive detection in "
            "the same band",
        ),
    ]


SNIA_MODELS = ("snia", "snia_ztf")


def snia_thresholds(fs: FilterSettings, models_dir: Any = None) -> dict[str, float]:
    """The Ia probability each SN Ia model must reach in ``early_snia_candidate``.

    ``fs.early_snia_min_probability`` when set, else each promoted model's
    early operating threshold from its manifest (``early_threshold``, chosen for
    the first days of a transient; ``threshold`` for a manifest without one;
    calibrated probability, unitless).
    A model with no promoted version is left out (it writes no score).

    Examples
    --------
    >>> from broker.core.config_filters import FilterSettings
    >>> snia_thresholds(FilterSettings(early_snia_min_probability=0.7))
    {'snia': 0.7, 'snia_ztf': 0.7}
    >>> sorted(snia_thresholds(FilterSettings()))
    ['snia', 'snia_ztf']
    """
    if fs.early_snia_min_probability is not None:
        return dict.fromkeys(SNIA_MODELS, fs.early_snia_min_probability)
    from classifiers.registry import operating_threshold

    found = {}
    for model in SNIA_MODELS:
        try:
            found[model] = operating_threshold(model, models_dir, early=True)
        except ConfigError:
            continue
    return found


def _early_snia(fs: FilterSettings, models_dir: Any) -> FilterSpec:
    cuts = snia_thresholds(fs, models_dir)
    passes = " OR ".join(
        f"coalesce(scores['{m}.Ia'].probability, 0) >= {t}" for m, t in cuts.items()
    )
    where = ", ".join(f"{m}.Ia >= {t}" for m, t in cuts.items()) or "no promoted SN Ia model"
    source = "settings" if fs.early_snia_min_probability is not None else "model manifests"
    return _sql(
        "early_snia_candidate",
        f"is_positive AND {_young(fs.early_snia_max_age_days)} AND ({passes or 'false'})",
        "is_positive mjd_tai first_detection_mjd_tai scores",
        "full",
        f"Young (first detection at most {fs.early_snia_max_age_days} days earlier) positive "
        f"detection with SN Ia probability at the operating threshold: {where} "
        f"(thresholds from the {source})",
    )


def _contextual(fs: FilterSettings, models_dir: Any = None) -> list[FilterSpec]:
    return [
        _early_snia(fs, models_dir),
        _sql(
            "new_hostless_transient",
            f"context = 'hostless' AND is_positive AND {_young(fs.hostless_max_age_days)}",
            "context is_positive mjd_tai first_detection_mjd_tai",
            "lite",
            f"Positive detection with no host (context hostless) of an object first detected "
            f"at most {fs.hostless_max_age_days} days earlier",
        ),
        _sql(
            "yso_flare",
            f"context = 'young_stellar_object' AND is_positive AND snr >= {fs.flare_min_snr}",
            "context is_positive snr",
            "thin",
            f"Young stellar object (context young_stellar_object) brighter than its template, "
            f"S/N >= {fs.flare_min_snr}",
        ),
        _sql(
            "blazar_flare",
            f"context = 'agn_blazar' AND is_positive AND snr >= {fs.flare_min_snr}",
            "context is_positive snr",
            "thin",
            f"Blazar (context agn_blazar: 4LAC or 3HSP) brighter than its template, "
            f"S/N >= {fs.flare_min_snr}",
        ),
    ]


def _anomaly(fs: FilterSettings) -> FilterSpec:
    """The night's most unusual alerts (docs/anomaly.md)."""
    if fs.anomaly_min_score is None:
        where = "anomaly.score >= anomaly.threshold"
        cut = (
            "at or above the threshold of the model that scored it (its manifest: the top "
            "anomaly.top_fraction of the model's training nights)"
        )
    else:
        where = f"anomaly.score >= {fs.anomaly_min_score}"
        cut = f"at least {fs.anomaly_min_score} (settings)"
    return _sql(
        "anomaly",
        where,
        "anomaly",
        "full",
        f"Alert whose light curve the survey's anomaly model finds unusual: anomaly score {cut}",
    )


def _python(fs: FilterSettings) -> list[FilterSpec]:
    from broker.filters.python import declared

    ref = f"{SCIENCE_MODULE}:rising_in_two_bands"
    inputs, _generic = declared(ref)
    return [
        FilterSpec(
            name="rising_in_two_bands",
            kind="python",
            expression=ref,
            inputs=inputs,
            profile="lite",
            description=(
                "Positive detection of an object rising in at least two bands: in each, the "
                f"latest positive detection (at most {fs.rising_max_age_days} days old) is at "
                f"least {fs.rising_min_rise_mag} mag brighter than the previous one in that band"
            ),
            builtin=True,
        )
    ]


def all_builtin_filters(settings: Any = None) -> list[FilterSpec]:
    """Every built-in filter, whatever the current schema."""
    fs = filter_settings(settings)
    models_dir = getattr(settings, "models_dir", None)
    return [
        *_original(fs),
        *_photometric(fs),
        *_contextual(fs, models_dir),
        _anomaly(fs),
        *_python(fs),
    ]
