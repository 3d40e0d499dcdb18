"""Where the archive keeps things, and what a night is.

Night = Rubin's ``dayObs``: the UTC date of the observation shifted by -12 h,
so a night runs from 12:00 UTC to 12:00 UTC the next day.  ``mjd_tai`` is
converted to UTC first (TAI-UTC = 37 s since 2017, 36 s before, as in
:mod:`broker.pipeline.normalize`).

Layout under the archive root (``settings.archive_dir``, else ``<state_dir>/archive``)::

    survey=<S>/night=<N>/part-*.parquet     the alerts
    followup/night=<N>/part-*.parquet       active-learning follow-up targets
    _manifests/night=<N>/archive-run.json   what the archive job read and wrote
    _manifests/night=<N>/manifest.json      counts, offsets, files, verification
    _tmp/                                   work directories (swapped in, then removed)

Examples
--------
>>> night_of(60235.3)  # 2023-10-18T07:12 TAI: before noon UTC, so the night of the 17th
'2023-10-17'
>>> night_bounds_ms("2023-10-17")[0]
1697544000000
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from broker.core.config import Settings
from broker.core.errors import ConfigError, InfrastructureError

MJD_EPOCH = dt.date(1858, 11, 17)


def archive_root(settings: Settings) -> Path:
    """Root of the archive: ``settings.archive_dir`` when set, else ``<state_dir>/archive``."""
    configured = getattr(settings, "archive_dir", None)
    return Path(configured) if configured else settings.state_dir / "archive"


def check_night(night: str) -> str:
    """Return ``night`` if it is a ``YYYY-MM-DD`` date, else raise :class:`ConfigError`."""
    try:
        return dt.date.fromisoformat(night).isoformat()
    except (TypeError, ValueError):
        raise ConfigError(f"night {night!r} is not a date YYYY-MM-DD (Rubin dayObs)") from None


def tai_minus_utc_days(mjd_tai: float) -> float:
    """TAI-UTC in days: 37 s since 2017-01-01 (MJD 57754), 36 s before (as in normalize)."""
    return (37.0 if mjd_tai >= 57754.0 else 36.0) / 86400.0


def night_of(mjd_tai: float) -> str:
    """Night (Rubin dayObs) of an observation: UTC date of ``mjd_tai`` shifted by -12 h."""
    utc = mjd_tai - tai_minus_utc_days(mjd_tai)
    return (MJD_EPOCH + dt.timedelta(days=int((utc - 0.5) // 1))).isoformat()


def night_bounds_ms(night: str) -> tuple[int, int]:
    """Start and end of a night, ms since the Unix epoch (12:00 UTC to 12:00 UTC)."""
    day = dt.date.fromisoformat(check_night(night))
    start = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
    return int(start.timestamp() * 1000), int((start + dt.timedelta(days=1)).timestamp() * 1000)


def night_dirs(settings: Settings, night: str) -> dict[str, Path]:
    """Existing ``survey=<S>/night=<N>`` directories of a night, by survey."""
    root = archive_root(settings)
    found = sorted(root.glob(f"survey=*/night={check_night(night)}")) if root.is_dir() else []
    return {p.parent.name.split("=", 1)[1]: p for p in found if p.is_dir()}


def meta_dir(settings: Settings, night: str) -> Path:
    """Where a night's run record and manifest live (``_manifests/night=<N>/``)."""
    return archive_root(settings) / "_manifests" / f"night={check_night(night)}"


def check_free_space(settings: Settings, night: str) -> float:
    """Refuse to archive when the archive's disk is below ``limits.archive_min_free_gib``.

    Nothing is lost: the night stays in Kafka (retention) and the archive
    manifest is not written, so a later run, once space is freed, archives
    the same offsets.  Returns the free space in GiB.

    Raises
    ------
    InfrastructureError
        Naming the folder, the free and required space and what to do.
    """
    root = archive_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free / 2**30
    need = settings.limits.archive_min_free_gib
    if free < need:
        raise InfrastructureError(
            f"archive of night {night} refused: {root} has {free:.2f} GiB free, below "
            f"FAUCON_LIMITS__ARCHIVE_MIN_FREE_GIB={need:g}. Free space (or move "
            "FAUCON_ARCHIVE_DIR), then rerun; the alerts wait in Kafka until its retention "
            "(log.retention.hours) ends"
        )
    return free
