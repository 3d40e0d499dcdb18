"""Expected stream outputs computed straight from raw alert records.

This is the tests' independent oracle: it reads the raw survey fields with
fastavro (not with Faucon's decoder or normalizer) and applies the built-in
filters' definitions as stated in their descriptions, with the default
thresholds of :class:`broker.core.config.FilterSettings`.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.schema import load_schema

from broker.core.config import REPO_ROOT, FilterSettings

BRIGHT_MAG = FilterSettings().bright_mag
BRIGHT_REL = FilterSettings().bright_min_reliability
SSO_ARCSEC = FilterSettings().solar_system_max_arcsec
NEW_HOURS = FilterSettings().new_object_max_age_hours


@dataclass(frozen=True)
class Expected:
    """What the stream must do with one raw alert."""

    survey: str
    alert_id: int
    object_id: str
    filters: frozenset[str]
    has_cutouts: bool


def raw_record(value: bytes) -> dict[str, Any]:
    """Decode a raw message with fastavro alone (container or Confluent wire)."""
    if value[:1] == b"\x00":
        (sid,) = struct.unpack(">I", value[1:5])
        major, minor = divmod(sid, 100)
        schema = load_schema(
            str(REPO_ROOT / f"schemas/lsst/{major}/{minor}/lsst.v{major}_{minor}.alert.avsc")
        )
        return dict(fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, None))  # type: ignore[arg-type]
    return dict(next(fastavro.reader(io.BytesIO(value))))  # type: ignore[arg-type]


def _ztf(rec: dict[str, Any]) -> Expected:
    c = rec["candidate"]
    positive = str(c["isdiffpos"]) in ("t", "1")
    rel = c.get("drb") if c.get("drb") is not None else c.get("rb")
    ss_name = c.get("ssnamenr") if c.get("ssnamenr") not in (None, "null", "") else None
    ssd = c.get("ssdistnr")
    ssd = ssd if ssd is not None and ssd > -999 else None
    sso = ss_name is not None and ssd is not None and ssd <= SSO_ARCSEC
    prv_det = [p for p in rec.get("prv_candidates") or [] if p.get("candid") and p.get("magpsf")]
    jds = c.get("jdstarthist")
    # jd and jdstarthist both mark exposure starts: the age is their difference
    age_h = (c["jd"] - jds) * 24 if jds and jds > 0 else 0.0
    not_sso = ss_name is None or (ssd is not None and ssd > SSO_ARCSEC)
    filters = set()
    if positive and c["magpsf"] < BRIGHT_MAG and (rel or 0) >= BRIGHT_REL:
        filters.add("bright_transient")
    if positive and not prv_det and age_h <= NEW_HOURS and not_sso:
        filters.add("new_object")
    if sso:
        filters.add("known_solar_system")
    cut = rec.get("cutoutScience")
    return Expected(
        "ZTF",
        int(rec.get("candid") or c["candid"]),
        rec["objectId"],
        frozenset(filters),
        bool(cut and cut.get("stampData")),
    )


def _lsst(rec: dict[str, Any]) -> Expected:
    src = rec["diaSource"]
    flux = src.get("psfFlux")
    positive = flux is not None and flux > 0
    mag = -2.5 * math.log10(abs(flux)) + 31.4 if flux else None
    rel = src.get("reliability")
    ss = rec.get("ssSource") or {}
    ss_id = src.get("ssObjectId") or ss.get("ssObjectId")
    ss_name = ss.get("designation") or (str(ss_id) if ss_id else None)
    ssd = (ss.get("ephOffset") or 0.0) if ss_name else None
    prv = rec.get("prvDiaSources") or []
    obj = rec.get("diaObject") or {}
    times = [src["midpointMjdTai"]] + [p["midpointMjdTai"] for p in prv]
    first = obj.get("firstDiaSourceMjdTai") or min(times)
    filters = set()
    if positive and mag is not None and mag < BRIGHT_MAG and (rel or 0) >= BRIGHT_REL:
        filters.add("bright_transient")
    not_sso = ss_name is None or (ssd is not None and ssd > SSO_ARCSEC)
    if positive and not prv and (src["midpointMjdTai"] - first) * 24 < NEW_HOURS and not_sso:
        filters.add("new_object")
    if ss_name is not None and ssd is not None and ssd <= SSO_ARCSEC:
        filters.add("known_solar_system")
    alert_id = rec.get("alertId") or rec.get("diaSourceId") or src["diaSourceId"]
    object_id = src.get("diaObjectId") or obj.get("diaObjectId")
    return Expected(
        "LSST", int(alert_id), str(object_id), frozenset(filters), bool(rec.get("cutoutScience"))
    )


def expected_for(value: bytes) -> Expected | None:
    """Expected outcome of a raw message, or None when it is not a ZTF/Rubin alert."""
    rec = raw_record(value)
    if isinstance(rec.get("candidate"), dict) and "magpsf" in rec["candidate"]:
        return _ztf(rec)
    if "diaSource" in rec:
        return _lsst(rec)
    return None
