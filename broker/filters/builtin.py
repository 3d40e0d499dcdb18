"""Built-in science filters, shipped as examples and for the demo.

Thresholds come from :class:`broker.config.FilterSettings` (with units);
none is a literal in the pipeline.

Examples
--------
>>> from broker.config import load_settings
>>> [f.name for f in builtin_filters(load_settings())][:3]
['bright_transient', 'new_object', 'known_solar_system']
"""

from __future__ import annotations

from broker.config import Settings
from broker.filters.base import FilterSpec


def builtin_filters(settings: Settings) -> list[FilterSpec]:
    """The built-in filters with thresholds from ``settings.filters``."""
    fs = settings.filters
    return [
        FilterSpec(
            name="bright_transient",
            kind="sql",
            expression=(
                f"is_positive AND mag < {fs.bright_mag} "
                f"AND coalesce(reliability, 0) >= {fs.bright_min_reliability}"
            ),
            profile="lite",
            description=(
                f"Positive difference detection brighter than {fs.bright_mag} mag (AB) with "
                f"reliability >= {fs.bright_min_reliability}"
            ),
            builtin=True,
        ),
        FilterSpec(
            name="new_object",
            kind="sql",
            expression=(
                "is_positive AND n_detections = 1 "
                f"AND (mjd_tai - coalesce(first_detection_mjd_tai, mjd_tai)) * 24 < "
                f"{fs.new_object_max_age_hours} "
                f"AND (ss_name IS NULL OR ss_distance_arcsec > {fs.solar_system_max_arcsec})"
            ),
            profile="full",
            description=(
                "First detection of an object (no earlier detection in the packet nor in the "
                "survey's history), not a known solar-system object"
            ),
            builtin=True,
        ),
        FilterSpec(
            name="known_solar_system",
            kind="sql",
            expression=(
                f"ss_name IS NOT NULL AND ss_distance_arcsec <= {fs.solar_system_max_arcsec}"
            ),
            profile="thin",
            description=(
                f"Detection within {fs.solar_system_max_arcsec} arcsec of a known solar-system "
                "object"
            ),
            builtin=True,
        ),
    ]
