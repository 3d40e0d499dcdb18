"""Normalize stage, value by value against the raw real alerts.

Expected values are computed here from the raw records (read by fastavro, see
:mod:`tests.broker.pipeline.datafiles`) with the published conversions, not taken from
:mod:`broker.pipeline.normalize`.
"""

from __future__ import annotations

import json
import math
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.validation import validate

from broker.core.errors import DeserializeError
from broker.core.schema import alert_schema, schema_version
from broker.pipeline.decode import Decoder
from broker.pipeline.normalize import normalize
from tests.broker.pipeline.datafiles import (
    SAMPLE_PROVENANCE,
    SHARED_DATA,
    groups,
    raw_bytes,
    raw_record,
    rel,
    shared,
)

LN10_2P5 = math.log(10.0) / 2.5
ZTF_BANDS = {1: "g", 2: "r", 3: "i"}
ZTF_SENTINELS = (-999.0, -99999.0)
ZTF_HALF_EXPOSURE_S = 15.0  # ZTF exposures are 30 s; jd is the exposure start (UTC)
TAI_MINUS_UTC_S = 37.0  # since 2017-01-01 (IERS Bulletin C)
JD_2018 = 2458119.5  # 2018-01-01T00:00 UTC
TIME_TOL_DAYS = 1e-9  # ~0.1 ms

# (path, why it is here)
ZTF_CASES = {
    "ztf-2.0": shared("ztf", "ztf-avro-alert", "472263571115090000.avro"),
    "ztf-3.0-spark-snappy": shared("ztf", "alerce", "000010510092392116.avro"),
    "ztf-3.1": shared("ztf", "ztf-avro-alert", "472263571115115008.avro"),
    "ztf-3.2-no-drb": shared("ztf", "alerce", "820128985115015000.avro"),
    "ztf-3.3-negative-ss-null": shared("ztf", "alerce", "0000105100021056071.avro"),
    "ztf-3.3-kowalski": shared("ztf", "kowalski", "1127561443215015014.avro"),
    "ztf-3.5": shared("ztf", "ztf-avro-alert", "1661382530015060001.avro"),
    "ztf-4.01-forced": shared("ztf", "kowalski", "2475433850215010008.avro"),
    "ztf-4.01-asteroid": shared("ztf", "kowalski", "2475433850015015001.avro"),
    "ztf-4.01-negative-forced": shared("ztf", "kowalski", "2475433850015010009.avro"),
    "ztf-4.02-spark": shared(
        "ztf", "fink-datasim", "part-00000-09de403b-932d-46a5-ba1a-81ce1ad5ec25-c000.avro"
    ),
    "ztf-unversioned-asteroid": shared("ztf", "ztf-avro-alert", "396522680015025001.avro"),
}


def _fake(major: int, minor: int) -> Path:
    """Official Rubin sample of one schema version."""
    return shared("lsst", "schemas", str(major), str(minor), "sample_data", "fakeAlert.avro")


RUBIN_VERSIONS = [(3, 0), (4, 0), (5, 0), (6, 0), (6, 1), (7, 0), (7, 1), (7, 2), (7, 3)]
RUBIN_VERSIONS += [(7, 4), (8, 0), (9, 0), (10, 0), (11, 0)]
RUBIN_CASES = {f"lsst-{a}.{b}-sample": _fake(a, b) for a, b in RUBIN_VERSIONS}
RUBIN_CASES.update(
    {f"lsst-7.4-wire-{i}": shared("lsst", "wire-format", f"message_{i}.avro") for i in range(5)}
)
RUBIN_CASES.update(
    {
        "lsst-7.4-spark": shared("lsst", "v7_4", "58804328047050789_58804328047050789.avro"),
        "lsst-7.4-spark-9-prv": shared("lsst", "v7_4", "58804302898003989_58804302898003989.avro"),
        "lsst-7.4-spark-negative": shared(
            "lsst", "v7_4", "58804293150441529_58804293150441529.avro"
        ),
        "lsst-9.0-spark-asteroid": shared(
            "lsst", "commissioning-v9_0", "169298432645136561_169298432645136561.avro"
        ),
    }
)


def _rubin_commissioning(n_prv: int, negative: bool) -> Path:
    """First commissioning 9.0 alert with ``n_prv`` previous sources and that flux sign.

    Parameters
    ----------
    n_prv
        Wanted ``len(prvDiaSources)``.
    negative
        Whether the current ``psfFlux`` is at most -999 nJy.

    Returns
    -------
    Path
        The file.
    """
    for path in sorted((SHARED_DATA / "lsst" / "commissioning-v9_0").glob("*.avro")):
        rec = raw_record(path)
        if len(rec["prvDiaSources"] or []) == n_prv and (rec["diaSource"]["psfFlux"] <= -999) == (
            negative
        ):
            return path
    raise AssertionError(f"no commissioning alert with {n_prv} prvDiaSources")


RUBIN_CASES["lsst-9.0-spark-2-prv"] = _rubin_commissioning(2, negative=False)
RUBIN_CASES["lsst-9.0-spark-negative"] = _rubin_commissioning(1, negative=True)


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    """One decoder for the module (it caches parsed schemas)."""
    return Decoder()


def _normalized(path: Path, decoder: Decoder) -> dict[str, Any]:
    """Decode and normalize a real alert file.

    Parameters
    ----------
    path
        One-alert file.
    decoder
        The decoder.

    Returns
    -------
    dict
        The Faucon alert.
    """
    record, name = decoder.decode(raw_bytes(path))
    return normalize(record, name)


def _finite(value: Any) -> Any:
    """A raw float with NaN as None (Faucon has no NaN: missing is null)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _assert_json_matches(extra: Any, raw: Any, where: str) -> None:
    """A value of ``extra_json`` holds the raw value (datetimes as ISO strings, NaN as null).

    Parameters
    ----------
    extra
        The value parsed from ``extra_json``.
    raw
        The raw record's value.
    where
        Path of the value, for failure messages.
    """
    if isinstance(raw, dict):
        assert isinstance(extra, dict) and set(extra) == set(raw), where
        for key, value in raw.items():
            _assert_json_matches(extra[key], value, f"{where}.{key}")
    elif isinstance(raw, list):
        assert isinstance(extra, list) and len(extra) == len(raw), where
        for i, (e, r) in enumerate(zip(extra, raw, strict=True)):
            _assert_json_matches(e, r, f"{where}[{i}]")
    elif isinstance(raw, datetime):
        assert datetime.fromisoformat(extra) == raw, where
    elif isinstance(raw, float) and not math.isfinite(raw):
        assert extra is None, where  # strict JSON, readable by Spark's get_json_object
    else:
        assert extra == raw and type(extra) is type(raw), where


# --- ZTF ---------------------------------------------------------------------------------


def _ztf_time(jd: float) -> float:
    """MJD TAI at mid-exposure of a 2018+ ZTF jd (UTC, exposure start)."""
    return jd - 2400000.5 + (ZTF_HALF_EXPOSURE_S + TAI_MINUS_UTC_S) / 86400.0


def _ztf_flux(mag: float, sigma: float, isdiffpos: str) -> tuple[float, float]:
    """Signed nJy flux and its error from ZTF magpsf, sigmapsf and isdiffpos."""
    sign = 1.0 if isdiffpos in ("t", "1") else -1.0
    flux = sign * 10.0 ** (-0.4 * (mag - 31.4))
    return flux, abs(flux) * LN10_2P5 * sigma


def _ztf_value(value: Any) -> Any:
    """A ZTF field with its -999 / -99999 'no value' sentinels as None."""
    return None if value is None or value in ZTF_SENTINELS else value


def _forced_ok(fp: dict[str, Any]) -> bool:
    """Whether a ZTF fp_hists entry carries a measurement (not the -99999 sentinel)."""
    return fp["forcediffimflux"] not in (None, -99999.0) and fp["magzpsci"] is not None


def _ztf_expected_history(rec: dict[str, Any]) -> list[tuple[Any, ...]]:
    """History of a raw ZTF alert as (mjd, band, kind, flux, flux_err, limit, source_id)."""
    points: list[tuple[Any, ...]] = []
    for prv in rec.get("prv_candidates") or []:
        assert prv.get("exptime") in (None, 0.0, 30.0)
        t, band = _ztf_time(prv["jd"]), ZTF_BANDS[prv["fid"]]
        if prv.get("candid") is not None:
            flux, err = _ztf_flux(prv["magpsf"], prv["sigmapsf"], prv["isdiffpos"])
            points.append((t, band, "detection", flux, err, prv["diffmaglim"], prv["candid"]))
        elif "forcediffimflux" in prv and _forced_ok(prv):
            # schema 3.4/3.5: prv_candidates are forced-photometry records (no candid, no magpsf)
            scale = 10.0 ** (-0.4 * (prv["magzpsci"] - 31.4))
            flux, err = prv["forcediffimflux"] * scale, prv["forcediffimfluxunc"] * scale
            points.append((t, band, "forced", flux, err, _ztf_value(prv["diffmaglim"]), None))
        else:
            points.append((t, band, "upper_limit", None, None, prv["diffmaglim"], None))
    for fp in rec.get("fp_hists") or []:
        if _forced_ok(fp):
            scale = 10.0 ** (-0.4 * (fp["magzpsci"] - 31.4))
            flux, err = fp["forcediffimflux"] * scale, fp["forcediffimfluxunc"] * scale
            limit = _ztf_value(fp["diffmaglim"])
            points.append(
                (_ztf_time(fp["jd"]), ZTF_BANDS[fp["fid"]], "forced", flux, err, limit, None)
            )
    return sorted(points, key=_history_key)


def _history_key(point: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sort key of a history tuple: time, kind, then flux (None first)."""
    return (round(point[0], 7), point[2], point[3] if point[3] is not None else -math.inf)


def _actual_history(alert: dict[str, Any]) -> list[tuple[Any, ...]]:
    """History of a Faucon alert as (mjd, band, kind, flux, flux_err, limit, source_id)."""
    points = [
        (
            p["mjd_tai"],
            p["band"],
            p["kind"],
            p["flux_njy"],
            p["flux_err_njy"],
            p["limit_mag"],
            p["source_id"],
        )
        for p in alert["history"]
    ]
    return sorted(points, key=_history_key)


def _assert_same_points(actual: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Two histories hold the same points (times to 0.1 ms, fluxes to 1e-9 relative)."""
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got[0] == pytest.approx(want[0], abs=TIME_TOL_DAYS)
        assert got[1:3] == want[1:3]
        for g, w in zip(got[3:6], want[3:6], strict=True):
            assert (g is None) == (w is None), (got, want)
            if w is not None:
                assert g == pytest.approx(w, rel=1e-9)
        assert got[6] == want[6]


def _has_dropped_forced(path: Path) -> bool:
    """Whether a ZTF alert has a real forced flux at or below -999 DN (not the -99999 flag)."""
    return any(
        _forced_ok(fp) and fp["forcediffimflux"] <= -999.0
        for fp in raw_record(path).get("fp_hists") or []
    )


def _has_prv_forced(path: Path) -> bool:
    """Whether a ZTF 3.4/3.5 alert carries forced photometry in prv_candidates."""
    return any(
        p.get("candid") is None and "forcediffimflux" in p and _forced_ok(p)
        for p in raw_record(path).get("prv_candidates") or []
    )


def _ztf_params() -> list[Any]:
    """ZTF cases as pytest params."""
    return [pytest.param(path, id=name) for name, path in ZTF_CASES.items()]


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_identity_position_band(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    cand = rec["candidate"]
    assert alert["survey"] == "ZTF"
    assert alert["schema_version"] == schema_version()  # the newest alert schema
    if rec.get("schemavsn"):
        assert alert["survey_schema"] == f"ztf-{rec['schemavsn']}"
    assert alert["alert_id"] == cand["candid"]
    assert rec.get("candid", cand["candid"]) == cand["candid"]  # Spark files drop the top one
    assert alert["object_id"] == rec["objectId"]
    assert (alert["ra"], alert["dec"]) == (cand["ra"], cand["dec"])
    assert alert["band"] == ZTF_BANDS[cand["fid"]]


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_time_is_mid_exposure_tai(path: Path, decoder: Decoder) -> None:
    cand, alert = raw_record(path)["candidate"], _normalized(path, decoder)
    # Spark (ALeRCE) wrote 0.0 for the exptime older packets lack; ZTF exposures are 30 s
    assert cand["jd"] >= JD_2018 and cand.get("exptime") in (None, 0.0, 30.0)
    assert alert["mjd_tai"] == pytest.approx(_ztf_time(cand["jd"]), abs=TIME_TOL_DAYS)
    start = _ztf_value(cand.get("jdstarthist"))
    if start is not None:
        assert alert["first_detection_mjd_tai"] == pytest.approx(
            _ztf_time(start), abs=TIME_TOL_DAYS
        )


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_flux_from_magnitude(path: Path, decoder: Decoder) -> None:
    cand, alert = raw_record(path)["candidate"], _normalized(path, decoder)
    flux, err = _ztf_flux(cand["magpsf"], cand["sigmapsf"], cand["isdiffpos"])
    assert alert["flux_njy"] == pytest.approx(flux, rel=1e-12)
    assert alert["flux_err_njy"] == pytest.approx(err, rel=1e-12)
    assert alert["mag"] == cand["magpsf"]
    assert alert["mag_err"] == cand["sigmapsf"]
    assert alert["is_positive"] is (cand["isdiffpos"] in ("t", "1"))
    assert alert["snr"] == pytest.approx(1.0 / (LN10_2P5 * cand["sigmapsf"]), rel=1e-12)


def test_ztf_cases_cover_both_signs() -> None:
    signs = {raw_record(p)["candidate"]["isdiffpos"] for p in ZTF_CASES.values()}
    assert {"t", "f"} <= signs


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_reliability_is_drb_else_rb(path: Path, decoder: Decoder) -> None:
    cand, alert = raw_record(path)["candidate"], _normalized(path, decoder)
    expected = cand["drb"] if cand.get("drb") is not None else cand["rb"]
    assert alert["reliability"] == expected


def test_ztf_cases_cover_missing_drb() -> None:
    cands = [raw_record(p)["candidate"] for p in ZTF_CASES.values()]
    assert any(c.get("drb") is None for c in cands)
    assert any(c.get("drb") is not None for c in cands)


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_history(path: Path, decoder: Decoder) -> None:
    """Detections (candid set), upper limits (candid null) and valid forced photometry."""
    rec, alert = raw_record(path), _normalized(path, decoder)
    prv = rec.get("prv_candidates") or []
    n_det = sum(1 for p in prv if p.get("candid") is not None)
    n_other = sum(1 for p in prv if p.get("candid") is None)  # upper limits (3.5: forced)
    n_fp = sum(1 for fp in rec.get("fp_hists") or [] if _forced_ok(fp))
    assert len(alert["history"]) == n_det + n_other + n_fp
    assert alert["n_detections"] == 1 + n_det
    times = [p["mjd_tai"] for p in alert["history"]]
    assert times == sorted(times)
    _assert_same_points(_actual_history(alert), _ztf_expected_history(rec))


def test_ztf_forced_photometry_flux(decoder: Decoder) -> None:
    """Kowalski 4.01 alert: forced flux = forcediffimflux * 10**(-0.4 (magzpsci - 31.4))."""
    path = ZTF_CASES["ztf-4.01-forced"]
    fps = [fp for fp in raw_record(path)["fp_hists"] if _forced_ok(fp)]
    assert len(fps) == 15 and len(raw_record(path)["fp_hists"]) == 20
    forced = sorted(
        (p for p in _normalized(path, decoder)["history"] if p["kind"] == "forced"),
        key=lambda p: p["mjd_tai"],
    )
    assert len(forced) == len(fps)
    for point, fp in zip(forced, sorted(fps, key=lambda f: f["jd"]), strict=True):
        scale = 10.0 ** (-0.4 * (fp["magzpsci"] - 31.4))
        assert point["mjd_tai"] == pytest.approx(_ztf_time(fp["jd"]), abs=TIME_TOL_DAYS)
        assert point["band"] == ZTF_BANDS[fp["fid"]]
        assert point["flux_njy"] == pytest.approx(fp["forcediffimflux"] * scale, rel=1e-12)
        assert point["flux_err_njy"] == pytest.approx(fp["forcediffimfluxunc"] * scale, rel=1e-12)
        assert point["source_id"] is None


def test_ztf_negative_forced_flux_is_kept(decoder: Decoder) -> None:
    """Real forced fluxes below -999 DN (procstatus 0) are measurements, not sentinels."""
    path = ZTF_CASES["ztf-4.01-negative-forced"]
    negative = [
        fp
        for fp in raw_record(path)["fp_hists"]
        if _forced_ok(fp) and fp["forcediffimflux"] <= -999.0
    ]
    assert [round(fp["forcediffimflux"], 2) for fp in negative] == [-4684.18, -1541.72]
    forced = [p for p in _normalized(path, decoder)["history"] if p["kind"] == "forced"]
    for fp in negative:
        scale = 10.0 ** (-0.4 * (fp["magzpsci"] - 31.4))
        assert any(p["flux_njy"] == pytest.approx(fp["forcediffimflux"] * scale) for p in forced)


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_catalog_and_solar_system_fields(path: Path, decoder: Decoder) -> None:
    """-999 sentinels become None; the string 'null' ssnamenr becomes None."""
    cand, alert = raw_record(path)["candidate"], _normalized(path, decoder)
    pairs = {
        "ref_distance_arcsec": "distnr",
        "ref_mag": "magnr",
        "ps1_distance_arcsec": "distpsnr1",
        "ps1_sgscore": "sgscore1",
        "gaia_distance_arcsec": "neargaia",
        "gaia_mag": "maggaia",
        "ss_distance_arcsec": "ssdistnr",
        "ss_mag": "ssmagnr",
    }
    for field, raw in pairs.items():
        assert alert[field] == _ztf_value(cand.get(raw)), field
    ss = cand.get("ssnamenr")
    assert alert["ss_name"] == (None if ss in (None, "null") else ss)
    assert alert["extendedness"] is None


def test_ztf_cases_cover_solar_system_and_sentinels() -> None:
    cands = [raw_record(p)["candidate"] for p in ZTF_CASES.values()]
    assert any(c["ssnamenr"] == "null" and c["ssdistnr"] == -999.0 for c in cands)
    assert sum(1 for c in cands if c["ssnamenr"] not in (None, "null")) >= 2


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_cutouts_are_byte_identical(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    assert alert["cutout_format"] == "fits.gz"
    for kind in ("science", "template", "difference"):
        stamp = rec[f"cutout{kind.title()}"]["stampData"]
        assert stamp[:2] == b"\x1f\x8b"  # gzip
        assert alert[f"cutout_{kind}"] == stamp


@pytest.mark.parametrize("path", _ztf_params())
def test_ztf_extra_json_holds_raw_candidate(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    extra = json.loads(alert["extra_json"])
    _assert_json_matches(extra["candidate"], rec["candidate"], "candidate")
    assert extra["publisher"] == rec.get("publisher")


def test_huge_magnitude_is_invalid_alert(decoder: Decoder) -> None:
    """A real alert with one damaged byte in magpsf (about -3.5e29 mag) is refused cleanly."""
    path = ZTF_CASES["ztf-4.01-forced"]
    data = bytearray(raw_bytes(path))
    mag = struct.pack("<f", raw_record(path)["candidate"]["magpsf"])
    assert data.count(mag) == 1
    data[data.index(mag) + 3] = 0xF0  # sign bit and a huge exponent
    record, name = decoder.decode(bytes(data))
    assert record["candidate"]["magpsf"] < -1e29
    with pytest.raises(DeserializeError) as info:
        normalize(record, name)
    assert info.value.reason == "invalid_alert"


# --- Rubin -------------------------------------------------------------------------------


def _rb(src: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` present in a raw Rubin record (fields renamed across versions)."""
    for name in names:
        if name in src:
            return src[name]
    raise KeyError(names)


def _rubin_fluxes(rec: dict[str, Any]) -> list[float]:
    """psfFlux of the current, previous and forced sources of a raw Rubin alert."""
    srcs = [rec["diaSource"], *(rec.get("prvDiaSources") or [])]
    srcs += rec.get("prvDiaForcedSources") or []
    return [_rb(s, "psfFlux", "psFlux") for s in srcs]


def _rubin_params() -> list[Any]:
    """Rubin cases as pytest params."""
    out = []
    for name, path in RUBIN_CASES.items():
        out.append(pytest.param(path, id=name))
    return out


def _rubin_version(name: str) -> str:
    """Rubin schema version of a case id (``lsst-7.4-...`` -> ``lsst-7.4``)."""
    return "-".join(name.split("-")[:2])


@pytest.mark.parametrize("path", _rubin_params())
def test_rubin_identity_position_band(path: Path, decoder: Decoder, request: Any) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    src = rec["diaSource"]
    assert alert["survey"] == "LSST"
    assert alert["survey_schema"] == _rubin_version(request.node.callspec.id)
    assert alert["alert_id"] == (rec["alertId"] if "alertId" in rec else rec["diaSourceId"])
    obj_id = src.get("diaObjectId") or (rec.get("diaObject") or {}).get("diaObjectId")
    assert alert["object_id"] == (str(obj_id) if obj_id else f"ss{src['ssObjectId']}")
    assert alert["ra"] == src["ra"]
    assert alert["dec"] == _rb(src, "dec", "decl")
    assert alert["band"] == _rb(src, "band", "filterName")
    assert alert["band"] in ("u", "g", "r", "i", "z", "y")


@pytest.mark.parametrize("path", _rubin_params())
def test_rubin_time_is_midpoint_tai(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    assert alert["mjd_tai"] == _rb(rec["diaSource"], "midpointMjdTai", "midPointTai")
    first = (rec.get("diaObject") or {}).get("firstDiaSourceMjdTai")
    if first is None:
        dets = [rec["diaSource"], *(rec.get("prvDiaSources") or [])]
        first = min(_rb(s, "midpointMjdTai", "midPointTai") for s in dets)
    assert alert["first_detection_mjd_tai"] == first


@pytest.mark.parametrize("path", _rubin_params())
def test_rubin_flux_is_psf_flux(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    src = rec["diaSource"]
    flux, err = _rb(src, "psfFlux", "psFlux"), _rb(src, "psfFluxErr", "psFluxErr")
    assert alert["flux_njy"] == flux
    assert alert["flux_err_njy"] == err
    assert alert["mag"] == pytest.approx(-2.5 * math.log10(abs(flux)) + 31.4, rel=1e-12)
    assert alert["mag_err"] == pytest.approx(err / abs(flux) / LN10_2P5, rel=1e-12)
    assert alert["is_positive"] is (flux > 0)
    prv = {s["diaSourceId"]: s for s in rec.get("prvDiaSources") or []}
    forced = {s["diaForcedSourceId"]: s for s in rec.get("prvDiaForcedSources") or []}
    for point in alert["history"]:
        raw = (prv if point["kind"] == "detection" else forced)[point["source_id"]]
        assert point["flux_njy"] == _rb(raw, "psfFlux", "psFlux")
        assert point["flux_err_njy"] == _rb(raw, "psfFluxErr", "psFluxErr")


def test_rubin_cases_cover_negative_flux() -> None:
    fluxes = [_rubin_fluxes(raw_record(p))[0] for p in RUBIN_CASES.values()]
    assert any(f < 0 for f in fluxes) and any(f > 0 for f in fluxes)


@pytest.mark.parametrize("path", _rubin_params())
def test_rubin_history(path: Path, decoder: Decoder) -> None:
    """History = prvDiaSources (detections) + prvDiaForcedSources (forced), oldest first."""
    rec, alert = raw_record(path), _normalized(path, decoder)
    prv = rec.get("prvDiaSources") or []
    forced = rec.get("prvDiaForcedSources") or []
    assert len(alert["history"]) == len(prv) + len(forced)
    assert alert["n_detections"] == 1 + len(prv)
    times = [p["mjd_tai"] for p in alert["history"]]
    assert times == sorted(times)
    expected = sorted(
        [
            (
                "detection",
                _rb(s, "midpointMjdTai", "midPointTai"),
                _rb(s, "band", "filterName"),
                s["diaSourceId"],
            )
            for s in prv
        ]
        + [
            (
                "forced",
                _rb(s, "midpointMjdTai", "midPointTai"),
                _rb(s, "band", "filterName"),
                s["diaForcedSourceId"],
            )
            for s in forced
        ]
    )
    actual = sorted((p["kind"], p["mjd_tai"], p["band"], p["source_id"]) for p in alert["history"])
    assert actual == expected


def test_rubin_cases_cover_history() -> None:
    recs = [raw_record(p) for p in RUBIN_CASES.values()]
    assert max(len(r["prvDiaSources"] or []) for r in recs) >= 9
    assert max(len(r["prvDiaForcedSources"] or []) for r in recs) >= 9


@pytest.mark.parametrize("path", _rubin_params())
def test_rubin_scores_cutouts_extra(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    src = rec["diaSource"]
    assert alert["reliability"] == _finite(src.get("reliability"))
    assert alert["extendedness"] == _finite(src.get("extendedness"))
    assert alert["cutout_format"] == "fits"
    for kind in ("science", "template", "difference"):
        assert alert[f"cutout_{kind}"] == rec.get(f"cutout{kind.title()}")
    extra = json.loads(alert["extra_json"])
    _assert_json_matches(extra["diaSource"], src, "diaSource")
    _assert_json_matches(extra["diaObject"], rec.get("diaObject"), "diaObject")
    for key, value in rec.items():
        if not isinstance(value, (dict, list, bytes)):
            _assert_json_matches(extra[key], value, key)


@pytest.mark.parametrize("path", _rubin_params())
def test_rubin_solar_system(path: Path, decoder: Decoder) -> None:
    rec, alert = raw_record(path), _normalized(path, decoder)
    ss_id = rec["diaSource"].get("ssObjectId")
    if rec.get("ssSource"):
        assert ss_id
        assert alert["ss_name"] == str(ss_id)
        assert alert["object_id"] == f"ss{ss_id}"
    elif not ss_id:
        assert alert["ss_name"] is None
        assert alert["ss_distance_arcsec"] is None
    for field in ("ref_distance_arcsec", "ref_mag", "ps1_sgscore", "gaia_mag"):
        assert alert[field] is None


def test_rubin_cases_cover_solar_system() -> None:
    assert any(raw_record(p).get("ssSource") for p in RUBIN_CASES.values())


# --- every real alert normalizes to a valid Faucon alert --------------------------------

NORMALIZABLE = sorted(
    label
    for label in groups()
    if label.split()[0] not in ("ztf-2016-presurvey", "atlas-0.1", "decam-unversioned")
)


def _expected_survey_schema(label: str) -> str | None:
    """survey_schema implied by a data group label (None when the packet has no version)."""
    version = label.split()[0]
    if version == "lsst-wire-704":
        return "lsst-7.4"
    if version == "ztf-unversioned":
        return None
    return version


@pytest.mark.parametrize("label", NORMALIZABLE)
def test_every_alert_normalizes_and_validates(label: str, decoder: Decoder) -> None:
    """Every decodable ZTF/Rubin alert of ../shared/data gives a schema-valid Faucon alert."""
    schema = fastavro.parse_schema(alert_schema())
    expected_version = _expected_survey_schema(label)
    for f in groups()[label]:
        alert = _normalized(f.path, decoder)
        alert["provenance"] = dict(SAMPLE_PROVENANCE)
        assert validate(alert, schema, raise_errors=True), rel(f.path)
        if expected_version:
            assert alert["survey_schema"] == expected_version, rel(f.path)


def test_normalizable_groups_cover_all_alerts() -> None:
    n = sum(len(groups()[label]) for label in NORMALIZABLE)
    assert n >= 1800
