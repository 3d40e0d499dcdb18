"""The store's sky index against brute force, on real sky positions, on DuckDB and PostgreSQL.

Positions are the real sources of the bundled catalogs (GCVS, 4LAC, 3HSP: 65,000
positions over the whole sky, both poles and both sides of RA 0/360 included);
the oracle is astropy's great-circle separation of every position.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from broker.core.config import REPO_ROOT
from broker.portal.db import Database, open_database
from broker.portal.sky import cone_where, separation_deg, unit_vector, zone_of

CATALOGS = REPO_ROOT / "broker" / "catalogs" / "data"
HEIGHT = 0.5
# (ra, dec, radius): both poles, across RA 0/360, around a pole without reaching it, big, small
CENTRES = [
    (0.0, 90.0, 5.0),
    (123.4, -90.0, 7.5),
    (0.0, 12.0, 3.0),
    (359.99, -20.0, 2.0),
    (180.0, 89.5, 1.0),
    (45.0, -88.0, 1.5),
    (0.0, 0.0, 10.0),
    (271.0, 66.5, 0.2),
    (359.5, 86.0, 4.5),
    (0.2, -75.0, 6.0),
]


@pytest.fixture(scope="module")
def positions() -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec of every source of the bundled GCVS, 4LAC and 3HSP catalogs."""
    names = ("gcvs-v1", "fermi_4lac-v1", "blazar_3hsp-v1")
    tables = [pq.read_table(CATALOGS / f"{n}.parquet", columns=["ra", "dec"]) for n in names]
    ra = np.concatenate([t.column("ra").to_numpy() for t in tables]).astype(float) % 360.0
    dec = np.concatenate([t.column("dec").to_numpy() for t in tables]).astype(float)
    return ra, dec


def _load(db: Database, ra: np.ndarray, dec: np.ndarray) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS sky (id BIGINT PRIMARY KEY, ra DOUBLE PRECISION, "
        "dec DOUBLE PRECISION, zone INTEGER, cx DOUBLE PRECISION, cy DOUBLE PRECISION, "
        "cz DOUBLE PRECISION)"
    )
    db.execute("DELETE FROM sky")
    rows = [
        (i, a, d, zone_of(d, HEIGHT), *unit_vector(a, d))
        for i, (a, d) in enumerate(zip(ra.tolist(), dec.tolist(), strict=True))
    ]
    db.insert("sky", ("id", "ra", "dec", "zone", "cx", "cy", "cz"), rows)


def _check(db: Database, ra: np.ndarray, dec: np.ndarray, centres: list[Any]) -> int:
    stars = SkyCoord(ra * u.deg, dec * u.deg)
    checked = 0
    for a, d, r in centres:
        sep = stars.separation(SkyCoord(a * u.deg, d * u.deg)).deg
        sql, params = cone_where(a, d, r, HEIGHT)
        got = {row["id"] for row in db.query(f"SELECT id FROM sky WHERE {sql}", params)}
        inside = set(np.flatnonzero(sep <= r).tolist())
        edge = set(np.flatnonzero(np.abs(sep - r) < 1e-9).tolist())  # float ties: either way
        assert got - edge == inside - edge, (a, d, r, sorted(got ^ inside)[:5])
        checked += len(inside)
    return checked


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_cone_equals_brute_force(
    backend: str, positions: tuple[np.ndarray, np.ndarray], request: pytest.FixtureRequest
) -> None:
    ra, dec = positions
    if backend == "duckdb":
        db = open_database(":memory:")
    else:
        url, password = request.getfixturevalue("postgres")
        db = open_database(url, password)
        ra, dec = ra[::4], dec[::4]  # a quarter of them: same geometry, a faster load
    try:
        _load(db, ra, dec)
        rng = np.random.default_rng(18)
        picked = rng.choice(len(ra), 25, replace=False)
        radii = rng.uniform(0.01, 10.0, 25)
        random_centres = [
            (float(ra[i]), float(dec[i]), float(r)) for i, r in zip(picked, radii, strict=True)
        ]
        found = _check(db, ra, dec, CENTRES + random_centres)
        assert found > 1000  # the cones are not empty
        # poles and RA 0/360 hold real sources, found on both sides
        for a, d, r in CENTRES[:2] + CENTRES[2:4]:
            sql, params = cone_where(a, d, r, HEIGHT)
            assert db.scalar(f"SELECT count(*) FROM sky WHERE {sql}", params) > 0, (a, d, r)
        sql, params = cone_where(0.0, 12.0, 3.0, HEIGHT)
        ras = [row["ra"] for row in db.query(f"SELECT ra FROM sky WHERE {sql}", params)]
        assert min(ras) < 3.1 and max(ras) > 356.9
    finally:
        db.close()


def test_separation_and_zones_at_the_edges() -> None:
    assert separation_deg(0.0, 90.0, 180.0, 89.0) == pytest.approx(1.0, abs=1e-12)
    assert separation_deg(359.999, 0.0, 0.001, 0.0) == pytest.approx(0.002, abs=1e-12)
    assert zone_of(90.0, HEIGHT) == zone_of(89.9, HEIGHT) == 359
    assert zone_of(-90.0, HEIGHT) == 0
    sql, params = cone_where(10.0, 89.0, 2.0, HEIGHT)  # reaches the pole: every RA
    assert params[2:4] == [0.0, 360.0] and sql.count("ra BETWEEN") == 1
