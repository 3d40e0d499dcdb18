"""Observing cadence and depth of the target surveys, for survey-matched training curves.

:func:`sample_epochs` draws epochs, bands and 5-sigma limiting magnitudes
(AB) for a span of days, night by night:

* **ZTF** - measured on the real ZTF alerts of ``/work/shared/data/ztf``
  (1,454 alerts: candidate + ``prv_candidates``, which include non-detections
  with their ``diffmaglim``) by :func:`summarise_ztf_alerts`, stored in
  ``cadence_ztf.json``: the distribution of gaps between observed nights
  (median 2 nights), which bands a night holds (g+r 75 %, r only 15 %, g only
  10 %) and the per-band ``diffmaglim`` quantiles (median g 20.3, r 20.2 mag).
  ZTF alerts carry 30 days of history (:data:`HISTORY_DAYS`).
* **LSST** - the Rubin alerts in ``/work/shared/data/lsst`` carry almost no
  history (commissioning), so the wide-fast-deep design is used: a field is
  revisited every 1-7 nights (median ~3), two visits in two bands per night,
  band shares u 7 / g 9 / r 22 / i 22 / z 20 / y 20 % and single-visit median
  depths u 23.9, g 25.0, r 24.7, i 24.0, z 23.3, y 22.1 mag with 0.5 mag
  scatter (Ivezic et al. 2019, ApJ 873, 111, table 1 and section 3.1), plus a
  seasonal gap (fields are observable ~6 months a year).

Examples
--------
>>> import numpy as np
>>> t, b, lim = sample_epochs("ZTF", np.random.default_rng(0), 0.0, 30.0)
>>> bool(set(b.tolist()) <= {"g", "r"}), bool(np.all(np.diff(t) >= 0)), bool(15 < lim.mean() < 22)
(True, True, True)
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from broker.core.errors import ConfigError

ZTF_FILE = Path(__file__).resolve().parent / "cadence_ztf.json"
HISTORY_DAYS = {"ZTF": 30.0, "LSST": 365.0}
LSST_BANDS = ("u", "g", "r", "i", "z", "y")
LSST_SHARE = (0.07, 0.09, 0.22, 0.22, 0.20, 0.20)
LSST_DEPTH_MAG = {"u": 23.9, "g": 25.0, "r": 24.7, "i": 24.0, "z": 23.3, "y": 22.1}
LSST_DEPTH_SCATTER_MAG = 0.5
LSST_GAP_NIGHTS = (1, 2, 3, 4, 5, 7, 10, 15)
LSST_GAP_WEIGHTS = (0.15, 0.2, 0.2, 0.15, 0.1, 0.1, 0.06, 0.04)
LSST_SEASON_DAYS = 180.0
_FID = {1: "g", 2: "r", 3: "i"}


@lru_cache(maxsize=1)
def ztf_stats() -> dict[str, Any]:
    """The ZTF cadence summary (``cadence_ztf.json``)."""
    try:
        stats: dict[str, Any] = json.loads(ZTF_FILE.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the ZTF cadence summary {ZTF_FILE}: {exc}") from exc
    return stats


def sample_epochs(
    survey: str, rng: np.random.Generator, start: float, end: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs (days), canonical bands and 5-sigma limiting AB magnitudes in ``[start, end]``.

    Parameters
    ----------
    survey
        ``"ZTF"`` or ``"LSST"``.
    rng
        Random generator.
    start, end
        Time span, days (any origin).
    """
    times: list[float] = []
    bands: list[str] = []
    if survey == "ZTF":
        st = ztf_stats()
        gaps, gap_p = np.asarray(st["gap_nights"]), np.asarray(st["gap_prob"])
        sets, set_p = st["night_bands"], np.asarray(st["night_band_prob"])
        night = start + rng.uniform(0.0, 2.0)
        while night <= end:
            for band in sets[int(rng.choice(len(sets), p=set_p))]:
                times.append(night + rng.uniform(0.0, 0.25))
                bands.append(band)
            night += float(rng.choice(gaps, p=gap_p))
        b = np.asarray(bands, dtype="<U1")
        lim = np.zeros(b.size)
        for band, q in st["limmag_quantiles"].items():
            sel = b == band
            lim[sel] = np.interp(rng.uniform(0, 1, sel.sum()), np.linspace(0, 1, len(q)), q)
    elif survey == "LSST":
        season0 = rng.uniform(-LSST_SEASON_DAYS, 365.0 - LSST_SEASON_DAYS)
        night = start + rng.uniform(0.0, 3.0)
        w = np.asarray(LSST_GAP_WEIGHTS) / sum(LSST_GAP_WEIGHTS)
        while night <= end:
            if (night - start - season0) % 365.0 < LSST_SEASON_DAYS:
                pair = rng.choice(len(LSST_BANDS), size=2, replace=False, p=LSST_SHARE)
                for k, j in enumerate(pair):
                    times.append(night + 0.02 * k + rng.uniform(0.0, 0.2))
                    bands.append(LSST_BANDS[int(j)])
            night += float(rng.choice(LSST_GAP_NIGHTS, p=w))
        b = np.asarray(bands, dtype="<U1")
        depth = np.array([LSST_DEPTH_MAG[x] for x in bands]) if bands else np.zeros(0)
        lim = depth + rng.normal(0.0, LSST_DEPTH_SCATTER_MAG, b.size)
    else:
        raise ConfigError(f"unknown survey {survey!r} for cadence simulation; use ZTF or LSST")
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    return t[order], b[order], lim[order]


def summarise_ztf_alerts(alert_dir: str | Path, out: Path = ZTF_FILE) -> dict[str, Any]:
    """Measure the ZTF cadence summary on a directory of ZTF alert Avro files.

    Each alert (candidate plus ``prv_candidates``) gives its observed nights
    (gaps between consecutive nights, bands per night) and limiting magnitudes.
    """
    import fastavro

    gaps: Counter[int] = Counter()
    night_sets: Counter[str] = Counter()
    lims: dict[str, list[float]] = {"g": [], "r": []}
    n_alerts = 0
    for file in sorted(Path(alert_dir).rglob("*.avro")):
        with file.open("rb") as handle:
            for rec in fastavro.reader(handle):
                alert: dict[str, Any] = rec  # type: ignore[assignment]
                points = [alert["candidate"], *(alert.get("prv_candidates") or [])]
                nights: dict[int, set[str]] = {}
                for p in points:
                    band = _FID.get(p.get("fid"))
                    if band in lims and p.get("diffmaglim") is not None:
                        nights.setdefault(int(p["jd"] - 0.2), set()).add(band)
                        lims[band].append(float(p["diffmaglim"]))
                keys = sorted(nights)
                gaps.update(int(g) for g in np.diff(keys) if 0 < g <= 30)
                night_sets.update("".join(sorted(nights[k])) for k in keys)
                n_alerts += 1
                break  # one alert per file
    total = sum(gaps.values())
    sets = sorted(night_sets)
    stats = {
        "source": str(alert_dir),
        "n_alerts": n_alerts,
        "gap_nights": sorted(gaps),
        "gap_prob": [gaps[g] / total for g in sorted(gaps)],
        "night_bands": sets,
        "night_band_prob": [night_sets[s] / sum(night_sets.values()) for s in sets],
        "limmag_quantiles": {
            b: [round(float(x), 3) for x in np.quantile(v, np.linspace(0, 1, 21))]
            for b, v in lims.items()
        },
    }
    out.write_text(json.dumps(stats, indent=1) + "\n")
    ztf_stats.cache_clear()
    return stats
