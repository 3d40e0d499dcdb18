"""The cKDTree index gives exactly the brute-force great-circle nearest match."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.catalogs.index import CatalogIndex, catalog_set, separation_arcsec, unit_vectors

RADIUS = 60.0  # arcsec: large, so that most perturbed queries have a match


def offset(ra: np.ndarray, dec: np.ndarray, dist_arcsec: np.ndarray, pa_deg: np.ndarray):
    """Points at exact angular distance and position angle, built with vectors (pole-safe)."""
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    p = unit_vectors(ra, dec)
    east = np.column_stack((-np.sin(ra_r), np.cos(ra_r), np.zeros_like(ra_r)))
    north = np.column_stack(
        (-np.sin(dec_r) * np.cos(ra_r), -np.sin(dec_r) * np.sin(ra_r), np.cos(dec_r))
    )
    d = np.radians(np.asarray(dist_arcsec) / 3600.0)[:, None]
    pa = np.radians(pa_deg)[:, None]
    q = np.cos(d) * p + np.sin(d) * (np.cos(pa) * north + np.sin(pa) * east)
    out_ra = np.mod(np.degrees(np.arctan2(q[:, 1], q[:, 0])), 360.0)
    out_dec = np.degrees(np.arctan2(q[:, 2], np.hypot(q[:, 0], q[:, 1])))
    return out_ra, out_dec


def haversine_arcsec(ra1, dec1, ra2, dec2):
    """Independent great-circle formula for the brute force (broadcasting)."""
    ra1, dec1, ra2, dec2 = (np.radians(a) for a in (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))) * 3600.0


def brute_force(qra, qdec, cra, cdec, radius):
    rows = np.full(len(qra), -1)
    seps = np.full(len(qra), np.nan)
    for start in range(0, len(qra), 1000):
        sl = slice(start, start + 1000)
        sep = haversine_arcsec(qra[sl, None], qdec[sl, None], cra[None, :], cdec[None, :])
        best = np.argmin(sep, axis=1)
        best_sep = sep[np.arange(len(best)), best]
        ok = best_sep <= radius
        rows[sl] = np.where(ok, best, -1)
        seps[sl] = np.where(ok, best_sep, np.nan)
    return rows, seps


def synthetic_catalog(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All-sky sources plus clusters at both poles and across RA 0/360."""
    n_sky, n_pole, n_seam = 2000, 300, 400
    sky_ra = rng.uniform(0, 360, n_sky)
    sky_dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_sky)))
    north_dec = 90 - rng.uniform(0, 0.05, n_pole)
    south_dec = -90 + rng.uniform(0, 0.05, n_pole)
    pole_ra = rng.uniform(0, 360, 2 * n_pole)
    seam_ra = np.mod(rng.uniform(-0.02, 0.02, n_seam), 360.0)
    seam_dec = rng.uniform(-80, 80, n_seam)
    ra = np.concatenate([sky_ra, pole_ra, seam_ra, [0.0, 123.0, 0.0]])
    dec = np.concatenate([sky_dec, north_dec, south_dec, seam_dec, [0.0, 90.0, -90.0]])
    return ra, dec


def test_index_equals_brute_force_on_12000_positions(make_index, make_set) -> None:
    rng = np.random.default_rng(20240601)
    cra, cdec = synthetic_catalog(rng)
    n_random, n_near = 4000, 8000
    qra = rng.uniform(0, 360, n_random)
    qdec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_random)))
    pick = rng.integers(0, len(cra), n_near)
    nra, ndec = offset(
        cra[pick], cdec[pick], rng.uniform(0, 2 * RADIUS, n_near), rng.uniform(0, 360, n_near)
    )
    qra, qdec = np.concatenate([qra, nra]), np.concatenate([qdec, ndec])
    assert len(qra) >= 10_000
    assert (np.abs(qdec) > 89.9).sum() > 500 and (np.minimum(qra, 360 - qra) < 0.05).sum() > 500

    index = make_index(cra, cdec, RADIUS)
    rows, seps = index.nearest(unit_vectors(qra, qdec), qra, qdec)
    want_rows, want_seps = brute_force(qra, qdec, cra, cdec, RADIUS)

    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(seps, want_seps, rtol=0, atol=1e-6, equal_nan=True)
    assert (rows >= 0).sum() > 4000  # the comparison exercised many matches
    # match() returns the same through ids/classes/separations
    out = make_set(index).match(qra, qdec)["synthetic"]
    expect_ids = np.array([None if r < 0 else f"synthetic-{r}" for r in want_rows], dtype=object)
    np.testing.assert_array_equal(out.ids, expect_ids)
    assert all((c is None) == (r < 0) for c, r in zip(out.classes, want_rows, strict=True))


def test_no_match_gives_none_and_nan(make_index, make_set) -> None:
    out = make_set(make_index(np.array([10.0]), np.array([10.0]), 1.0)).match(
        np.array([10.0, 10.1, np.nan, 10.0]), np.array([10.0, 10.0, 10.0, 95.0])
    )["synthetic"]
    assert out.ids.tolist() == ["synthetic-0", None, None, None]
    assert out.classes.tolist() == ["c", None, None, None]
    assert out.sep_arcsec[0] == 0.0 and np.isnan(out.sep_arcsec[1:]).all()


def test_exact_duplicates_resolve_to_first_row(make_index) -> None:
    index = make_index(np.array([5.0, 5.0, 6.0]), np.array([1.0, 1.0, 1.0]), 2.0)
    rows, _ = index.nearest(
        unit_vectors(np.array([5.0]), np.array([1.0])), np.array([5.0]), np.array([1.0])
    )
    assert rows.tolist() == [0]


@pytest.mark.parametrize("name", ["gcvs", "spicy", "fermi_4lac", "blazar_3hsp"])
def test_real_catalog_positions_match_themselves(name: str) -> None:
    index: CatalogIndex = catalog_set().indexes[name]
    rows, seps = index.nearest(unit_vectors(index.ra, index.dec), index.ra, index.dec)
    assert (rows >= 0).all()
    assert (seps == 0.0).all()
    # the row found is the source itself, or the first of its exact duplicates
    assert (index.ra[rows] == index.ra).all() and (index.dec[rows] == index.dec).all()
    assert (rows <= np.arange(len(rows))).all()


ra_st = st.floats(0.0, 360.0, allow_nan=False, exclude_max=True)
dec_st = st.floats(-90.0, 90.0, allow_nan=False)
near_seam_st = st.one_of(st.floats(0.0, 0.01), st.floats(359.99, 360.0, exclude_max=True))
near_pole_st = st.one_of(st.floats(89.99, 90.0), st.floats(-90.0, -89.99))


@settings(max_examples=200, deadline=None, database=None)
@given(
    ra=st.one_of(ra_st, near_seam_st),
    dec=st.one_of(dec_st, near_pole_st),
    dist=st.floats(0.0, 2.0 * 5.0),
    pa=st.floats(0.0, 360.0),
)
def test_match_is_symmetric_and_exact(
    make_index: Callable[..., CatalogIndex], ra: float, dec: float, dist: float, pa: float
) -> None:
    radius = 5.0
    p_ra, p_dec = np.array([ra]), np.array([dec])
    q_ra, q_dec = offset(p_ra, p_dec, np.array([dist]), np.array([pa]))
    _, pq = make_index(q_ra, q_dec, radius).nearest(unit_vectors(p_ra, p_dec), p_ra, p_dec)
    _, qp = make_index(p_ra, p_dec, radius).nearest(unit_vectors(q_ra, q_dec), q_ra, q_dec)
    true_sep = separation_arcsec(p_ra, p_dec, q_ra, q_dec)[0]
    assert abs(true_sep - dist) < 1e-6
    if true_sep <= radius * (1 - 1e-9):
        assert abs(pq[0] - dist) < 1e-6 and abs(qp[0] - dist) < 1e-6
    elif true_sep > radius * (1 + 1e-9):
        assert np.isnan(pq[0]) and np.isnan(qp[0])


@settings(max_examples=100, deadline=None, database=None)
@given(ra=near_seam_st, dec=st.floats(-89.0, 89.0), shift=st.sampled_from([-360.0, 360.0]))
def test_ra_wraps_around(
    make_index: Callable[..., CatalogIndex], ra: float, dec: float, shift: float
) -> None:
    index = make_index(np.array([0.0, 359.9995]), np.array([dec, dec]), 3.0)
    a_ra, a_dec = np.array([ra]), np.array([dec])
    rows_a, sep_a = index.nearest(unit_vectors(a_ra, a_dec), a_ra, a_dec)
    b_ra = a_ra + shift
    rows_b, sep_b = index.nearest(unit_vectors(b_ra, a_dec), b_ra, a_dec)
    assert rows_a.tolist() == rows_b.tolist()
    np.testing.assert_allclose(sep_a, sep_b, atol=1e-6, equal_nan=True)
