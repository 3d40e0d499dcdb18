"""Independent oracle of the built-in filters, from the raw survey records.

Raw records are read with fastavro alone (containers with ``fastavro.reader``,
Rubin Confluent wire format with ``schemaless_reader`` and the official
schema), never with Faucon's decoder or normalizer.  Each built-in's
definition (its description in ``broker/filters/builtin.py``) is applied in
plain Python with the thresholds of :class:`FilterSettings`.

Times stay in each survey's own scale (ZTF ``jd``, Rubin MJD TAI): every
definition uses time differences within one alert, which do not depend on
the scale.  The context label and classifier scores are inputs of the
filters, produced by the enrichers; they are taken from the enriched alert.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import load_schema

from broker.core.config_filters import FilterSettings
from classifiers.registry import load_manifest, operating_threshold

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "deploy" / "demo-alerts"
FILES = [
    *sorted((DEMO / "ztf").glob("*.avro")),
    *sorted((DEMO / "lsst").glob("*.avro")),
    *sorted((DEMO / "lsst" / "wire").glob("*.avro")),
]
S = FilterSettings()
Det = tuple[float, str, float]  # time (days), band, mag of a positive detection


@dataclass
class Raw:
    """What the filters read, straight from one raw record."""

    survey: str
    positive: bool
    mag: float  # NaN when unknown
    snr: float | None
    t: float
    band: str
    first: float | None
    n_det: int
    reliability: float | None
    ss_name: str | None
    ss_dist: float | None
    ref_dist: float | None = None
    ps1_dist: float | None = None
    sgscore: float | None = None
    history: list[Det] = field(default_factory=list)  # earlier positive detections
    context: str = "unknown"
    scores: dict[str, Any] = field(default_factory=dict)
    anomaly: dict[str, Any] | None = None


def read_raw(path: Path) -> list[dict[str, Any]]:
    """Raw records of one demo file."""
    data = path.read_bytes()
    if data[:1] != b"\x00":
        return [dict(r) for r in fastavro.reader(io.BytesIO(data))]  # type: ignore[arg-type]
    (sid,) = struct.unpack(">I", data[1:5])
    major, minor = divmod(sid, 100)
    schema = load_schema(
        str(REPO / f"schemas/lsst/{major}/{minor}/lsst.v{major}_{minor}.alert.avsc")
    )
    return [dict(fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, None))]  # type: ignore[arg-type]


def _sentinel(value: Any) -> float | None:
    return None if value is None or not math.isfinite(value) or value <= -999 else float(value)


def _ztf(rec: dict[str, Any]) -> Raw:
    c = rec["candidate"]
    bands = {1: "g", 2: "r", 3: "i"}
    history, dets = [], 0
    for p in rec.get("prv_candidates") or []:
        mag = _sentinel(p.get("magpsf"))
        if p.get("candid") is None or mag is None:
            continue
        dets += 1
        if str(p.get("isdiffpos")).lower() in ("t", "1", "true"):
            history.append((p["jd"], bands.get(p["fid"], "?"), mag))
    start = _sentinel(c.get("jdstarthist"))
    detected = [
        p["jd"]
        for p in rec.get("prv_candidates") or []
        if p.get("candid") is not None and _sentinel(p.get("magpsf")) is not None
    ]
    first = start if start else min(detected, default=None)
    ss = c.get("ssnamenr")
    sigma = c.get("sigmapsf")
    return Raw(
        survey="ZTF",
        positive=str(c["isdiffpos"]).lower() in ("t", "1", "true"),
        mag=c["magpsf"],
        snr=2.5 / (math.log(10) * sigma) if sigma else None,
        t=c["jd"],
        band=bands[c["fid"]],
        first=first,
        n_det=1 + dets,
        reliability=c.get("drb") if c.get("drb") is not None else c.get("rb"),
        ss_name=None if ss in (None, "", "null") else ss,
        ss_dist=_sentinel(c.get("ssdistnr")),
        ref_dist=_sentinel(c.get("distnr")),
        ps1_dist=_sentinel(c.get("distpsnr1")),
        sgscore=_sentinel(c.get("sgscore1")),
        history=history,
    )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _lsst(rec: dict[str, Any]) -> Raw:
    src, obj, ss = rec["diaSource"], rec.get("diaObject") or {}, rec.get("ssSource") or {}

    def point(s: dict[str, Any]) -> tuple[float, str, float | None]:
        flux = _first(s.get("psfFlux"), s.get("psFlux"))
        mag = -2.5 * math.log10(abs(flux)) + 31.4 if flux else None
        t = _first(s.get("midpointMjdTai"), s.get("midPointTai"))
        positive = flux is not None and flux > 0
        return t, str(_first(s.get("band"), s.get("filterName"))), mag if positive else None

    t, band, _mag = point(src)
    flux = _first(src.get("psfFlux"), src.get("psFlux"))
    err = _first(src.get("psfFluxErr"), src.get("psFluxErr"))
    prv = rec.get("prvDiaSources") or []
    history = [(pt, pb, pm) for pt, pb, pm in map(point, prv) if pm is not None]
    ss_id = src.get("ssObjectId") or ss.get("ssObjectId")
    ss_name = ss.get("designation") or (str(ss_id) if ss_id else None)
    offset = ss.get("ephOffset")
    if offset is None and ss.get("residualRa") is not None and ss.get("residualDec") is not None:
        offset = math.hypot(ss["residualRa"], ss["residualDec"]) * 3600
    times = [t] + [point(p)[0] for p in prv]
    return Raw(
        survey="LSST",
        positive=bool(flux and flux > 0),
        mag=-2.5 * math.log10(abs(flux)) + 31.4 if flux else math.nan,
        snr=_first(src.get("snr"), abs(flux) / err if flux and err else None),
        t=t,
        band=band,
        first=obj.get("firstDiaSourceMjdTai") or min(times),
        n_det=1 + len(prv),
        reliability=src.get("reliability"),
        ss_name=ss_name,
        ss_dist=(offset or 0.0) if ss_name else None,
        history=history,
    )


def raw_alerts(enriched: list[dict[str, Any]]) -> list[Raw]:
    """Raw view of every alert of :data:`FILES`, in order; context/scores from ``enriched``."""
    out = []
    for path in FILES:
        for rec in read_raw(path):
            if "candidate" in rec:
                out.append(_ztf(rec))
            elif "diaSource" in rec:
                out.append(_lsst(rec))
    assert len(out) == len(enriched)
    for raw, alert in zip(out, enriched, strict=True):
        raw.context = alert["context"]
        raw.scores = alert.get("scores") or {}
        raw.anomaly = alert.get("anomaly")
    return out


def _prev(r: Raw, band: str, before: float, after: float = -math.inf) -> Det | None:
    """Latest detection in ``band`` within [after, before]; equal times: the later in the packet."""
    best = None
    for d in r.history:
        if d[1] == band and after <= d[0] <= before and (best is None or d[0] >= best[0]):
            best = d
    return best


def _age(r: Raw) -> float:
    return r.t - r.first if r.first is not None else math.inf


def _not_sso(r: Raw) -> bool:
    return r.ss_name is None or (r.ss_dist is not None and r.ss_dist > S.solar_system_max_arcsec)


def _fast(r: Raw) -> bool:
    p = _prev(r, r.band, r.t - S.fast_riser_min_interval_hours / 24)
    return p is not None and (p[2] - r.mag) / (r.t - p[0]) >= S.fast_riser_min_rate_mag_per_day


def _red(r: Raw) -> bool:
    if r.band not in ("g", "r"):
        return False
    p = _prev(r, "r" if r.band == "g" else "g", math.inf, r.t - S.colour_max_interval_days)
    if p is None:
        return False
    return (r.mag - p[2] if r.band == "g" else p[2] - r.mag) >= S.red_min_g_minus_r


def _in(value: float | None, high: float) -> bool:
    return value is not None and 0 <= value < high


def _ia_passes(r: Raw) -> bool:
    """Some SN Ia model's Ia probability reaches that model's promoted early operating threshold."""
    for model in ("snia", "snia_ztf"):
        p = (r.scores.get(f"{model}.Ia") or {}).get("probability")
        cut = S.early_snia_min_probability
        if cut is None:
            cut = operating_threshold(model, early=True)
        if p is not None and p >= cut:
            return True
    return False


def _unusual(r: Raw) -> bool:
    """The anomaly score reaches the threshold in the manifest of the version that scored it."""
    a = r.anomaly or {}
    if a.get("score") is None:
        return False
    cut = S.anomaly_min_score
    if cut is None:
        cut = load_manifest(a["model"], a["version"])["threshold"]
    return bool(a["score"] >= cut)


def _rising(r: Raw) -> bool:
    dets = list(r.history) + ([(r.t, r.band, r.mag)] if not math.isnan(r.mag) else [])
    rising = 0
    for band in {d[1] for d in dets}:
        series = sorted((d for d in dets if d[1] == band), key=lambda d: d[0])
        if len(series) >= 2:
            (_t0, _b0, m0), (t1, _b1, m1) = series[-2], series[-1]
            rising += m0 - m1 >= S.rising_min_rise_mag and r.t - t1 <= S.rising_max_age_days
    return rising >= 2


ORACLE: dict[str, Callable[[Raw], bool]] = {
    "bright_transient": lambda r: (
        r.mag < S.bright_mag and (r.reliability or 0) >= S.bright_min_reliability
    ),
    "new_object": lambda r: (
        r.n_det == 1
        and (r.t - (r.first if r.first is not None else r.t)) * 24 <= S.new_object_max_age_hours
        and _not_sso(r)
    ),
    "known_solar_system": lambda r: (
        r.ss_name is not None and r.ss_dist is not None and r.ss_dist <= S.solar_system_max_arcsec
    ),
    "fast_riser": _fast,
    "red_transient": _red,
    "nuclear_transient": lambda r: (
        _in(r.ref_dist, S.nuclear_max_distance_arcsec)
        and _in(r.ps1_dist, S.nuclear_max_ps1_distance_arcsec)
        and _in(r.sgscore, S.nuclear_max_sgscore)
    ),
    "rubin_high_snr_new": lambda r: (
        r.survey == "LSST"
        and (r.snr or 0) >= S.rubin_min_snr
        and _age(r) <= S.rubin_new_max_age_days
        and _not_sso(r)
    ),
    "variable_star_outburst": lambda r: (
        r.context == "variable_star"
        and (p := _prev(r, r.band, math.inf)) is not None
        and p[2] - r.mag >= S.outburst_min_rise_mag
    ),
    "early_snia_candidate": lambda r: _age(r) <= S.early_snia_max_age_days and _ia_passes(r),
    "new_hostless_transient": lambda r: (
        r.context == "hostless" and _age(r) <= S.hostless_max_age_days
    ),
    "yso_flare": lambda r: r.context == "young_stellar_object" and (r.snr or 0) >= S.flare_min_snr,
    "blazar_flare": lambda r: r.context == "agn_blazar" and (r.snr or 0) >= S.flare_min_snr,
    "anomaly": _unusual,
    "rising_in_two_bands": _rising,
}
# Every built-in except known_solar_system and anomaly selects positive detections only.
POSITIVE_ONLY = set(ORACLE) - {"known_solar_system", "anomaly"}


def expected(name: str, raws: list[Raw]) -> list[int]:
    """Positions of the alerts ``name`` must pass."""
    rule = ORACLE[name]
    return [i for i, r in enumerate(raws) if (r.positive or name not in POSITIVE_ONLY) and rule(r)]
