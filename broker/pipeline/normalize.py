"""Normalize stage: survey Avro records to the survey-neutral Faucon alert.

The output follows ``schemas/faucon/alert/<version>/faucon.alert.avsc``.
Conversions:

* ZTF magnitudes to nJy: ``flux = s * 10**(-0.4 * (magpsf - 31.4))`` with
  ``s = +1`` when ``isdiffpos`` is ``t``/``1`` and ``-1`` otherwise; error
  ``|flux| * ln(10) / 2.5 * sigmapsf``.  ZTF forced photometry (``fp_hists``)
  is in image counts: ``flux = forcediffimflux * 10**(-0.4 * (magzpsci - 31.4))``.
* ZTF times (``jd``, UTC, exposure start) to MJD TAI at mid-exposure:
  ``jd - 2400000.5 + (exptime / 2 + (TAI - UTC)) / 86400``.
* Rubin fluxes are already nJy; times are already MJD TAI (``midpointMjdTai``;
  ``midPointTai`` before schema 7).

Examples
--------
>>> tai_minus_utc(58000.0)
37.0
>>> round(mag_to_njy(31.4), 6)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from broker.core.errors import DeserializeError
from broker.core.schema import schema_version

AB_ZP_NJY = 31.4
ZTF_BANDS = {1: "g", 2: "r", 3: "i"}
ZTF_EXPTIME_S = 30.0  # ZTF exposures are 30 s; used when a history entry lacks exptime
_LN10_2P5 = math.log(10.0) / 2.5
# TAI - UTC (s) from the start MJD on (IERS Bulletin C); ZTF and Rubin data start after 2015.
_LEAP_SECONDS = ((57754.0, 37.0), (57204.0, 36.0), (56109.0, 35.0), (0.0, 34.0))
_ZTF_SENTINEL = -999.0
_ZTF_FP_FAILED = -99999.0
Alert = dict[str, Any]


def tai_minus_utc(mjd_utc: float) -> float:
    """TAI - UTC in seconds at ``mjd_utc`` (valid from 2009 on)."""
    for start, offset in _LEAP_SECONDS:
        if mjd_utc >= start:
            return offset
    return 34.0


def mag_to_njy(mag: float) -> float:
    """AB magnitude to flux in nJy."""
    return 10.0 ** (-0.4 * (mag - AB_ZP_NJY))


def njy_to_mag(flux: float | None) -> float | None:
    """AB magnitude of ``|flux|`` (nJy); None for null or zero flux."""
    if flux is None or flux == 0 or not math.isfinite(flux):
        return None
    return -2.5 * math.log10(abs(flux)) + AB_ZP_NJY


def _num(value: Any) -> float | None:
    """A finite float, or None for null and NaN (negative fluxes are real values)."""
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _ztf(value: Any) -> float | None:
    """A ZTF catalog-style value: None for null, NaN and the -999 / -99999 sentinels.

    Only for fields where ZTF uses sentinels (distances, scores, magnitudes);
    never for fluxes.
    """
    f = _num(value)
    return None if f is None or f <= _ZTF_SENTINEL else f


def _forced_flux(value: Any) -> float | None:
    """ZTF forced-photometry flux in DN: None for null, NaN and the -99999 failure flag."""
    f = _num(value)
    return None if f is None or f == _ZTF_FP_FAILED else f


def _ztf_mjd_tai(jd: float, exptime: float | None) -> float:
    mjd_utc = jd - 2400000.5
    # Missing or 0 (Spark-rewritten packets write 0.0 for absent values): 30 s exposures.
    half = (exptime if exptime and exptime > 0 else ZTF_EXPTIME_S) / 2.0
    return mjd_utc + (half + tai_minus_utc(mjd_utc)) / 86400.0


def _ztf_flux(mag: float, sigma: float | None, isdiffpos: Any) -> tuple[float, float | None]:
    sign = 1.0 if str(isdiffpos).lower() in ("t", "1", "true") else -1.0
    flux = sign * mag_to_njy(mag)
    err = abs(flux) * _LN10_2P5 * sigma if sigma is not None else None
    return flux, err


def _forced_point(fp: dict[str, Any]) -> dict[str, Any] | None:
    """A ZTF forced-photometry measurement in nJy, or None when it failed (-99999)."""
    fdn, zp = _forced_flux(fp.get("forcediffimflux")), _num(fp.get("magzpsci"))
    if fdn is None or zp is None:
        return None
    scale = 10.0 ** (-0.4 * (zp - AB_ZP_NJY))
    err = _forced_flux(fp.get("forcediffimfluxunc"))
    f = fdn * scale
    t = _ztf_mjd_tai(float(fp["jd"]), _num(fp.get("exptime")))
    return _point(
        t,
        ZTF_BANDS.get(int(fp["fid"]), "?"),
        "forced",
        f,
        err * scale if err is not None else None,
        njy_to_mag(f),
        None,
        _num(fp.get("diffmaglim")),
        None,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _extra(parts: dict[str, Any]) -> str:
    """Strict JSON: NaN and infinities become null, else Spark's JSON functions (which
    reject the non-standard ``NaN`` token) return null for every field of the document."""
    return orjson.dumps(parts, default=_json_default).decode()


def normalize_ztf(rec: dict[str, Any], schema_name: str) -> Alert:
    """Normalize one ZTF alert record (schema 1.x to 4.x, also Spark-written)."""
    cand = rec["candidate"]
    if not rec.get("objectId"):
        raise DeserializeError(
            "unsupported_schema_version",
            "ZTF packet without objectId (2016 pre-survey test schema); Faucon reads ZTF "
            "alerts that carry objectId (schema 1.x with objectId, 2.0 to 4.x)",
        )
    band = ZTF_BANDS.get(int(cand["fid"]))
    if band is None:
        raise DeserializeError("invalid_alert", f"ZTF fid {cand['fid']!r} is not 1, 2 or 3")
    flux, flux_err = _ztf_flux(float(cand["magpsf"]), _num(cand.get("sigmapsf")), cand["isdiffpos"])
    history: list[dict[str, Any]] = []
    first_det = None
    for prv in rec.get("prv_candidates") or ():
        t = _ztf_mjd_tai(float(prv["jd"]), _num(prv.get("exptime")))
        pband = ZTF_BANDS.get(int(prv["fid"]), "?")
        mag = _ztf(prv.get("magpsf"))
        sig = _num(prv.get("sigmapsf"))
        limit = _num(prv.get("diffmaglim"))
        if mag is not None and prv.get("candid") is not None:
            f, fe = _ztf_flux(mag, sig, prv.get("isdiffpos"))
            history.append(_point(t, pband, "detection", f, fe, mag, sig, limit, prv["candid"]))
            first_det = t if first_det is None else min(first_det, t)
        elif "forcediffimflux" in prv:  # schema 3.5 carried forced photometry here
            point = _forced_point(prv)
            if point is not None:
                history.append(point)
        else:
            history.append(_point(t, pband, "upper_limit", None, None, None, None, limit, None))
    for fp in rec.get("fp_hists") or ():
        point = _forced_point(fp)
        if point is not None:
            history.append(point)
    history.sort(key=lambda p: p["mjd_tai"])
    start = _ztf(cand.get("jdstarthist"))
    ss_name = cand.get("ssnamenr")
    cutouts = {
        k: (rec.get(f"cutout{k.title()}") or {}).get("stampData")
        for k in ("science", "template", "difference")
    }
    n_det = 1 + sum(1 for p in history if p["kind"] == "detection")
    version = str(rec.get("schemavsn") or "unknown")
    return {
        "schema_version": schema_version(),
        "survey": "ZTF",
        "survey_schema": f"ztf-{version}",
        "alert_id": int(rec.get("candid") or cand["candid"]),
        "object_id": str(rec["objectId"]),
        "ra": float(cand["ra"]),
        "dec": float(cand["dec"]),
        "mjd_tai": _ztf_mjd_tai(float(cand["jd"]), _num(cand.get("exptime"))),
        "band": band,
        "flux_njy": flux,
        "flux_err_njy": flux_err,
        "mag": float(cand["magpsf"]),
        "mag_err": _num(cand.get("sigmapsf")),
        "is_positive": flux > 0,
        "snr": abs(flux) / flux_err if flux_err else None,
        "reliability": _num(cand.get("drb"))
        if _num(cand.get("drb")) is not None
        else _num(cand.get("rb")),
        "n_detections": n_det,
        "first_detection_mjd_tai": _ztf_mjd_tai(start, None) if start else first_det,
        "history": history,
        "ref_distance_arcsec": _ztf(cand.get("distnr")),
        "ref_mag": _ztf(cand.get("magnr")),
        "ps1_distance_arcsec": _ztf(cand.get("distpsnr1")),
        "ps1_sgscore": _ztf(cand.get("sgscore1")),
        "gaia_distance_arcsec": _ztf(cand.get("neargaia")),
        "gaia_mag": _ztf(cand.get("maggaia")),
        "ss_name": None if ss_name in (None, "null", "") else str(ss_name),
        "ss_distance_arcsec": _ztf(cand.get("ssdistnr")),
        "ss_mag": _ztf(cand.get("ssmagnr")),
        "extendedness": None,
        "cutout_format": "fits.gz",
        "cutout_science": cutouts["science"],
        "cutout_template": cutouts["template"],
        "cutout_difference": cutouts["difference"],
        "extra_json": _extra({"candidate": cand, "publisher": rec.get("publisher")}),
    }


def _point(
    t: float,
    band: str,
    kind: str,
    flux: float | None,
    flux_err: float | None,
    mag: float | None,
    mag_err: float | None,
    limit: float | None,
    source_id: Any,
) -> dict[str, Any]:
    return {
        "mjd_tai": t,
        "band": band,
        "kind": kind,
        "flux_njy": flux,
        "flux_err_njy": flux_err,
        "mag": mag,
        "mag_err": mag_err,
        "limit_mag": limit,
        "source_id": int(source_id) if source_id is not None else None,
    }


def _g(src: dict[str, Any], *names: str) -> Any:
    """First present, non-null field among ``names`` (Rubin renamed fields across versions)."""
    for name in names:
        value = src.get(name)
        if value is not None:
            return value
    return None


def _rubin_point(src: dict[str, Any], kind: str) -> dict[str, Any]:
    flux = _num(_g(src, "psfFlux", "psFlux"))
    err = _num(_g(src, "psfFluxErr", "psFluxErr"))
    mag_err = err / abs(flux) / _LN10_2P5 if flux and err is not None else None
    return _point(
        float(_g(src, "midpointMjdTai", "midPointTai")),
        str(_g(src, "band", "filterName")),
        kind,
        flux,
        err,
        njy_to_mag(flux),
        mag_err,
        None,
        _g(src, "diaSourceId", "diaForcedSourceId"),
    )


def normalize_lsst(rec: dict[str, Any], schema_name: str) -> Alert:
    """Normalize one Rubin alert record (alert_packet 3.0 to 11.0, OCF or wire)."""
    src = rec["diaSource"]
    cur = _rubin_point(src, "detection")
    history = [_rubin_point(p, "detection") for p in rec.get("prvDiaSources") or ()]
    history += [_rubin_point(p, "forced") for p in rec.get("prvDiaForcedSources") or ()]
    history.sort(key=lambda p: p["mjd_tai"])
    obj = rec.get("diaObject") or {}
    ss = rec.get("ssSource") or {}
    obj_id = _g(src, "diaObjectId") or obj.get("diaObjectId")
    ss_id = _g(src, "ssObjectId") or ss.get("ssObjectId")
    object_id = str(obj_id) if obj_id else f"ss{ss_id}" if ss_id else str(src["diaSourceId"])
    ss_name = ss.get("designation") or (str(ss_id) if ss_id else None)
    dets = [cur["mjd_tai"]] + [p["mjd_tai"] for p in history if p["kind"] == "detection"]
    flux, err = cur["flux_njy"], cur["flux_err_njy"]
    snr = _num(src.get("snr"))
    scalars = {k: v for k, v in rec.items() if not isinstance(v, (dict, list, bytes))}
    return {
        "schema_version": schema_version(),
        "survey": "LSST",
        "survey_schema": _lsst_version(rec, schema_name),
        "alert_id": int(_g(rec, "alertId", "diaSourceId") or src["diaSourceId"]),
        "object_id": object_id,
        "ra": float(src["ra"]),
        "dec": float(_g(src, "dec", "decl")),
        "mjd_tai": cur["mjd_tai"],
        "band": cur["band"],
        "flux_njy": flux,
        "flux_err_njy": err,
        "mag": cur["mag"],
        "mag_err": cur["mag_err"],
        "is_positive": bool(flux is not None and flux > 0),
        "snr": snr if snr is not None else (abs(flux) / err if flux and err else None),
        "reliability": _num(src.get("reliability")),
        "n_detections": len(dets),
        "first_detection_mjd_tai": _num(obj.get("firstDiaSourceMjdTai")) or min(dets),
        "history": history,
        "ref_distance_arcsec": None,
        "ref_mag": None,
        "ps1_distance_arcsec": None,
        "ps1_sgscore": None,
        "gaia_distance_arcsec": None,
        "gaia_mag": None,
        "ss_name": ss_name,
        "ss_distance_arcsec": _ss_offset_arcsec(ss) if ss_name else None,
        "ss_mag": _num(_g(ss, "ephVmag", "predictedVMagnitude")),
        "extendedness": _num(src.get("extendedness")),
        "cutout_format": "fits",
        "cutout_science": rec.get("cutoutScience"),
        "cutout_template": rec.get("cutoutTemplate"),
        "cutout_difference": rec.get("cutoutDifference"),
        "extra_json": _extra(
            {"diaSource": src, "diaObject": obj or None, "ssSource": ss or None, **scalars}
        ),
    }


def _ss_offset_arcsec(ss: dict[str, Any]) -> float:
    """Observed minus predicted position of the associated solar-system object, arcsec.

    ``ephOffset`` (v10+, arcsec) or the ``residualRa/Dec`` (v8-9, degrees);
    0 when the alert carries an association but no offset.
    """
    offset = _num(ss.get("ephOffset"))
    if offset is not None:
        return offset
    dra, ddec = _num(ss.get("residualRa")), _num(ss.get("residualDec"))
    if dra is None or ddec is None:
        return 0.0
    return math.hypot(dra, ddec) * 3600.0


def _lsst_version(rec: dict[str, Any], schema_name: str) -> str:
    """Rubin schema version from the wire id, the writer schema name or a broker field."""
    if schema_name.startswith("wire:"):
        major, minor = divmod(int(schema_name[5:]), 100)
        return f"lsst-{major}.{minor}"
    for name in (schema_name, str(rec.get("lsst_schema_version") or "")):
        if name.startswith("lsst.v"):
            return "lsst-" + name[6:].split(".")[0].replace("_", ".")
    from broker.pipeline.decode import default_registry

    sid = default_registry().infer_id(rec)
    if sid is None:
        return "lsst-unknown"
    return f"lsst-{sid // 100}.{sid % 100}"


def survey_of(rec: dict[str, Any]) -> str | None:
    """ZTF, LSST, or None when the record is from neither survey."""
    cand = rec.get("candidate")
    if isinstance(cand, dict) and {"jd", "fid", "magpsf"} <= cand.keys():
        return "ZTF"
    if "diaSource" in rec:
        return "LSST"
    return None


NORMALIZERS: dict[str, Callable[[dict[str, Any], str], Alert]] = {
    "ZTF": normalize_ztf,
    "LSST": normalize_lsst,
}


def normalize(rec: dict[str, Any], schema_name: str) -> Alert:
    """Normalize a decoded record of any supported survey.

    Raises
    ------
    DeserializeError
        ``unsupported_survey`` for ATLAS, DECam and anything else;
        ``invalid_alert`` when a required field is missing or has a wrong type.
    """
    survey = survey_of(rec)
    if survey is None:
        raise DeserializeError(
            "unsupported_survey",
            f"writer schema {schema_name or '?'} (publisher {rec.get('publisher') or '?'}, "
            f"fields {sorted(rec)[:6]}) is neither ZTF "
            "nor Rubin/LSST; Faucon decodes ZTF 1.x-4.x and Rubin alert_packet 3.0-11.0",
        )
    try:
        return NORMALIZERS[survey](rec, schema_name)
    except DeserializeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise DeserializeError("invalid_alert", f"{survey} record: {exc!r}") from exc
