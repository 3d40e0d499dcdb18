"""The sky index of the alert store: declination zones, then an exact unit-vector test.

Every stored alert keeps its ``zone`` (``floor((dec + 90) / height)``) and
the unit vector ``(cx, cy, cz)`` of its position.  A cone search asks the
database for the zones the cone's declination range covers and, in each, an
RA interval wide enough for the cone (two intervals across RA 0/360, every
RA when the cone reaches a pole); those rows are then tested exactly with
``cx*x + cy*y + cz*z >= cos(radius)``, the same test at the poles and on RA
0/360 as anywhere else.  The bounds are conservative (never too narrow), so
the result equals a brute-force scan of every row.

Examples
--------
>>> round(sum(c * c for c in unit_vector(123.4, -56.7)), 12)
1.0
>>> zone_of(-90.0, 0.5), zone_of(90.0, 0.5)
(0, 359)
>>> sql, params = cone_where(0.1, 10.0, 1.0, 0.5)
>>> sql.count("ra BETWEEN")  # RA 359.09..360 and 0..1.11
2
"""

from __future__ import annotations

import math

# Slack added to every bound, degrees: float rounding never drops a row at an edge.
_SLACK_DEG = 1e-9


def unit_vector(ra_deg: float, dec_deg: float) -> tuple[float, float, float]:
    """Cartesian unit vector of an ICRS position given in degrees."""
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    return (math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec))


def zone_of(dec_deg: float, height_deg: float) -> int:
    """Zone number of a declination (zone 0 starts at the south pole; the north pole is kept
    in the last zone)."""
    last = math.ceil(180.0 / height_deg) - 1
    return min(math.floor((dec_deg + 90.0) / height_deg), last)


def ra_half_width(dec_deg: float, radius_deg: float) -> float | None:
    """Largest RA offset of a point of the cone, degrees; None when the cone reaches a pole.

    For a cone of radius r centred at declination d with |d| + r < 90, the
    RA extent is asin(sin r / cos d) on either side (the tangent meridians).
    """
    if abs(dec_deg) + radius_deg >= 90.0 - _SLACK_DEG:
        return None
    ratio = math.sin(math.radians(radius_deg)) / math.cos(math.radians(dec_deg))
    if ratio >= 1.0:
        return None
    return math.degrees(math.asin(ratio)) + _SLACK_DEG


def ra_intervals(ra_deg: float, half_width: float | None) -> list[tuple[float, float]]:
    """RA intervals, inside [0, 360], covering ``ra +- half_width`` (None: all RA).

    Examples
    --------
    >>> ra_intervals(359.5, 1.0)
    [(358.5, 360.0), (0.0, 0.5)]
    """
    if half_width is None or half_width >= 180.0:
        return [(0.0, 360.0)]
    low, high = ra_deg - half_width, ra_deg + half_width
    if low < 0.0:
        return [(low + 360.0, 360.0), (0.0, high)]
    if high > 360.0:
        return [(low, 360.0), (0.0, high - 360.0)]
    return [(low, high)]


def cone_where(
    ra_deg: float,
    dec_deg: float,
    radius_deg: float,
    height_deg: float | None,
    vector: tuple[str, str, str] = ("cx", "cy", "cz"),
) -> tuple[str, list[float | int]]:
    """SQL condition (``?`` placeholders) selecting exactly the rows inside a cone.

    Parameters
    ----------
    ra_deg, dec_deg
        Centre, ICRS degrees (RA in [0, 360), Dec in [-90, 90]).
    radius_deg
        Radius, degrees (0 < radius <= 180).
    height_deg
        Zone height of the store's index, degrees; None where there is no
        ``zone`` column (the archive's files): the ``dec`` range is bounded instead.
    vector
        SQL of each row's unit vector: the store's columns, or expressions of
        ``ra`` and ``dec``.

    Returns
    -------
    sql, params
        Condition over the columns ``zone`` (or ``dec``), ``ra`` and ``vector``.
    """
    low = max(-90.0, dec_deg - radius_deg - _SLACK_DEG)
    high = min(90.0, dec_deg + radius_deg + _SLACK_DEG)
    params: list[float | int] = [low, high]
    band = "dec"
    if height_deg is not None:
        band, params = "zone", [zone_of(low, height_deg), zone_of(high, height_deg)]
    ranges = ra_intervals(ra_deg % 360.0, ra_half_width(dec_deg, radius_deg))
    ra_sql = " OR ".join("ra BETWEEN ? AND ?" for _ in ranges)
    x, y, z = unit_vector(ra_deg, dec_deg)
    # exact test; cos(radius) less a rounding slack so a point on the circle is kept
    cos_r = math.cos(math.radians(radius_deg)) - 1e-15
    cx, cy, cz = vector
    sql = f"{band} BETWEEN ? AND ? AND ({ra_sql}) AND {cx} * ? + {cy} * ? + {cz} * ? >= ?"
    for a, b in ranges:
        params += [a, b]
    params += [x, y, z, cos_r]
    return sql, params


def separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance between two positions, degrees (Vincenty's formula, stable).

    Examples
    --------
    >>> round(separation_deg(359.9, 0.0, 0.1, 0.0), 9)
    0.2
    """
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    dra = r2 - r1
    num = math.hypot(
        math.cos(d2) * math.sin(dra),
        math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(dra),
    )
    den = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(dra)
    return math.degrees(math.atan2(num, den))
