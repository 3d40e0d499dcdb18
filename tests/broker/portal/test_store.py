"""The alert store on real enriched alerts, on embedded DuckDB and on a real PostgreSQL.

Expectations are computed from the alerts as fastavro decodes them (and the
cutouts with astropy), not from the store's code.
"""

from __future__ import annotations

import gzip
import io
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from broker.core.config import load_settings
from broker.core.schema import CUTOUT_FIELDS
from broker.portal.cutouts import cutout_png
from broker.portal.db import open_database
from broker.portal.lightcurve import light_curve
from broker.portal.records import score_items
from broker.portal.store import AlertStore
from tests.broker.portal.conftest import scores_of


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStore]:
    """An empty store on each backend (a new PostgreSQL database per test)."""
    if request.param == "duckdb":
        db = open_database(str(tmp_path / "portal.duckdb"))
    else:
        url, password = request.getfixturevalue("postgres")
        db = open_database(f"{url.rsplit('/', 1)[0]}/t{uuid.uuid4().hex[:8]}", password)
    yield AlertStore(db, load_settings().portal)
    db.close()


def _png_pixels(png: bytes) -> np.ndarray:
    """Pixels of an 8-bit greyscale, unfiltered PNG (what the portal writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (depth, colour) == (8, 0)
    idat, pos = b"", 8
    while pos < len(png):
        (size,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + size]
        pos += 12 + size
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:]


def test_every_alert_is_stored_once_and_comes_back_whole(
    store: AlertStore, enriched: list[dict[str, Any]]
) -> None:
    store.add(enriched)
    store.add(enriched[:10])  # at-least-once: a replayed batch changes nothing
    keys = {(r["survey"], r["alert_id"]) for r in enriched}
    counts = store.counts()
    assert counts["alerts"] == len(keys)
    assert counts["objects"] == len({r["object_id"] for r in enriched})
    assert counts["cutouts"] == len(
        {(r["survey"], r["alert_id"]) for r in enriched if r["cutout_science"]}
    )
    mine = [r for r in enriched if r["object_id"] == "ZTF19abegmle"]
    got = store.object_alerts("ZTF19abegmle")
    assert len(got) == 5
    in_time = sorted(mine, key=lambda r: (r["mjd_tai"], r["alert_id"]))
    assert [a["alert_id"] for a in got] == [r["alert_id"] for r in in_time]
    by_id = {r["alert_id"]: r for r in mine}
    for a in got:
        original = {k: (None if k in CUTOUT_FIELDS else v) for k, v in by_id[a["alert_id"]].items()}
        assert a["record"] == original  # every field, history and scores included
        assert (a["ra"], a["dec"], a["mag"]) == (original["ra"], original["dec"], original["mag"])
    assert store.object_alerts("ZTF00nothing") == []


def test_light_curve_is_every_alerts_photometry_once(enriched: list[dict[str, Any]]) -> None:
    mine = [r for r in enriched if r["object_id"] == "ZTF19abegmle"]
    expected = {("detection", r["band"], round(r["mjd_tai"], 6)) for r in mine}
    expected |= {(h["kind"], h["band"], round(h["mjd_tai"], 6)) for r in mine for h in r["history"]}
    curve = light_curve(mine)
    got = [(p["kind"], p["band"], round(p["mjd_tai"], 6)) for p in curve["points"]]
    assert len(got) == len(set(got)) and set(got) == expected
    assert [p["mjd_tai"] for p in curve["points"]] == sorted(p["mjd_tai"] for p in curve["points"])
    own = {p["alert_id"] for p in curve["points"] if p["alert_id"] is not None}
    assert own == {r["alert_id"] for r in mine}
    other = light_curve([r for r in enriched if r["object_id"] == "ZTF17aaawgox"])
    limits = [p for p in other["points"] if p["kind"] == "upper_limit"]
    assert limits and all(p["limit_mag"] is not None and p["flux_njy"] is None for p in limits)
    forced = light_curve([r for r in enriched if r["survey_schema"] == "ztf-4.01"][:1])
    assert {p["kind"] for p in forced["points"]} >= {"detection", "forced"}


@pytest.mark.filterwarnings("ignore:Found a SIMPLE card")  # Rubin's FITS header, read by astropy
def test_cutouts_come_back_as_bytes_and_as_png(
    store: AlertStore, enriched: list[dict[str, Any]]
) -> None:
    store.add(enriched)
    with_images = [r for r in enriched if r["cutout_science"]]
    assert {r["survey"] for r in with_images} == {"ZTF", "LSST"}
    for rec in with_images:
        for kind in ("science", "template", "difference"):
            fmt, data = store.cutout(rec["survey"], rec["alert_id"], kind)  # type: ignore[misc]
            assert fmt == rec["cutout_format"] and data == rec[f"cutout_{kind}"]
            raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            with fits.open(io.BytesIO(raw)) as hdus:
                image = next(h.data for h in hdus if h.data is not None)
            pixels = _png_pixels(cutout_png(data))
            assert pixels.shape == image.shape
            assert pixels.std() > 5, "an image, not a flat square"
            # a brighter sky pixel is never a darker PNG pixel (first FITS row at the bottom)
            finite = np.isfinite(image)
            order = np.argsort(image[finite], kind="stable")
            assert (np.diff(pixels[::-1][finite][order].astype(int)) >= 0).all()
    plain = next(r for r in enriched if not r["cutout_science"])
    assert store.cutout(plain["survey"], plain["alert_id"], "science") is None


def test_scores_are_read_generically(store: AlertStore, enriched: list[dict[str, Any]]) -> None:
    # A future schema field (issue 16's anomaly score), on a copy of a real alert.
    future = {**enriched[0], "alert_id": enriched[0]["alert_id"] + 1, "anomaly_score": -0.31}
    store.add([*enriched, future])
    keys = {k["key"] for k in store.score_keys()}
    classifiers = {k for r in enriched for k in (r["scores"] or {})}
    assert keys == classifiers | {k for r in enriched for k in scores_of(r)} | {"anomaly_score"}
    assert [s.key for s in score_items(future) if s.key == "anomaly_score"]
    got = store.by_score("anomaly_score", -1.0, 0.0, 10, 0)
    assert [(a["alert_id"], a["score"]) for a in got] == [(future["alert_id"], -0.31)]
    # one best label per model and alert, the highest probability
    for rec in enriched:
        by_model: dict[str, list[Any]] = {}
        for s in score_items(rec):
            if s.key in (rec["scores"] or {}):  # classifiers: anomaly scores have no best label
                by_model.setdefault(s.model, []).append(s)
        for scores in by_model.values():
            probs = [s.probability for s in scores if s.probability is not None]
            tops = [s for s in scores if s.top]
            assert len(tops) == (1 if probs else 0)
            assert not tops or tops[0].probability == max(probs)
    scored = [
        (r, s)
        for r in enriched
        for s in score_items(r)
        if s.probability is not None and s.probability >= 0.5
    ]
    key = scored[0][1].key
    expected = {r["alert_id"] for r, s in scored if s.key == key}
    got_ids = {a["alert_id"] for a in store.by_score(key, 0.5, 1.0, 500, 0)}
    assert got_ids == expected


def test_filter_hits_newest_first(store: AlertStore, enriched: list[dict[str, Any]]) -> None:
    store.add(enriched, [("bright", r, 1000 + i) for i, r in enumerate(enriched[:6])])
    store.add([], [("bright", enriched[0], 1000)])  # repeated hit
    got = store.filter_latest("bright", 4, 0)
    assert [a["alert_id"] for a in got] == [r["alert_id"] for r in enriched[5:1:-1]]
    assert [a["published_ms"] for a in got] == [1005, 1004, 1003, 1002]
    assert [a["alert_id"] for a in store.filter_latest("bright", 10, 0, since_ms=1003)] == [
        enriched[5]["alert_id"],
        enriched[4]["alert_id"],
    ]
    assert store.filter_counts() == {"bright": 6}
